"""The processed-prefix mode over a local landing folder: a rename, and never listed."""

from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
import pytest

from import_pipeline.db import ledger
from import_pipeline.defs.in_process import run
from import_pipeline.defs.processed import move_succeeded
from import_pipeline.defs.resources import LandingZone, PostgresResource
from import_pipeline_tests.support import materialization, query, tick, write_csv

pytestmark = pytest.mark.postgres


def test_a_succeeded_file_is_renamed_below_processed_and_no_longer_listed(
    instance, landing: Path, database_url: str
):
    write_csv(landing / "customers_1.csv", [{"customer_id": "C1"}])
    write_csv(landing / "customers_2.csv", [{"customer_id": "C2"}])
    first = tick(instance, landing, database_url)
    with closing(psycopg2.connect(database_url)) as conn:
        assert ledger.finish_if_complete(conn, first.keys[0], [])
    zone = LandingZone(url=str(landing), move_processed=True)
    assert move_succeeded(zone, PostgresResource(url=database_url), 10) == [first.keys[0]]
    assert move_succeeded(zone, PostgresResource(url=database_url), 10) == []
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert (landing / "_processed" / today / "customers_1.csv").is_file()
    assert [r.key for r in zone.list_files()] == ["customers_2.csv"]


def test_a_moved_folder_re_executes_from_its_copy_also_when_moved_before_its_version_was_kept(
    instance, defs, landing: Path, pipeline_env: str
):
    (landing / "drop").mkdir()
    write_csv(landing / "drop" / "customers.csv", [{"customer_id": "C1"}])
    (landing / "drop" / "_SUCCESS").touch()
    (request,) = tick(instance, landing, pipeline_env).run_requests
    assert run(defs, instance, request).success
    zone = LandingZone(url=str(landing), move_processed=True)
    assert move_succeeded(zone, PostgresResource(url=pipeline_env), 10) == [request.partition_key]
    assert zone.list_files() == []
    assert run(defs, instance, request).success
    forgotten = "UPDATE ingest.files SET processed_version = NULL RETURNING 1"
    assert query(pipeline_env, forgotten) == [(1,)]  # as before migration 017
    again = run(defs, instance, request)
    assert again.success
    assert materialization(again, "staged_batch")["rows_staged"] == 1
