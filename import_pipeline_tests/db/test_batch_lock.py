"""The batch lock: one holder at a time, bounded waits, and taken again after its session
is lost (real Postgres)."""

import psycopg2
import pytest

from import_pipeline.db.batch_lock import APPLICATION_NAME, BatchBusy, BatchHold


def kill_lock_sessions(url: str) -> None:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            (APPLICATION_NAME,),
        )
    conn.close()


def test_a_second_holder_waits_its_bound_then_fails_with_batch_busy(database_url):
    first = BatchHold(database_url, ["b1"], 0)
    first.acquire()
    with pytest.raises(BatchBusy, match="batch b1 is being loaded by another run"):
        BatchHold(database_url, ["b1"], 0.3).acquire()
    other = BatchHold(database_url, ["b2"], 0)
    other.acquire()  # another batch is not held up
    first.release()
    again = BatchHold(database_url, ["b1"], 0)
    again.acquire()
    for hold in (other, again):
        hold.release()


def test_a_lock_lost_with_its_session_is_taken_again_or_fails_if_another_run_took_it(
    database_url,
):
    hold = BatchHold(database_url, ["b1"], 0)
    hold.acquire()
    kill_lock_sessions(database_url)
    hold.confirm()
    with pytest.raises(BatchBusy):
        BatchHold(database_url, ["b1"], 0).acquire()

    kill_lock_sessions(database_url)
    thief = BatchHold(database_url, ["b1"], 0)
    thief.acquire()
    with pytest.raises(BatchBusy):
        hold.confirm()
    thief.release()
