"""Every wait on the database is bounded and named, and no message quotes the URL."""

import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from import_pipeline.core.errors import DatabaseTimeout, DatabaseUnavailable
from import_pipeline.db.bounded import Bounds, redacted
from import_pipeline.db.connect import connected

embedded_only = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="signals a backend of the embedded server"
)

SHORT = Bounds(connect_timeout=1, statement_timeout=0.5, lock_timeout=0.5, grace=1)


def within(seconds: float, call):
    """Run `call` in a thread: a hang fails the test instead of the suite; returns (raised
    exception, seconds taken)."""
    started = time.monotonic()
    pool = ThreadPoolExecutor(1)
    try:
        exc = pool.submit(call).exception(timeout=seconds)
    finally:
        pool.shutdown(wait=False)
    return exc, time.monotonic() - started


def test_every_connection_carries_the_timeouts_and_keepalives(database_url, monkeypatch):
    monkeypatch.setenv("IMPORT_DB_STATEMENT_TIMEOUT", "90")
    monkeypatch.setenv("IMPORT_DB_LOCK_TIMEOUT", "7.5")
    monkeypatch.setenv("IMPORT_DB_KEEPALIVES_IDLE", "12")
    with connected(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')")
        assert cur.fetchone() == ("90s", "7500ms")
        parameters = conn.get_dsn_parameters()
    assert (parameters["keepalives"], parameters["keepalives_idle"]) == ("1", "12")
    assert parameters["tcp_user_timeout"] == "24000"


@embedded_only
def test_a_frozen_backend_fails_the_statement_with_a_named_timeout(database_url):
    with connected(database_url, bounds=SHORT) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            (pid,) = cur.fetchone()
        conn.commit()
        os.kill(pid, signal.SIGSTOP)
        try:
            exc, seconds = within(30, lambda: conn.cursor().execute("SELECT 1"))
        finally:
            os.kill(pid, signal.SIGCONT)
    assert isinstance(exc, DatabaseTimeout), exc
    assert "did not answer within 1.5 s" in str(exc)
    assert seconds < 10


def test_a_server_that_accepts_and_never_answers_fails_the_connect_with_a_named_error():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        url = f"postgresql://app:secret@127.0.0.1:{port}/db"
        exc, seconds = within(30, lambda: connected(url, bounds=SHORT).__enter__())
    assert isinstance(exc, DatabaseUnavailable), exc
    assert "timeout" in str(exc) and "secret" not in str(exc)
    assert seconds < 10


def test_a_statement_or_lock_wait_past_its_server_timeout_is_a_named_timeout(database_url):
    with (
        connected(database_url, bounds=SHORT) as conn,
        conn.cursor() as cur,
        pytest.raises(DatabaseTimeout, match="statement timeout"),
    ):
        cur.execute("SELECT pg_sleep(5)")
    with connected(database_url) as holder, holder.cursor() as cur:
        cur.execute("CREATE TABLE held (id int)")
        holder.commit()
        cur.execute("LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
        bounds = Bounds(statement_timeout=5, lock_timeout=0.5)
        with (
            connected(database_url, bounds=bounds) as waiter,
            waiter.cursor() as waiting,
            pytest.raises(DatabaseTimeout, match="lock was not granted"),
        ):
            waiting.execute("SELECT count(*) FROM held")
        holder.rollback()


PASSWORD = "s3cr@t:pa55"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://app:{PASSWORD}@127.0.0.1:1/db",
        f"postgresql://app:{PASSWORD.replace('@', '%40').replace(':', '%3A')}@127.0.0.1:1/db",
        f"host=127.0.0.1 port=1 user=app password={PASSWORD} dbname=db",
    ],
    ids=["unescaped", "escaped", "key-value"],
)
def test_no_connection_error_quotes_the_password_whatever_it_holds(url):
    with pytest.raises(DatabaseUnavailable) as raised:
        connected(url, bounds=SHORT).__enter__()
    seen = str(raised.value) + repr(raised.value.__cause__) + repr(raised.value.__context__)
    for piece in (PASSWORD, "s3cr", "pa55", "t:pa55"):
        assert piece not in seen


def test_a_misread_url_piece_is_redacted_from_libpq_text():
    url = "postgresql://app:p4ss@w0rd@db.internal:5432/x"
    text = 'could not translate host name "w0rd@db.internal" to address'
    assert "w0rd" not in redacted(text, url) and "p4ss" not in redacted(text, url)


def test_a_deadline_that_does_not_pass_leaves_the_connection_usable(database_url):
    with connected(database_url, bounds=SHORT) as conn, conn.cursor() as cur:
        for _ in range(3):
            cur.execute("SELECT 1")
        time.sleep(1.6)
        cur.execute("SELECT 2")
        assert cur.fetchone() == (2,)
    assert threading.active_count() < 50
