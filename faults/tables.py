"""What a scenario's database holds, reduced to what can be compared with a clean load: per
table, a hash of every stored row's values by key; held rows and rejects by their content.

Provenance (`_batch`, `_loaded_at`) and batch names are left out: a re-executed or
differently-named batch that stores the same values is the same outcome."""

import hashlib
from dataclasses import dataclass, field

from psycopg2 import sql

from bench.generate import ENTITY_ORDER
from faults.world import query
from import_pipeline.core.entities import ENTITIES

PROVENANCE = ("_batch", "_loaded_at")


@dataclass
class Snapshot:
    """Row hashes by (tenant, key) per table, and the held rows and rejects as multisets."""

    rows: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)
    held: list[str] = field(default_factory=list)
    rejects: list[str] = field(default_factory=list)

    def checksum(self, table: str) -> str:
        """One hash of the table's rows in key order (the figure a reader can compare)."""
        digest = hashlib.md5()
        for key in sorted(self.rows[table]):
            digest.update(self.rows[table][key].encode())
        return digest.hexdigest()[:12]

    @property
    def total(self) -> int:
        return sum(len(r) for r in self.rows.values())


@dataclass
class Difference:
    """Against the clean load: rows missing, rows or entries beyond it, rows whose values
    differ."""

    lost: int = 0
    duplicated: int = 0
    wrong: int = 0
    details: list[str] = field(default_factory=list)

    def __add__(self, other: "Difference") -> "Difference":
        return Difference(
            self.lost + other.lost,
            self.duplicated + other.duplicated,
            self.wrong + other.wrong,
            self.details + other.details,
        )

    @property
    def clean(self) -> bool:
        return self.lost == self.duplicated == self.wrong == 0


def snapshot(dsn: str) -> Snapshot:
    taken = Snapshot()
    for entity in ENTITY_ORDER:
        taken.rows[entity] = _row_hashes(dsn, entity)
    taken.held = sorted(
        r[0]
        for r in query(
            dsn,
            "SELECT md5(concat_ws('|', tenant, entity, key, missing::text, payload::text,"
            " version::text)) FROM ingest.held_rows",
        )
    )
    taken.rejects = sorted(
        r[0]
        for r in query(
            dsn, "SELECT md5(concat_ws('|', entity, errors::text, raw::text)) FROM ingest.rejects"
        )
    )
    return taken


def _row_hashes(dsn: str, entity: str) -> dict[tuple[str, str], str]:
    columns = [
        name
        for (name,) in query(
            dsn,
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'commerce' AND table_name = %s ORDER BY ordinal_position",
            (entity,),
        )
        if name not in PROVENANCE
    ]
    statement = sql.SQL("SELECT tenant, {key}, md5(row({columns})::text) FROM {table}").format(
        key=sql.Identifier(ENTITIES[entity].key),
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        table=sql.Identifier("commerce", entity),
    )
    return {(tenant, key): digest for tenant, key, digest in query(dsn, statement)}


def compare(got: Snapshot, clean: Snapshot) -> Difference:
    """What `got` has lost, duplicated or got wrong against the clean load's `clean`."""
    difference = Difference()
    for table, expected in clean.rows.items():
        stored = got.rows[table]
        lost = expected.keys() - stored.keys()
        extra = stored.keys() - expected.keys()
        wrong = [k for k in expected.keys() & stored.keys() if expected[k] != stored[k]]
        difference += Difference(len(lost), len(extra), len(wrong))
        for name, keys in (("lost", lost), ("extra", extra), ("wrong", wrong)):
            if keys:
                difference.details.append(f"{table}: {len(keys)} {name}, e.g. {sorted(keys)[:3]}")
    for name, mine, theirs in (
        ("held rows", got.held, clean.held),
        ("rejects", got.rejects, clean.rejects),
    ):
        missing = _multiset_minus(theirs, mine)
        beyond = _multiset_minus(mine, theirs)
        difference += Difference(missing, beyond, 0)
        if missing or beyond:
            difference.details.append(f"{name}: {missing} missing, {beyond} beyond the clean load")
    return difference


def _multiset_minus(left: list[str], right: list[str]) -> int:
    remaining = {}
    for item in right:
        remaining[item] = remaining.get(item, 0) + 1
    count = 0
    for item in left:
        if remaining.get(item, 0):
            remaining[item] -= 1
        else:
            count += 1
    return count


def ledger_words(dsn: str) -> dict[str, str]:
    """The ledger's final word per batch: status, and the error's name when it failed."""
    return {
        key: status if error is None else f"{status}: {error.split(':', 1)[0]}"
        for key, status, error in query(
            dsn, "SELECT partition_key, status, error FROM ingest.files ORDER BY 1"
        )
    }
