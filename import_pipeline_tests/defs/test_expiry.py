"""The daily expiry deletes old succeeded batches' staged and report files (local folder
and S3) and their rejects rows, and spares a batch with held rows and one that failed."""

import polars as pl
import pytest

from import_pipeline.db.connect import connected
from import_pipeline.db.migrate import migrate
from import_pipeline.defs.expiry import expire_files
from import_pipeline.defs.resources import PostgresResource, S3Connection, StagingArea
from import_pipeline.files import layout
from import_pipeline_tests.support import query, s3_settings

BATCHES = {"old": "succeeded", "held": "succeeded", "failed": "failed", "new": "succeeded"}


def ledger(url: str) -> None:
    """Four batches: three finished 100 days ago, one today; `held` still holds a row."""
    with connected(url) as conn:
        migrate(conn)
        with conn, conn.cursor() as cur:
            for key, status in BATCHES.items():
                age = "0 days" if key == "new" else "100 days"
                cur.execute(
                    "INSERT INTO ingest.files (partition_key, uri, tenant, profile, version,"
                    " landed_at, status, finished_at) VALUES (%s, %s, 't', 'canonical', 'v',"
                    " now(), %s, now() - %s::interval)",
                    (key, f"file:///{key}.csv", status, age),
                )
                cur.executemany(
                    "INSERT INTO ingest.rejects (partition_key, entity, source_row, errors, raw)"
                    " VALUES (%s, 'orders', %s, '[]', '{}')",
                    [(key, row) for row in range(12)],
                )
            cur.execute(
                "INSERT INTO ingest.held_rows (tenant, entity, key, partition_key, source_row,"
                " missing, payload, version) VALUES ('t', 'orders', 'O1', 'held', 1,"
                " '{customer_id}', '{}', 1)"
            )


def files(store) -> set[str]:
    return {r.key.split("/")[0] for r in store.list()}


@pytest.mark.parametrize("where", ["local", "s3"])
def test_old_batches_expire_and_held_or_unsucceeded_ones_are_spared(
    where, database_url, tmp_path, request
):
    if where == "s3":
        endpoint, bucket = (
            request.getfixturevalue("s3_endpoint"),
            request.getfixturevalue("s3_bucket"),
        )
        staging = StagingArea(
            url=f"s3://{bucket}/staging", s3=S3Connection(**s3_settings(endpoint))
        )
    else:
        staging = StagingArea(url=str(tmp_path / "staging"))
    ledger(database_url)
    store = staging.store()
    for key in BATCHES:
        store.write_parquet(
            pl.DataFrame({"order_id": ["O1"]}), layout.staged_part(key, "orders", 0), 10
        )
        store.write_bytes(layout.rejects_file(key), b"order_id,_row,_errors\n")

    result = expire_files.execute_in_process(
        resources={"postgres": PostgresResource(url=database_url), "staging": staging},
        run_config={"ops": {"expire_batches": {"config": {"chunk_rows": 5}}}},
    )

    assert result.success
    assert files(store) == {"held", "failed", "new"}
    assert query(
        database_url,
        "SELECT partition_key, staged_expired_at IS NOT NULL, reports_expired_at IS NOT NULL,"
        " rejects_expired FROM ingest.files ORDER BY 1",
    ) == [
        ("failed", False, False, None),
        ("held", False, False, None),
        ("new", False, False, None),
        ("old", True, True, 12),
    ]
    assert query(
        database_url, "SELECT partition_key, count(*) FROM ingest.rejects GROUP BY 1 ORDER BY 1"
    ) == [("failed", 12), ("held", 12), ("new", 12)]
