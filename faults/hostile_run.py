"""Land the hostile drop over a clean base, run every batch it makes, and hold each case to
its expected outcome; the tables are compared with a clean load of what must be stored."""

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from psycopg2 import sql

from faults.hostile import BASE_FILES, OUTSIDE_SECRET, Case, cases, csv_bytes
from faults.kill import listed
from faults.report import Figure
from faults.tables import compare, ledger_words, snapshot
from faults.world import Site, World, query
from import_pipeline.core import errors
from import_pipeline.core.entities import CUSTOMERS

NAMED_ERRORS = {c.__name__ for c in vars(errors).values() if isinstance(c, type)}


@dataclass
class Outcome:
    case: Case
    seen: str
    ok: bool


def hostile_drop(world: World, bulk_rows: int) -> tuple[Figure, list[Outcome]]:
    started = time.monotonic()
    drop = cases(bulk_rows)
    figure = Figure("hostile drop", trials=len(drop))
    with world.site("hostile-clean", tenants=True) as site:
        _write_base(site)
        figure.failures += site.load_here(world.memory)
        for case in drop:
            if case.clean:
                _write(site.landing / case.path, csv_bytes(case.clean))
        figure.failures += [f"clean load: {k} failed" for k in site.load_here(world.memory)]
        clean = snapshot(site.dsn)
    with world.site("hostile", tenants=True) as site:
        _write_base(site)
        figure.failures += site.load_here(world.memory)
        outside = site.landing.parent / "outside"
        _write(outside / "passwd", (OUTSIDE_SECRET + "\n").encode())
        for case in drop:
            _place(site, case)
        try:
            requests = site.tick(world.memory)
        except Exception as exc:  # noqa: BLE001 - a tick that fails on a hostile name is a finding
            requests = []
            figure.failures.append(f"the landing sensor's tick failed: {exc!r}"[:300])
        for request in requests:
            site.run_here(world.memory, request)
        got = snapshot(site.dsn)
        outcomes = [_judge(site, case) for case in drop]
        words = Counter(w.split(":")[0] for w in ledger_words(site.dsn).values())
    got.rejects = clean.rejects = []  # held to each case's rule below instead
    figure.difference = compare(got, clean)
    figure.rows = clean.total
    hostile_rows = sum(len(c.rejected) or len({k for k, _ in c.exact}) or 1 for c in drop)
    figure.faults = (
        f"{len(drop)} cases ({hostile_rows:,} hostile rows); "
        f"{sum(o.ok for o in outcomes)} as expected"
    )
    figure.ledger = listed(words)
    figure.failures += [
        f"{o.case.name}: expected {o.case.expect}, seen {o.seen}"
        + (" (issue 17 items 1-4, branch input)" if o.case.owner else "")
        for o in outcomes
        if not o.ok
    ]
    figure.seconds = time.monotonic() - started
    return figure, outcomes


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _write_base(site: Site) -> None:
    for path, rows in BASE_FILES.items():
        _write(site.landing / path, csv_bytes(rows))


def _place(site: Site, case: Case) -> None:
    target = site.landing / case.path
    if case.link_to:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(site.landing.parent / case.link_to)
    else:
        _write(target, case.data)


def _ledger(site: Site, case: Case) -> list[tuple[str, str, str | None]]:
    """The ledger rows of the case's batches: (partition key, status, error)."""
    rows = query(site.dsn, "SELECT partition_key, uri, tenant, status, error FROM ingest.files")
    return [
        (key, status, error)
        for key, uri, tenant, status, error in rows
        if unquote(uri).endswith("/landing/" + case.path)
        or (tenant == case.tenant and "/" not in case.path)
    ]


def _judge(site: Site, case: Case) -> Outcome:
    batches = _ledger(site, case)
    words = [status if error is None else f"{status}: {error.split(':')[0]}"
             for _, status, error in batches]  # fmt: skip
    seen = "; ".join(words) or "not registered"
    succeeded = [key for key, status, _ in batches if status == "succeeded"]
    if case.expect == "loaded":
        wrong = [k for k, v in case.exact.items() if _stored(site, case.tenant, *k) != v]
        ok = bool(succeeded) and not wrong
        seen += f"; {len(case.exact) - len(wrong)} of {len(case.exact)} values byte-exact"
    elif case.expect == "reject":
        rejected = _rejected(site, succeeded, case.rule)
        missing = set(case.rejected) - rejected
        ok = bool(succeeded) and not missing
        seen += f"; {len(set(case.rejected) - missing)} of {len(case.rejected)} rejected as"
        seen += f" {case.rule}"
    elif case.expect == "file error":
        names = {w.split(": ", 1)[-1] for w in words if w.startswith("failed")}
        allowed = set(case.errors) or NAMED_ERRORS
        ok = bool(names) and names <= allowed
    else:
        ok = not succeeded
    if case.secret and _leaked(site, case.secret):
        ok = False
        seen += "; the target's content is quoted in the ledger or rejects"
    return Outcome(case, seen, ok)


def _stored(site: Site, tenant: str, key: str, column: str) -> str | None:
    """A stored customer's value: a column, or else a kept extra column in `attributes`."""
    if column in CUSTOMERS.field_names:
        value = sql.Identifier(column)
        params: tuple = (tenant, key)
    else:
        value = sql.SQL("attributes ->> %s")
        params = (column, tenant, key)
    statement = sql.SQL(
        "SELECT {} FROM commerce.customers WHERE tenant = %s AND customer_id = %s"
    ).format(value)
    rows = query(site.dsn, statement, params)
    return rows[0][0] if rows else None


def _rejected(site: Site, partition_keys: list[str], rule: str) -> set[str]:
    """Keys of the batches' rejects carrying `rule` (a rule prefix such as `first_name:`);
    a record that did not split into fields has no key column, only its raw `_line`, so
    each of that line's fields counts as a key it may hold."""
    rows = query(
        site.dsn,
        "SELECT raw ->> 'customer_id', raw ->> '_line', errors::text FROM ingest.rejects"
        " WHERE partition_key = ANY(%s)",
        (partition_keys,),
    )
    keys: set[str] = set()
    for key, line, found in rows:
        if rule in found:
            keys.update([key] if key is not None else (line or "").split(","))
    return keys


def _leaked(site: Site, secret: str) -> bool:
    rows = query(
        site.dsn,
        "SELECT (SELECT count(*) FROM ingest.files WHERE strpos(coalesce(error, ''), %s) > 0)"
        " + (SELECT count(*) FROM ingest.rejects WHERE strpos(raw::text || errors::text, %s) > 0)",
        (secret, secret),
    )
    return rows[0][0] > 0


def case_table(outcomes: list[Outcome]) -> str:
    """Scenario -> expected outcome -> what this run saw."""
    lines = ["| case | lands as | expected | seen | ok |", "|---|---|---|---|---|"]
    for o in outcomes:
        c = o.case
        expected = c.expect + (f" `{c.rule}`" if c.rule else "")
        expected += f" ({'/'.join(c.errors)})" if c.errors else ""
        where = c.path + (f" -> {c.link_to}" if c.link_to else "")
        mark = "ok" if o.ok else "NO" + (" (items 1-4)" if c.owner else "")
        lines.append(f"| {c.name} | `{where[:60]}` | {expected} | {o.seen} | {mark} |")
    return "\n".join(lines)
