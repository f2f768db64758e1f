"""The package's floors hold: Dagster wiring in `defs/` reaches the database through at
most one `db/` module each (sequences of database work live in `load/`), and `core/` and
`load/` never import Dagster or a floor above them."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "import_pipeline"


def imported(path: Path) -> set[str]:
    """Every module a file imports, `from a.b import c` as `a.b.c` too (c may be a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def db_modules(path: Path) -> set[str]:
    found = {
        name.split(".")[2] for name in imported(path) if name.startswith("import_pipeline.db.")
    }
    return {name for name in found if (PACKAGE / "db" / f"{name}.py").exists()}


def test_no_defs_module_reaches_into_more_than_one_db_module():
    wide = {
        str(path.relative_to(PACKAGE)): sorted(db_modules(path))
        for path in (PACKAGE / "defs").rglob("*.py")
        if len(db_modules(path)) > 1
    }
    assert wide == {}, "move the sequence into load/ and call it from defs/"


def test_core_and_load_never_import_dagster_or_a_floor_above_them():
    above = {
        "core": (
            "dagster",
            "import_pipeline.defs",
            "import_pipeline.load",
            "import_pipeline.db",
            "psycopg2",
        ),
        "load": ("dagster", "import_pipeline.defs"),
    }
    crossing = {
        str(path.relative_to(PACKAGE)): sorted(
            name
            for name in imported(path)
            if name.split(".")[0] == "dagster"
            or any(name == a or name.startswith(f"{a}.") for a in banned)
        )
        for floor, banned in above.items()
        for path in (PACKAGE / floor).rglob("*.py")
    }
    assert {file: names for file, names in crossing.items() if names} == {}
