"""Small files through the daemon: `python -m bench.small_files [--singles 18] [--bursts 200,1000]`.

Starts what `make dev` starts, `dagster dev` on the project's dev instance (runs queue, at
most 4 at once, each in a process of its own; the landing sensor every ~5 s), on a fresh
database and a fresh landing folder, once per mode:

- `grouped`: today's sensor, which gives a tick's settled files of one tenant and profile
  runs of up to `max_files_per_run` (100) files each, a partition range per run;
- `per-file`: the same code with `IMPORT_MAX_FILES_PER_RUN=1`, one run per file (as before
  issue 21), for comparison;

and in each:

1. latency: drops `--singles` one-row customer files one after another, each after a
   random 0-5 s pause (so at any point of the sensor's cycle), and times each from the
   moment it was written to the moment the ledger says its batch `succeeded` (its rows
   are committed then), split into: seen by a sensor tick, run started, loaded;
2. bursts: drops each of `--bursts` (`--per-file-bursts` in the per-file mode) one-row
   files at once and waits until every batch has ended, sampling the runs in progress and
   the memory (PSS) of the Dagster and Postgres processes;
3. run start: from the instance's events of every run, what a run process costs before
   its first step (launched -> run started: the process, its imports, the code location;
   run started -> first step: resources, the batch lock).

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
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import psutil
import psycopg2
from psycopg2.extensions import connection

from bench import databases
from bench.small_report import Burst, Landed, ModeResult, RunStart, SmallFiles, markdown
from import_pipeline.db.connect import connected
from import_pipeline.devserver import (
    PLANNED_EVENTS_PER_RUN,
    PROJECT,
    dagster_dev_command,
    instance_home,
    interruptible,
)
from import_pipeline.files.local import uri_of

MAX_PAUSE_S = 5.0
POLL_S = 0.2
ENDED = ("succeeded", "failed")
IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


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
    tag = f"b{count}"
    files = [
        drop_file(landing, f"customers_{tag}_{i:05}.csv", f"{tag.upper()}{i:05}")
        for i in range(count)
    ]
    result = Burst(files=files)
    started = time.monotonic()
    since = datetime.now(UTC)
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
        result.runs = instance.get_runs_count(dg.RunsFilter(created_after=since))
        result.failed_runs = instance.get_runs_count(
            dg.RunsFilter(created_after=since, statuses=[dg.DagsterRunStatus.FAILURE])
        )
    return result


def run_starts(home: Path) -> list[RunStart]:
    """Every run's start, from the instance's events: launched -> started -> first step."""
    wanted = {
        dg.DagsterEventType.RUN_STARTING,
        dg.DagsterEventType.RUN_START,
        dg.DagsterEventType.STEP_START,
    }
    starts = []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs():
            moments: dict[dg.DagsterEventType, float] = {}
            for record in instance.get_records_for_run(run.run_id, of_type=wanted).records:
                kind = record.event_log_entry.dagster_event_type
                moments.setdefault(kind, record.event_log_entry.timestamp)
            if len(moments) == len(wanted):
                starts.append(
                    RunStart(
                        process_s=moments[dg.DagsterEventType.RUN_START]
                        - moments[dg.DagsterEventType.RUN_STARTING],
                        to_first_step_s=moments[dg.DagsterEventType.STEP_START]
                        - moments[dg.DagsterEventType.RUN_START],
                    )
                )
    return starts


MODES = {"grouped": {}, "per-file": {"IMPORT_MAX_FILES_PER_RUN": "1"}}
"""The sensor's modes: a run per tenant-and-profile group of a tick, or a run per file."""


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.small_files", description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="grouped,per-file", help="comma list: grouped,per-file")
    parser.add_argument("--singles", type=int, default=18, help="one-row files, one at a time")
    parser.add_argument("--bursts", default="200,1000", help="files dropped at once, grouped")
    parser.add_argument("--per-file-bursts", default="200", help="the same, one run per file")
    parser.add_argument("--seed", type=int, default=7, help="seeds the pauses between singles")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds for any wait")
    parser.add_argument("--work", default=str(PROJECT / "bench" / "out"), help="pgdata, scratch")
    parser.add_argument("--results", default=str(PROJECT / "bench" / "RESULTS-small.md"))
    return parser.parse_args(argv)


def _sizes(text: str) -> list[int]:
    return [int(n) for n in text.split(",") if n.strip()]


def run_mode(mode: str, args: argparse.Namespace, server: str) -> ModeResult:
    """One mode on a fresh database, landing folder and `dagster dev`."""
    scratch = Path(args.work).resolve() / "small-files" / mode
    shutil.rmtree(scratch, ignore_errors=True)
    landing = scratch / "landing"
    landing.mkdir(parents=True)
    dsn = databases.fresh_database(server, "small")
    env = {
        **PLANNED_EVENTS_PER_RUN,
        **os.environ,
        **MODES[mode],
        "DATABASE_URL": dsn,
        "IMPORT_LANDING_URL": str(landing),
        "IMPORT_STAGING_URL": str(scratch / "staging"),
    }
    pauses = random.Random(args.seed)
    sizes = _sizes(args.bursts if mode == "grouped" else args.per_file_bursts)
    result = ModeResult(mode=mode)
    try:
        with (
            Daemon(scratch / "dagster_home", env, scratch / "dagster.log") as daemon,
            connected(dsn, "bench.small_files") as conn,
        ):
            warm_up = drop_file(landing, "customers_warmup.csv", "W0")
            wait_ended(conn, daemon, warm_up, args.timeout)
            print(f"{mode}: warm-up file {warm_up.status} {warm_up.latency:.1f} s after landing")
            for i in range(args.singles):
                time.sleep(pauses.uniform(0, MAX_PAUSE_S))
                landed = drop_file(landing, f"customers_single{i:03}.csv", f"S{i:03}")
                wait_ended(conn, daemon, landed, args.timeout)
                result.singles.append(landed)
                print(f"{mode}: {landed.name} {landed.status} {landed.latency:.1f} s after landing")
            for size in sizes:
                many = burst(conn, landing, daemon, size, args.timeout, postmaster(dsn))
                result.bursts.append(many)
                print(f"{mode}: burst of {size}: {many.ended} ended in {many.wall_s:.0f} s")
            result.starts = run_starts(daemon.home)
        result.loaded = databases.table_counts(dsn)["customers"]
    finally:
        databases.drop_database(server, dsn)
    return result


def run_small_files(argv: list[str]) -> SmallFiles:
    args = parse(argv)
    server = databases.server_url(Path(args.work).resolve())
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    result = SmallFiles(modes=[run_mode(mode, args, server) for mode in modes])
    text = markdown(result, argv, databases.server_version(server))
    Path(args.results).write_text(text)
    print(text)
    return result


def main(argv: list[str] | None = None) -> int:
    run_small_files(sys.argv[1:] if argv is None else argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
