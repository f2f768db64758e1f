"""The samples' loader: drops real sample files into the landing folder and runs each
batch through sensor -> job."""

import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from import_pipeline.defs.in_process import run, tick
from import_pipeline_tests.support import query

TABLES = ("customers", "products", "orders", "line_items")


@dataclass
class Loader:
    """Drops files and runs their batches in the given order, remembering the cursor."""

    defs: dg.Definitions
    instance: dg.DagsterInstance
    landing: Path
    database_url: str
    cursor: str | None = None

    def load(self, *drops: tuple[Path, str]) -> dict[str, dg.ExecuteInProcessResult]:
        """Copy each (sample, landed name), tick once, run the batches in drop order (a
        run per file, so the order is the test's)."""
        for source, name in drops:
            shutil.copyfile(source, self.landing / name)
        result = tick(
            self.instance, self.landing, self.database_url, self.cursor, max_files_per_run=1
        )
        self.cursor = result.cursor
        by_name = {r.tags["import/uri"].rsplit("/", 1)[-1]: r for r in result.run_requests}
        assert sorted(by_name) == sorted(name for _, name in drops)
        return {name: run(self.defs, self.instance, by_name[name]) for _, name in drops}

    def counts(self, rejects: bool = True) -> dict[str, int]:
        """Rows per business table, plus held rows (and rejects) per entity."""
        counts = {
            t: query(self.database_url, f"SELECT count(*) FROM commerce.{t}")[0][0] for t in TABLES
        }
        for table in ("rejects", "held_rows") if rejects else ("held_rows",):
            for entity, n in query(
                self.database_url, f"SELECT entity, count(*) FROM ingest.{table} GROUP BY entity"
            ):
                counts[f"{table}/{entity}"] = n
        return counts

    def snapshot(self) -> dict[str, list[tuple]]:
        """Every business row's content (provenance and versions aside), to compare loads."""
        return {
            t: query(
                self.database_url,
                f"SELECT to_jsonb(x) - '_batch' - '_loaded_at' - 'updated_at'"
                f" FROM commerce.{t} x ORDER BY 1",
            )
            for t in TABLES
        }
