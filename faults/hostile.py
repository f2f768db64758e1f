"""The hostile drop: files an attacker or a broken export could land, each with the outcome
the project promises (issue 17). ONE table, `CASES`, says what each must come to:

- `loaded`: stored byte for byte as sent (checked value by value);
- `reject`: the row becomes a reject with that rule, the file's other rows load, and the
  row stored before under the same key stays as it was;
- `file error`: the batch fails with a named error (core/errors.py) and stores nothing;
- `refused`: nothing of it is stored, and text of a file that was not landed appears in
  no error or reject.

Every file carries `updated_at`, so the clean load (the rows the drop must store, written
as plain CSV) gives the same versions whatever the landing time."""

from dataclasses import dataclass, field

import polars as pl

STAMP = "2024-06-01T00:00:00Z"
BASE_STAMP = "2024-01-01T00:00:00Z"
WIDE = ("customer_id", "email", "first_name", "last_name", "phone", "country", "created_at")
OUTSIDE_SECRET = "root:x:0:0:OUTSIDE-SECRET-7f3a:/root:/bin/bash"
BETA_SECRET = "Beta-Private-Row"
MEGABYTE = 1 << 20
PADDING = 30
"""Good rows beside a file's bad ones, so its reject rate stays under the 10 % default."""


@dataclass
class Case:
    """One hostile file (or link) and the outcome it must come to."""

    name: str
    path: str
    """Where it lands, relative to the landing root (first folder = tenant)."""
    expect: str
    """loaded | reject | file error | refused"""
    data: bytes = b""
    link_to: str = ""
    """A symlink instead of a file: to this path, relative to the suite's work folder."""
    clean: list[dict] = field(default_factory=list)
    """The rows the clean load stores for it (same header as the file)."""
    exact: dict[tuple[str, str], str] = field(default_factory=dict)
    """(key, column) -> the value that must be stored byte for byte."""
    rule: str = ""
    rejected: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    """Accepted error names of a `file error` (any named error when empty)."""
    secret: str = ""
    owner: str = ""
    """`input` when the fix is issue 17's items 1-4, built on another branch."""

    @property
    def tenant(self) -> str:
        """The first folder; a file at the root is tenant `default`'s, a bare name is a
        tenant folder."""
        if "/" in self.path or "." not in self.path:
            return self.path.split("/")[0]
        return "default"


def csv_bytes(rows: list[dict], bom: bool = False) -> bytes:
    data = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String)).write_csv().encode()
    return (b"\xef\xbb\xbf" if bom else b"") + data


COLUMNS_NUL = ("customer_id", "first_name", "updated_at")
NUL_ROW = {"customer_id": "N1", "first_name": "Ada", "updated_at": STAMP}


def pads(prefix: str, columns: tuple[str, ...] = ("customer_id", "first_name")) -> list[dict]:
    """Good customers of a case's file, in its columns."""
    rows = []
    for i in range(PADDING):
        row = dict.fromkeys(columns, "")
        row.update({"customer_id": f"{prefix}{i:03d}", "first_name": "pad", "updated_at": STAMP})
        rows.append(row)
    return rows


def base_customers() -> list[dict]:
    """acme's customers loaded before the hostile drop (the rows it must not damage)."""
    return [
        {
            "customer_id": f"C{i:08d}",
            "email": f"user{i:08d}@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "phone": "+44 20 7946 0000",
            "country": "United Kingdom",
            "created_at": "2023-01-01T00:00:00Z",
            "updated_at": BASE_STAMP,
        }
        for i in range(1, 41)
    ]


BASE_FILES = {
    "acme/customers_base.csv": base_customers(),
    "beta/customers_secret.csv": [
        {"customer_id": "S1", "first_name": BETA_SECRET, "updated_at": BASE_STAMP}
    ],
    "customers_root.csv": [
        {"customer_id": "R1", "first_name": "root-owned", "updated_at": BASE_STAMP}
    ],
}
"""Loaded cleanly before the hostile drop, in both the hostile and the clean site."""


def _loaded(name: str, path: str, rows: list[dict], columns: tuple[str, ...], bom: bool = False):
    exact = {(r["customer_id"], c): r[c] for r in rows for c in columns}
    return Case(name, path, "loaded", csv_bytes(rows, bom), clean=rows, exact=exact)


def _ragged(name: str, path: str, header: str, good: list[dict], line: str) -> Case:
    lines = [header] + [",".join(r[c] for c in header.split(",")) for r in good] + [line]
    key = next(p for p in line.split(",") if p.startswith(("C0", "X")))
    return Case(
        name,
        path,
        "reject",
        ("\n".join(lines) + "\n").encode(),
        clean=good,
        rule="row:field_count",
        rejected=(key,),
        owner="input",
    )


def _tenant_named(name: str, tenant: str) -> Case:
    rows = [{"customer_id": "T1", "first_name": "tenant-probe", "updated_at": STAMP}]
    return Case(name, f"{tenant}/customers_probe.csv", "refused", csv_bytes(rows), owner="input")


def cases(bulk_rows: int) -> list[Case]:
    """The hostile drop; `bulk_rows` rows in the bulk file, a tenth of them bad."""
    injection = [
        {"customer_id": "I1", "first_name": "Robert'); DROP TABLE commerce.customers;--",
         "last_name": "1' OR '1'='1", "note": "'); DELETE FROM ingest.files; --",
         "updated_at": STAMP},
        {"customer_id": "I2", "first_name": "$$; SELECT pg_sleep(10); --",
         "last_name": '"; COPY x TO PROGRAM \'id\'; --', "note": "\\.\n\\N",
         "updated_at": STAMP},
        {"customer_id": "I3", "first_name": "\\N", "last_name": "a\tb\\.c",
         "note": "<script>alert(1)</script>", "updated_at": STAMP},
    ]  # fmt: skip
    formulas = [
        {"customer_id": f"F{i}", "first_name": value, "last_name": "=1+1", "updated_at": STAMP}
        for i, value in enumerate(
            ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1:A9)", "|calc"]
        )
    ]
    bom = [{"customer_id": f"B{i}", "first_name": "Zoë", "updated_at": STAMP} for i in range(2)]
    huge_good = pads("MP", ("customer_id", "first_name", "notes", "updated_at"))
    huge_good.append(
        {"customer_id": "M1", "first_name": "big", "notes": "n" * MEGABYTE, "updated_at": STAMP}
    )
    huge_bad = {"customer_id": "M2", "first_name": "x" * MEGABYTE, "notes": "", "updated_at": STAMP}
    wide_good = [dict(r, customer_id=f"W{i:03d}", updated_at=STAMP) for i, r in
                 enumerate(base_customers()[:PADDING])]  # fmt: skip
    long_good = pads("L", ("updated_at", "customer_id", "first_name", "last_name", "country"))
    bulk = [
        {
            "customer_id": f"K{i:07d}",
            "email": "not-an-email" if i % 10 == 9 else f"k{i}@example.com",
            "first_name": "bulk",
            "updated_at": STAMP,
        }
        for i in range(bulk_rows)
    ]
    return [
        _loaded("injection text", "acme/customers_injection.csv", injection,
                ("first_name", "last_name", "note")),
        _loaded("formula cells", "acme/customers_formula.csv", formulas,
                ("first_name", "last_name")),
        _loaded("UTF-8 BOM", "acme/customers_bom.csv", bom, ("customer_id", "first_name"),
                bom=True),
        Case("1 MB field (an extra column)", "acme/customers_huge.csv", "loaded",
             csv_bytes(huge_good), clean=huge_good, exact={("M1", "notes"): "n" * MEGABYTE}),
        Case("1 MB field (first_name, max 200)", "acme/customers_huger.csv", "reject",
             csv_bytes(pads("MQ", tuple(huge_bad)) + [huge_bad]),
             clean=pads("MQ", tuple(huge_bad)), rule="first_name:max_length",
             rejected=("M2",)),
        # NOTE: DESIGN.md's sanitising strips NUL (Postgres text cannot hold it): loaded clean.
        Case("NUL byte in a field (stripped)", "acme/customers_nul.csv", "loaded",
             csv_bytes(pads("N", COLUMNS_NUL) + [{**NUL_ROW, "first_name": "Ad\x00a"}]),
             clean=pads("N", COLUMNS_NUL) + [NUL_ROW], exact={("N1", "first_name"): "Ada"}),
        Case("invalid UTF-8", "acme/customers_latin1.csv", "file error",
             b"customer_id,first_name,updated_at\nU1,Jos\xe9," + STAMP.encode() + b"\n",
             errors=("UndecodableFile",)),
        Case("duplicate headers", "acme/customers_duphead.csv", "file error",
             b"customer_id,first_name,first_name,updated_at\nD1,Ada,Grace," + STAMP.encode()
             + b"\n"),
        _ragged("ragged row: too few fields (over a stored row)", "acme/customers_short.csv",
                ",".join((*WIDE, "updated_at")), wide_good,
                "C00000005,user00000005@example.com,Ada"),
        _ragged("ragged row: too many fields", "acme/customers_long.csv",
                "updated_at,customer_id,first_name,last_name,country", long_good,
                f"{STAMP},X1,Smith, Jr.,John,UK"),
        Case("symlink to another tenant's file", "acme/customers_link.csv", "refused",
             link_to="landing/beta/customers_secret.csv", secret=BETA_SECRET, owner="input"),
        Case("symlink out of the landing root", "acme/customers_passwd.csv", "refused",
             link_to="outside/passwd", secret="OUTSIDE-SECRET-7f3a", owner="input"),
        Case("tenant folder symlinked to another tenant", "gamma", "refused",
             link_to="landing/beta", secret=BETA_SECRET, owner="input"),
        _tenant_named("tenant name ..evil (traversal-looking)", "..evil"),
        _tenant_named("tenant name %2e%2e%2fetc (traversal-looking)", "%2e%2e%2fetc"),
        _tenant_named("tenant name acme..%2f..%2fbeta (traversal-looking)", "acme..%2f..%2fbeta"),
        _tenant_named("tenant name of 250 characters", "t" * 250),
        Case("a folder named default (the root's tenant)", "default/customers_intruder.csv",
             "refused", csv_bytes([{"customer_id": "R1", "first_name": "intruder",
                                    "updated_at": STAMP}]), owner="input"),
        Case(f"{bulk_rows // 10:,} bad rows among {bulk_rows - bulk_rows // 10:,} good",
             "bulk/customers_bulk.csv", "reject", csv_bytes(bulk),
             clean=[r for r in bulk if r["email"] != "not-an-email"], rule="email:format",
             rejected=tuple(r["customer_id"] for r in bulk if r["email"] == "not-an-email")),
    ]  # fmt: skip
