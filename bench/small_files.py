"""Small files through the daemon: `python -m bench.small_files [--singles 18] [--burst 200]`.

Starts what `make dev` starts, `dagster dev` on the project's dev instance (runs queue, at
most 4 at once, each in a process of its own; the landing sensor every ~5 s), on a fresh
database and a fresh landing folder, then:

1. latency: drops `--singles` one-row customer files one after another, each after a
   random 0-5 s pause (so at any point of the sensor's cycle), and times each from the
   moment it was written to the moment the ledger says its batch `succeeded` (its rows
   are committed then), split into: seen by a sensor tick, run started, loaded;
2. burst: drops `--burst` one-row files at once and waits until every batch has ended,
   sampling the runs in progress and the memory (PSS) of the Dagster and Postgres
   processes.

One warm-up file is loaded first and not counted: it waits for the code location to load.
`--timeout` bounds every wait, so a broken daemon fails the run instead of hanging it.
Prints the figures and writes them to bench/RESULTS-small.md with the machine, the
versions and the command.
"""

import argparse
import contextlib
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psutil
import psycopg2
from psycopg2.extensions import connection

from bench import databases, report
from import_pipeline.db.connect import connected
from import_pipeline.devserver import PROJECT, dagster_dev_command, instance_home, interruptible
from import_pipeline.files.local import uri_of

TARGET_S = 15.0
"""The issue's bound on a one-row file's landing-to-loaded time (5 s sensor interval)."""

MAX_PAUSE_S = 5.0
POLL_S = 0.2
ENDED = ("succeeded", "failed")
IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


@dataclass
class Landed:
    """One dropped file: when it was written, and the ledger's times for its batch."""

    name: str
    uri: str
    written: float
    status: str = ""
    seen: float | None = None
    started: float | None = None
    finished: float | None = None

    @property
    def latency(self) -> float | None:
        """Seconds from writing to the batch's end; None while it has not ended."""
        return None if self.finished is None else self.finished - self.written


@dataclass
class Burst:
    """What dropping many files at once did."""

    files: list[Landed]
    max_running: int = 0
    max_queued: int = 0
    peak_dagster_mb: float = 0.0
    peak_postgres_mb: float | None = None
    timed_out: bool = False

    @property
    def wall_s(self) -> float:
        """Seconds from the drop to the last batch that ended."""
        return max((f.latency for f in self.files if f.latency is not None), default=0.0)

    @property
    def ended(self) -> int:
        return sum(f.status in ENDED for f in self.files)


class Daemon:
    """`dagster dev` (webserver, daemon, code server, run processes) in a process group of
    its own, on the dev instance under `home`, stopped as a whole on exit."""

    def __init__(self, home: Path, env: dict[str, str], log: Path):
        self.home = instance_home(home)
        self.env, self.log = {**env, "DAGSTER_HOME": str(home)}, log

    def __enter__(self) -> "Daemon":
        command = dagster_dev_command("127.0.0.1", str(_free_port()))
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command,
                cwd=PROJECT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=interruptible,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        """SIGTERM to the whole group (the leader may have died and left the daemon or a
        run process behind), then SIGKILL to whatever of it is left."""
        _signal_group(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=60)
        _signal_group(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"dagster dev exited ({self.process.returncode}); see {self.log}")

    def memory_mb(self) -> float:
        """PSS of the whole process tree (shared pages counted once across it)."""
        return _pss_mb(psutil.Process(self.process.pid))


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _runs(instance: dg.DagsterInstance) -> tuple[int, int]:
    """(runs in progress, runs queued) on the instance `dagster dev` runs."""
    running = instance.get_runs_count(dg.RunsFilter(statuses=IN_PROGRESS))
    queued = instance.get_runs_count(dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]))
    return running, queued


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _pss_mb(root: psutil.Process) -> float:
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        total += getattr(info, "pss", info.rss)
    return total / 2**20


def postmaster(dsn: str) -> psutil.Process | None:
    """The server's postmaster when it runs here with its socket in its data directory
    (the embedded server); None for any other server, whose memory is not ours to see."""
    host = psycopg2.extensions.parse_dsn(dsn).get("host", "")
    pid_file = Path(host) / "postmaster.pid"
    if not host.startswith("/") or not pid_file.is_file():
        return None
    return psutil.Process(int(pid_file.read_text().split()[0]))


def drop_file(landing: Path, name: str, customer_id: str) -> Landed:
    """A one-row customers file, written in one go as a partner would."""
    row = f"{customer_id},{customer_id.lower()}@example.com,2024-01-01"
    (landing / name).write_text(f"customer_id,email,updated_at\n{row}\n")
    return Landed(name=name, uri=uri_of(landing, name), written=time.time())


def refresh(conn: connection, files: list[Landed]) -> None:
    """Fill in each file's status and ledger times (epoch seconds, the database's clock)."""
    by_uri = {f.uri: f for f in files}
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT uri, status, extract(epoch FROM registered_at),"
            " extract(epoch FROM started_at), extract(epoch FROM finished_at)"
            " FROM ingest.files WHERE uri = ANY(%s)",
            (list(by_uri),),
        )
        for uri, status, seen, started, finished in cur.fetchall():
            landed = by_uri[uri]
            landed.status = status
            landed.seen, landed.started = _float(seen), _float(started)
            landed.finished = _float(finished) if status in ENDED else None


def _float(value: object) -> float | None:
    return None if value is None else float(value)


def wait_ended(conn: connection, daemon: Daemon, landed: Landed, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while landed.status not in ENDED:
        daemon.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{landed.name} did not end within {timeout:.0f} s")
        time.sleep(POLL_S)
        refresh(conn, [landed])


def burst(
    conn: connection,
    landing: Path,
    daemon: Daemon,
    count: int,
    timeout: float,
    postgres: psutil.Process | None,
) -> Burst:
    """Drop `count` files at once; sample runs and memory until every batch has ended."""
    files = [drop_file(landing, f"customers_burst{i:04}.csv", f"B{i:04}") for i in range(count)]
    result = Burst(files=files)
    started = time.monotonic()
    with dg.DagsterInstance.from_config(str(daemon.home)) as instance:
        while result.ended < count:
            if time.monotonic() - started > timeout:
                result.timed_out = True
                break
            time.sleep(1.0)
            daemon.check_alive()
            refresh(conn, files)
            running, queued = _runs(instance)
            result.max_running = max(result.max_running, running)
            result.max_queued = max(result.max_queued, queued)
            result.peak_dagster_mb = max(result.peak_dagster_mb, daemon.memory_mb())
            if postgres is not None:
                result.peak_postgres_mb = max(result.peak_postgres_mb or 0.0, _pss_mb(postgres))
    return result


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.small_files", description=__doc__.splitlines()[0])
    parser.add_argument("--singles", type=int, default=18, help="one-row files, one at a time")
    parser.add_argument("--burst", type=int, default=200, help="one-row files dropped at once")
    parser.add_argument("--seed", type=int, default=7, help="seeds the pauses between singles")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds for any wait")
    parser.add_argument("--work", default=str(PROJECT / "bench" / "out"), help="pgdata, scratch")
    parser.add_argument("--results", default=str(PROJECT / "bench" / "RESULTS-small.md"))
    return parser.parse_args(argv)


@dataclass
class SmallFiles:
    """Everything a run measured: the singles' latencies and the burst."""

    singles: list[Landed]
    burst: Burst
    loaded: int


def run_small_files(argv: list[str]) -> SmallFiles:
    args = parse(argv)
    work = Path(args.work).resolve()
    scratch = work / "small-files"
    shutil.rmtree(scratch, ignore_errors=True)
    landing = scratch / "landing"
    landing.mkdir(parents=True)
    server = databases.server_url(work)
    dsn = databases.fresh_database(server, "small")
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "IMPORT_LANDING_URL": str(landing),
        "IMPORT_STAGING_URL": str(scratch / "staging"),
    }
    pauses = random.Random(args.seed)
    try:
        with (
            Daemon(scratch / "dagster_home", env, scratch / "dagster.log") as daemon,
            connected(dsn, "bench.small_files") as conn,
        ):
            warm_up = drop_file(landing, "customers_warmup.csv", "W0")
            wait_ended(conn, daemon, warm_up, args.timeout)
            print(f"warm-up file {warm_up.status} {warm_up.latency:.1f} s after landing")
            singles = []
            for i in range(args.singles):
                time.sleep(pauses.uniform(0, MAX_PAUSE_S))
                landed = drop_file(landing, f"customers_single{i:03}.csv", f"S{i:03}")
                wait_ended(conn, daemon, landed, args.timeout)
                singles.append(landed)
                print(f"{landed.name}: {landed.status} {landed.latency:.1f} s after landing")
            many = burst(conn, landing, daemon, args.burst, args.timeout, postmaster(dsn))
            print(f"burst of {args.burst}: {many.ended} ended, the last {many.wall_s:.0f} s in")
        loaded = databases.table_counts(dsn)["customers"]
    finally:
        databases.drop_database(server, dsn)
    result = SmallFiles(singles=singles, burst=many, loaded=loaded)
    text = markdown(result, argv, databases.server_version(server))
    Path(args.results).write_text(text)
    print(text)
    return result


def markdown(result: SmallFiles, argv: list[str], server_version: str) -> str:
    singles, many = result.singles, result.burst
    succeeded = [f.latency for f in singles if f.status == "succeeded"]
    within = sum(latency <= TARGET_S for latency in succeeded)
    failed = sum(f.status != "succeeded" for f in [*singles, *many.files])
    postgres = (
        f"{many.peak_postgres_mb:,.0f} MB"
        if many.peak_postgres_mb is not None
        else "not measured (not a server of this machine's)"
    )
    return f"""# Small files: results

{report.produced_by(argv, "bench.small_files")}

Source measured: {report.source()}. `dagster dev` on the dev instance (dev/dagster.yaml:
queued runs, at most 4 at once, each in a process of its own), the landing sensor every
~5 s, a local landing folder, the embedded Postgres unless DATABASE_URL is set.

## One-row files, one at a time

{len(singles)} files, each after a random 0-{MAX_PAUSE_S:g} s pause, timed from the moment it
was written (the benchmark's clock) to its batch's `succeeded` in the ledger (the
database's clock, on the same machine): **{within} of {len(singles)} loaded within
{TARGET_S:g} s**; {_spread(succeeded)}.

| file | seen by a tick s | run started s | loaded s | status |
|---|---:|---:|---:|---|
{_single_rows(singles)}

## {len(many.files)} one-row files dropped at once

- {_burst_end(many)};
- batches not succeeded: {failed} (singles and burst); customer rows loaded: {result.loaded:,}
  of {len(singles) + len(many.files) + 1:,} (the warm-up file's included);
- runs in progress at most {many.max_running}, queued at most {many.max_queued};
- peak memory (PSS) of the Dagster processes {many.peak_dagster_mb:,.0f} MB, of the
  Postgres processes {postgres}.

{report.machine_and_versions(server_version)}"""


def _spread(latencies: list[float]) -> str:
    if not latencies:
        return "none loaded"
    return (
        f"min {min(latencies):.1f} s, median {statistics.median(latencies):.1f} s, "
        f"max {max(latencies):.1f} s"
    )


def _single_rows(singles: list[Landed]) -> str:
    def since(moment: float | None, landed: Landed) -> str:
        return "-" if moment is None else f"{moment - landed.written:.1f}"

    return "\n".join(
        f"| {f.name} | {since(f.seen, f)} | {since(f.started, f)} | {since(f.finished, f)} "
        f"| {f.status} |"
        for f in singles
    )


def _burst_end(many: Burst) -> str:
    count = len(many.files)
    if many.timed_out:
        return f"TIMED OUT: {many.ended} of {count} batches ended, the last {many.wall_s:,.0f} s in"
    return (
        f"every batch ended {many.wall_s:,.0f} s after the drop "
        f"(one batch every {many.wall_s / max(count, 1):.1f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    run_small_files(sys.argv[1:] if argv is None else argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
