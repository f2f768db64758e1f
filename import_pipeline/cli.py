"""`import-pipeline`: the pipeline's checks and drop for people outside the Dagster UI.

- `validate FILE [--profile P]`: parse, map, validate and dedupe without writing anything;
  print the report; exit 1 when the file would fail (a named error, or too many rejects).
- `profile-check PROFILE FILE`: what a profile makes of a file (mapped rows per entity,
  rows skipped, lookup misses), before any rule and without a database.
- `template ENTITY [--format csv|xlsx]`: write a CSV (or a workbook) with the entity's
  canonical headers and one example row.
- `drop FILE`: copy the file into the landing zone (`IMPORT_LANDING_URL`: a folder, or an
  `s3://bucket/prefix` it is uploaded to with dagster-aws's S3 client).
- `rejects PARTITION [-o FILE]`: a loaded batch's rejects (and keys in conflict) from
  Postgres, as the same spreadsheet-safe CSV a run writes.
- `db-url`: the URL of the database (DATABASE_URL, or `make dev`'s embedded server).
- `rerun URI`: run a landed batch again by its URI, in this process, on the instance of
  DAGSTER_HOME (also a batch whose partition retention deleted).
"""

import argparse
import csv
import os
import sys
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import xlsxwriter

from import_pipeline.core.entities import ENTITIES
from import_pipeline.core.errors import ImportFileError
from import_pipeline.core.profile_check import profile_check
from import_pipeline.core.profiles import (
    PROFILES_ENV,
    load_profile,
    profile_from_file,
    profiles_dir,
    resolve_profile,
)
from import_pipeline.core.reject_rate import check_reject_rate
from import_pipeline.core.rejects import rejects_csv, write_safe_csv
from import_pipeline.core.stage import DEFAULT_MAX_REJECT_RATE, LandedFile
from import_pipeline.core.stage_local import stage_files
from import_pipeline.core.text_report import text_report
from import_pipeline.db import report
from import_pipeline.db.connect import connected
from import_pipeline.files import s3
from import_pipeline.files.store import UnsupportedLocation, open_store

LANDING_ENV = "IMPORT_LANDING_URL"
DATABASE_ENV = "DATABASE_URL"
NO_DATABASE = f"set {DATABASE_ENV}, pass --database-url, or start `make dev` (or `make psql`)"
TOO_MANY_REJECTS_FIX = (
    "Fix the rows listed above, or raise the threshold (--max-reject-rate, or the "
    "profile's max_reject_rate)."
)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.command(args)
    except ImportFileError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except BrokenPipeError:
        # The reader went away (`| head`): what it did not read is not an error; point
        # stdout at nothing so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def validate_command(args: argparse.Namespace) -> int:
    """Stage the file exactly as a run would (in a temp folder), print the report, judge it."""
    path = Path(args.file)
    if not path.is_file():
        sys.stderr.write(f"error: {path} is not a file\n")
        return 2
    directory = Path(args.profiles_dir) if args.profiles_dir else None
    if args.profile:
        known = sorted(p.stem for p in (directory or profiles_dir()).glob("*.yaml"))
        if args.profile != "canonical" and args.profile not in known:
            sys.stderr.write(
                f"error: no source profile named {args.profile!r} in "
                f"{directory or profiles_dir()} (there: {', '.join(known) or 'none'})\n"
            )
            return 2
        profile = load_profile(args.profile, directory)
    else:
        profile = resolve_profile(path.name, directory)
    files = [LandedFile(path.name, path)]
    threshold = profile.reject_threshold(args.max_reject_rate)
    with stage_files(files, path.name, datetime.now(UTC), profile) as (staged, rows):
        sys.stdout.write(text_report(staged, rows["products"], profile.name, threshold))
        sys.stdout.flush()
    check_reject_rate(staged, threshold, TOO_MANY_REJECTS_FIX)
    sys.stdout.write("ok: the file would load\n")
    return 0


def profile_check_command(args: argparse.Namespace) -> int:
    """Map one file by a profile (a name, or a .yaml path) and print what came out."""
    path = Path(args.file)
    tables = {Path(t).name: Path(t) for t in args.batch_file or []}
    missing = [p for p in [path, *tables.values()] if not p.is_file()]
    if missing:
        sys.stderr.write(f"error: {missing[0]} is not a file\n")
        return 2
    directory = Path(args.profiles_dir) if args.profiles_dir else None
    given = Path(args.profile)
    if given.suffix in (".yaml", ".yml"):
        if not given.is_file():
            sys.stderr.write(f"error: {given} is not a file\n")
            return 2
        profile = profile_from_file(given)
    else:
        profile = load_profile(args.profile, directory)
    with tempfile.TemporaryDirectory(prefix="profile-check-") as work:
        report = profile_check(profile, path, path.name, tables, Path(work), args.rows)
    sys.stdout.write(report)
    return 0


def template_command(args: argparse.Namespace) -> int:
    """A CSV or workbook a partner can fill in: canonical headers and one example row."""
    spec = ENTITIES[args.entity]
    fields = [f.name for f in spec.fields if not f.derived]
    example = [spec.example.get(name, "") for name in fields]
    target = Path(args.output or f"{spec.name}_template.{args.format}")
    target.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "xlsx":
        _write_template_workbook(target, spec.name, fields, example)
    else:
        with target.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(fields)
            writer.writerow(example)
    sys.stdout.write(f"wrote {target}\n")
    return 0


def _write_template_workbook(target: Path, sheet: str, fields: list[str], example: list[str]):
    """One sheet named after the entity; every cell is text, so Excel keeps an ID such as
    `00123` and a timestamp as written instead of turning them into numbers or dates."""
    book = xlsxwriter.Workbook(str(target))
    text = book.add_format({"num_format": "@"})
    header = book.add_format({"bold": True, "num_format": "@"})
    worksheet = book.add_worksheet(sheet)
    worksheet.write_row(0, 0, fields, header)
    for column, value in enumerate(example):
        worksheet.write_string(1, column, value, text)
    worksheet.set_column(0, len(fields) - 1, 22, text)
    worksheet.freeze_panes(1, 0)
    book.close()


def drop_command(args: argparse.Namespace) -> int:
    """Put a file into the landing zone under its own name (or `--name`)."""
    source = Path(args.file)
    landing = args.landing or os.environ.get(LANDING_ENV)
    if not landing:
        sys.stderr.write(f"error: set {LANDING_ENV} or pass --landing\n")
        return 2
    try:
        store = open_store(LANDING_ENV, landing, lambda: s3.client({}), dict)
    except UnsupportedLocation as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    target = store.put_file(source, args.name or source.name)
    sys.stdout.write(f"dropped {source} -> {target}\n")
    return 0


def rejects_command(args: argparse.Namespace) -> int:
    """A batch's rejects (and keys in conflict) from Postgres, as the run's CSVs: to
    `-o FILE` (duplicates beside it as `<stem>_duplicates.csv`), else rejects to stdout."""
    from import_pipeline.devserver import running_url

    url = args.database_url or running_url()
    if not url:
        sys.stderr.write(f"error: {NO_DATABASE}\n")
        return 2
    with connected(url) as conn:
        if not report.known(conn, args.partition):
            sys.stderr.write(f"error: no batch {args.partition!r} in the ledger (ingest.files)\n")
            return 2
        out = Path(args.output) if args.output else None
        rows = _write_rejects(report.rejects(conn, args.partition), out)
        parts = list(report.duplicates(conn, args.partition))
        duplicates = pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()
    sys.stderr.write(f"{rows} rejects of {args.partition}\n")
    if duplicates.height and out is not None:
        target = out.with_name(f"{out.stem}_duplicates.csv")
        write_safe_csv(duplicates.lazy(), target)
        sys.stderr.write(f"{duplicates.height} versions of keys in conflict -> {target}\n")
    elif duplicates.height:
        sys.stderr.write(f"{duplicates.height} versions of keys in conflict: pass -o FILE\n")
    return 0


def _write_rejects(parts: Iterable[pl.DataFrame], out: Path | None) -> int:
    """Stream the parts as one CSV (a header once) to `out` or stdout; the rows written."""
    rows = 0
    target = out.open("wb") if out else sys.stdout.buffer
    try:
        for part in parts:
            target.write(rejects_csv(part, header=rows == 0))
            rows += part.height
    finally:
        if out:
            target.close()
    return rows


def db_url_command(_: argparse.Namespace) -> int:
    """Print the database URL: DATABASE_URL, else `make dev`'s embedded server's."""
    from import_pipeline.devserver import running_url

    url = running_url()
    if url is None:
        sys.stderr.write("error: set DATABASE_URL, or start `make dev` (or `make psql`) first\n")
        return 2
    sys.stdout.write(f"{url}\n")
    return 0


def rerun_command(args: argparse.Namespace) -> int:
    """Run the latest batch of a URI again (see import_pipeline/rerun.py)."""
    import dagster as dg

    from import_pipeline.definitions import defs
    from import_pipeline.rerun import UnknownBatch, rerun

    url = os.environ.get(DATABASE_ENV)
    if not url:
        sys.stderr.write(f"error: set {DATABASE_ENV} (and the landing and staging URLs)\n")
        return 2
    try:
        result = rerun(args.uri, url, dg.DagsterInstance.get(), defs())
    except UnknownBatch as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    sys.stderr.write(f"run {result.run_id}: {'succeeded' if result.success else 'failed'}\n")
    return 0 if result.success else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="import-pipeline", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True)

    validate = commands.add_parser("validate", help="check a file without loading it")
    validate.add_argument("file")
    validate.add_argument("--profile", help="profile name (default: chosen by the file name)")
    validate.add_argument("--profiles-dir", help=f"profiles directory (default: ${PROFILES_ENV})")
    validate.add_argument("--max-reject-rate", type=float, default=DEFAULT_MAX_REJECT_RATE)
    validate.set_defaults(command=validate_command)

    check = commands.add_parser(
        "profile-check", help="show what a profile maps a file to (no rules, no database)"
    )
    check.add_argument("profile", help="a profile's name, or the path of its .yaml")
    check.add_argument("file")
    check.add_argument("--rows", type=int, default=5, help="rows shown per entity (5)")
    check.add_argument(
        "--batch-file",
        action="append",
        help="another file of the same batch, for lookups with batch_file (repeatable)",
    )
    check.add_argument("--profiles-dir", help=f"profiles directory (default: ${PROFILES_ENV})")
    check.set_defaults(command=profile_check_command)

    template = commands.add_parser("template", help="write a CSV or xlsx template for an entity")
    template.add_argument("entity", choices=list(ENTITIES))
    template.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    template.add_argument("--output", help="path (default: <entity>_template.<format>)")
    template.set_defaults(command=template_command)

    drop = commands.add_parser("drop", help="copy or upload a file into the landing zone")
    drop.add_argument("file")
    drop.add_argument("--landing", help=f"landing folder or s3:// URL (default: ${LANDING_ENV})")
    drop.add_argument("--name", help="name in the landing zone (default: the file's name)")
    drop.set_defaults(command=drop_command)

    rejects = commands.add_parser("rejects", help="export a batch's rejects from Postgres")
    rejects.add_argument("partition", help="the batch's partition key (ingest.files)")
    rejects.add_argument("-o", "--output", help="CSV file (default: stdout)")
    rejects.add_argument(
        "--database-url", help=f"default: ${DATABASE_ENV}, else `make dev`'s running server"
    )
    rejects.set_defaults(command=rejects_command)

    db_url = commands.add_parser("db-url", help="print the database URL")
    db_url.set_defaults(command=db_url_command)

    again = commands.add_parser("rerun", help="run a landed batch again by its URI")
    again.add_argument("uri", help="the batch's URI (ingest.files.uri)")
    again.set_defaults(command=rerun_command)
    return parser


if __name__ == "__main__":
    sys.exit(main())
