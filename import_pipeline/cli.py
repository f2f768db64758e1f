"""`import-pipeline`: the pipeline's checks and drop for people outside the Dagster UI.

- `validate FILE [--profile P]`: parse, map, validate and dedupe without writing anything;
  print the report; exit 1 when the file would fail (a named error, or too many rejects).
- `template ENTITY`: write a CSV with the entity's canonical headers and one example row.
- `drop FILE`: copy the file into the landing zone (`IMPORT_LANDING_URL`: a folder, or an
  `s3://bucket/prefix` it is uploaded to with dagster-aws's S3 client).
"""

import argparse
import csv
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from import_pipeline.core.entities import ENTITIES
from import_pipeline.core.errors import ImportFileError
from import_pipeline.core.parse import ROW
from import_pipeline.core.profiles import PROFILES_ENV, load_profile, resolve_profile
from import_pipeline.core.stage import (
    DEFAULT_MAX_REJECT_RATE,
    LandedFile,
    StagedBatch,
    check_reject_rate,
    stage_files,
)
from import_pipeline.core.validate import ERRORS
from import_pipeline.files import s3
from import_pipeline.files.store import UnsupportedLocation, open_store

FIRST_REJECTS = 10
LANDING_ENV = "IMPORT_LANDING_URL"

EXAMPLES: dict[str, dict[str, str]] = {
    "customers": {
        "customer_id": "C-1001",
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "+44 20 7946 0000",
        "country": "GB",
        "created_at": "2024-05-01T09:00:00Z",
        "updated_at": "2024-05-01T09:00:00Z",
    },
    "products": {
        "product_id": "P-2001",
        "sku": "TEA-EARL-100G",
        "name": "Earl Grey tea, 100 g",
        "category": "tea",
        "price": "4.50",
        "currency": "GBP",
        "updated_at": "2024-05-01T09:00:00Z",
    },
    "orders": {
        "order_id": "O-3001",
        "customer_id": "C-1001",
        "status": "paid",
        "currency": "GBP",
        "total": "9.00",
        "ordered_at": "2024-05-02T10:30:00Z",
        "updated_at": "2024-05-02T10:30:00Z",
    },
    "line_items": {
        "line_item_id": "O-3001-1",
        "order_id": "O-3001",
        "product_id": "P-2001",
        "quantity": "2",
        "unit_price": "4.50",
        "line_total": "9.00",
        "updated_at": "2024-05-02T10:30:00Z",
    },
}
"""One valid example row per entity, in canonical field names."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.command(args)
    except ImportFileError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1


def validate_command(args: argparse.Namespace) -> int:
    """Stage the file exactly as a run would (in a temp folder), print the report, judge it."""
    path = Path(args.file)
    if not path.is_file():
        sys.stderr.write(f"error: {path} is not a file\n")
        return 2
    directory = Path(args.profiles_dir) if args.profiles_dir else None
    if args.profile:
        profile = load_profile(args.profile, directory)
    else:
        profile = resolve_profile(path.name, directory)
    files = [LandedFile(path.name, path)]
    threshold = profile.reject_threshold(args.max_reject_rate)
    with stage_files(files, path.name, datetime.now(UTC), profile) as (staged, rows):
        sys.stdout.write(report(staged, rows["products"], profile.name, threshold))
    check_reject_rate(staged, threshold)
    sys.stdout.write("ok: the file would load\n")
    return 0


def report(staged: StagedBatch, products: pl.DataFrame, profile: str, threshold: float) -> str:
    """The run's numbers as plain text: per entity, rejects by rule, the first rejects."""
    lines = [
        f"file: {staged.file_name}",
        f"profile: {profile}",
        f"rows read: {staged.rows_read}",
        f"rejected: {staged.rejected} ({staged.reject_rate:.2%}; fails above {threshold:.2%})",
        "",
        f"{'entity':<12}{'rows':>8}{'valid':>8}{'rejected':>10}{'duplicates':>12}{'staged':>8}",
    ]
    for name, part in staged.entities.items():
        r = part.report
        lines.append(
            f"{name:<12}{r.rows_read:>8}{r.valid:>8}{r.rejected:>10}{r.duplicates:>12}"
            f"{part.rows:>8}"
        )
    shared = _shared_skus(products)
    if shared:
        lines.append(f"\nproducts sharing a SKU: {shared} (the database will reject them)")
    by_rule = staged.rejects_by_rule()
    if by_rule:
        lines += ["", "rejects by rule:", *[f"  {rule}: {n}" for rule, n in by_rule.items()]]
        lines += ["", f"first rejects (of {staged.rejected}):"]
        first = staged.rejects().head(FIRST_REJECTS).collect()
        lines += [_reject_line(row) for row in first.to_dicts()]
    return "\n".join(lines) + "\n"


def _reject_line(row: dict) -> str:
    values = ", ".join(
        f"{k}={v!r}" for k, v in row.items() if k not in (ROW, ERRORS) and v is not None
    )
    return f"  row {row[ROW]}: {'; '.join(row[ERRORS])}: {values[:200]}"


def _shared_skus(products: pl.DataFrame) -> int:
    rows = products.filter(pl.col("sku").is_not_null())
    return rows.height - rows["sku"].n_unique()


def template_command(args: argparse.Namespace) -> int:
    """A CSV a partner can fill in: canonical headers and one example row."""
    spec = ENTITIES[args.entity]
    fields = [f.name for f in spec.fields if not f.derived]
    target = Path(args.output or f"{spec.name}_template.csv")
    with target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(fields)
        writer.writerow([EXAMPLES[spec.name].get(name, "") for name in fields])
    sys.stdout.write(f"wrote {target}\n")
    return 0


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="import-pipeline", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True)

    validate = commands.add_parser("validate", help="check a file without loading it")
    validate.add_argument("file")
    validate.add_argument("--profile", help="profile name (default: chosen by the file name)")
    validate.add_argument("--profiles-dir", help=f"profiles directory (default: ${PROFILES_ENV})")
    validate.add_argument("--max-reject-rate", type=float, default=DEFAULT_MAX_REJECT_RATE)
    validate.set_defaults(command=validate_command)

    template = commands.add_parser("template", help="write a CSV template for an entity")
    template.add_argument("entity", choices=list(ENTITIES))
    template.add_argument("--output", help="path (default: <entity>_template.csv)")
    template.set_defaults(command=template_command)

    drop = commands.add_parser("drop", help="copy or upload a file into the landing zone")
    drop.add_argument("file")
    drop.add_argument("--landing", help=f"landing folder or s3:// URL (default: ${LANDING_ENV})")
    drop.add_argument("--name", help="name in the landing zone (default: the file's name)")
    drop.set_defaults(command=drop_command)
    return parser


if __name__ == "__main__":
    sys.exit(main())
