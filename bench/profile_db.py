"""Where a load's time goes, without Dagster: `python -m bench.profile_db --orders 100000`.

Runs the package's own pieces in FK order on a fresh database: `stage_in_memory` (parse,
validate, dedupe: polars), staged Parquet write and key-ordered chunk reads, then
`load_chunks` on a connection whose cursor times every statement by kind (COPY
into the target or the stage table, key range probe, held-row anti-join, upsert, ...)
and whose commits are timed. Chunk reads (and CSV encoding, untimed) run in the load's
prefetch thread, overlapping the statements. A second pass loads the same rows again
(the unchanged re-load). Then, on a second fresh database, the first chunk of each entity
is loaded once more with EXPLAIN (ANALYZE, BUFFERS) of the held-row and upsert
statements (a fresh chunk is copied straight into the target: no plan). Writes
bench/PROFILE.md.
"""

import argparse
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection, cursor

from bench import databases
from bench.generate import ENTITY_ORDER, DropSpec, generate
from import_pipeline.core.columns import BATCH
from import_pipeline.core.entities import ENTITIES
from import_pipeline.core.landing import DEFAULT_TENANT
from import_pipeline.core.parse import parse_bytes
from import_pipeline.core.profiles import CANONICAL
from import_pipeline.core.stage_local import stage_in_memory
from import_pipeline.db.loader import load_chunks

REPO = Path(__file__).resolve().parents[1]
EXPLAINED = ("hold_orphans", "upsert")
KINDS = (
    ("WITH checked AS", "hold_orphans (anti-join per chunk)"),
    ("WITH existing AS", "upsert"),
    ("WITH classified AS", "upsert"),
    ("WITH compared AS", "skip known rows (by fingerprint)"),
    ("ROLLBACK TO SAVEPOINT", "rollback to savepoint"),
    ("RELEASE SAVEPOINT", "release savepoint"),
    ("SAVEPOINT", "savepoint"),
    ("pg_advisory_xact_lock", "held-row lock"),
    ("DELETE FROM ingest.held_rows h USING", "drop superseded held rows"),
    ("SELECT count(*), count(", "key range summary (all unchanged?)"),
    ("SELECT count(*) FROM", "count stage rows"),
    ("TRUNCATE", "truncate stage"),
    ("CREATE TEMP TABLE", "create stage"),
    ('SELECT EXISTS (SELECT 1 FROM "commerce"', "key range probe"),
    ("SELECT EXISTS", "any held?"),
)


def kind_of(statement: str) -> str:
    for marker, kind in KINDS:
        if marker in statement:
            return kind
    return " ".join(statement.split())[:40]


class TimedConnection(connection):
    """Collects seconds per statement kind (and per commit) for everything run on it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seconds: dict[str, float] = defaultdict(float)
        self.explain = False
        self.plans: dict[str, str] = {}
        self.cursor_factory = TimedCursor

    def commit(self) -> None:
        started = time.monotonic()
        super().commit()
        self.seconds["commit"] += time.monotonic() - started


class TimedCursor(cursor):
    def execute(self, query, vars=None):  # noqa: A002 - psycopg2's own parameter name
        text = query.as_string(self) if isinstance(query, sql.Composable) else str(query)
        kind = kind_of(text)
        conn: TimedConnection = self.connection
        short = kind.split(" ")[0]
        if conn.explain and short in EXPLAINED and short not in conn.plans:
            super().execute("SAVEPOINT explain")
            super().execute("EXPLAIN (ANALYZE, BUFFERS, SETTINGS) " + text, vars)
            conn.plans[short] = "\n".join(row[0] for row in self.fetchall())
            super().execute("ROLLBACK TO SAVEPOINT explain")
        started = time.monotonic()
        result = super().execute(query, vars)
        conn.seconds[kind] += time.monotonic() - started
        return result

    def copy_expert(self, sql_text, file, size=8192):
        if "probe_" in sql_text:
            into = "probe table (key, version, fingerprint)"
        elif "pg_temp" in sql_text:
            into = "stage table"
        else:
            into = "target (fresh key range)"
        started = time.monotonic()
        try:
            return super().copy_expert(sql_text, file, size)
        finally:
            self.connection.seconds[f"COPY chunk into {into}"] += time.monotonic() - started


def timed_chunks(
    lazy: pl.LazyFrame, total: int, size: int, batch: str, seconds: dict[str, float]
) -> Iterator[pl.DataFrame]:
    """The asset's key-ordered slices of the staged Parquet, timing each read."""
    for offset in range(0, total, size):
        started = time.monotonic()
        chunk = lazy.slice(offset, size).collect().with_columns(pl.lit(batch).alias(BATCH))
        seconds["read staged chunk (polars, prefetch thread)"] += time.monotonic() - started
        yield chunk


def stage_all(drop_files: dict[str, Path], work: Path, seconds: dict[str, float]) -> dict:
    """Parse + validate + dedupe every file as staged_batch does; write staged Parquet."""
    staged = {}
    landed = datetime.now(UTC)
    for entity in ENTITY_ORDER:
        path = drop_files[entity]
        started = time.monotonic()
        data = path.read_bytes()
        seconds["read file bytes"] += time.monotonic() - started
        started = time.monotonic()
        parse_bytes(data, path.name)
        seconds["parse only (polars, measured separately)"] += time.monotonic() - started
        started = time.monotonic()
        with stage_in_memory([(path.name, data)], path.name, landed, CANONICAL) as (_, rows):
            seconds["stage_in_memory: parse+validate+dedupe (polars)"] += time.monotonic() - started
            started = time.monotonic()
            target = work / f"{entity}.parquet"
            rows[entity].write_parquet(target)
            seconds["write staged Parquet"] += time.monotonic() - started
            staged[entity] = (target, rows[entity].height)
    return staged


def load_all(dsn: str, staged: dict, chunk_rows: int, explain: bool) -> TimedConnection:
    conn = psycopg2.connect(dsn, connection_factory=TimedConnection)
    conn.explain = explain
    for entity in ENTITY_ORDER:
        path, total = staged[entity]
        chunks: Iterable[pl.DataFrame] = timed_chunks(
            pl.scan_parquet(path), total, chunk_rows, "profile", conn.seconds
        )
        if explain:
            chunks = list(chunks)[:1]
        started = time.monotonic()
        load_chunks(conn, ENTITIES[entity], chunks, DEFAULT_TENANT)
        conn.seconds[f"= load_entity {entity} (total)"] += time.monotonic() - started
        if explain:
            for short in EXPLAINED:
                if short in conn.plans:
                    conn.plans[f"{entity} {short}"] = conn.plans.pop(short)
    conn.close()
    return conn


def breakdown(title: str, seconds: dict[str, float], wall: float) -> str:
    lines = [f"### {title}: {wall:,.2f} s", "", "| part | seconds | share |", "|---|---:|---:|"]
    for name, value in sorted(seconds.items(), key=lambda item: -item[1]):
        lines.append(f"| {name} | {value:,.2f} | {value / wall:.0%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.profile_db", description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--format", default="csv")
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--work", default=str(REPO / "bench" / "out"))
    parser.add_argument("--output", default=str(REPO / "bench" / "PROFILE.md"))
    args = parser.parse_args(argv)
    work = Path(args.work).resolve()
    spec = DropSpec(orders=args.orders, format=args.format)
    drop = generate(work / "drops" / f"profile-{args.orders}-{args.format}", spec)
    server = databases.server_url(work)
    scratch = work / "profile"
    scratch.mkdir(parents=True, exist_ok=True)
    sections = []

    polars_side: dict[str, float] = defaultdict(float)
    started = time.monotonic()
    staged = stage_all(drop.files, scratch, polars_side)
    sections.append(breakdown("Staging (polars side)", polars_side, time.monotonic() - started))

    dsn = databases.fresh_database(server, "profile")
    plans: dict[str, str] = {}
    try:
        for title in ("Fresh load (empty tables)", "Unchanged re-load (same rows again)"):
            started = time.monotonic()
            conn = load_all(dsn, staged, args.chunk_rows, explain=False)
            sections.append(breakdown(title, conn.seconds, time.monotonic() - started))
    finally:
        databases.drop_database(server, dsn)
    for label in ("fresh", "unchanged"):
        dsn = databases.fresh_database(server, "explain")
        try:
            if label == "unchanged":
                load_all(dsn, staged, args.chunk_rows, explain=False)
            conn = load_all(dsn, staged, args.chunk_rows, explain=True)
            plans.update({f"{label}: {k}": v for k, v in conn.plans.items()})
        finally:
            databases.drop_database(server, dsn)

    text = [
        "# Load profile without Dagster",
        "",
        f"`.venv/bin/python -m bench.profile_db --orders {args.orders} --format {args.format}"
        f" --chunk-rows {args.chunk_rows}`: {drop.total_rows:,} rows, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M UTC}. Statement seconds are client-observed "
        "(round trip included); `= load_entity` lines are totals that contain the rest.",
        "",
        *[s + "\n" for s in sections],
        "## Plans of the first chunk (EXPLAIN ANALYZE, BUFFERS)",
        "",
    ]
    for name, plan in plans.items():
        text += [f"### {name}", "", "```", plan, "```", ""]
    Path(args.output).write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
