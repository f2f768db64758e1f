"""Every wait on the database is bounded, and a connection string never reaches a message.

The server bounds what it can (`statement_timeout`, `lock_timeout`); libpq bounds
connecting (`connect_timeout`) and a dead peer (TCP keepalives, `tcp_user_timeout`). None
of them helps when the server process is frozen (SIGSTOP, a paused container): its kernel
still acknowledges every packet, so the client would wait forever. So each statement and
commit also runs under a client-side deadline (the statement timeout plus a grace period
for the server to report its own timeout first); when it passes, the connection's socket
is shut down, which ends libpq's wait, and the call fails with `DatabaseTimeout`.
"""

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import psycopg2
from psycopg2 import errors as pg_errors
from psycopg2.extensions import connection, cursor, make_dsn, parse_dsn

from import_pipeline.core.errors import DatabaseTimeout, DatabaseUnavailable

GRACE_SECONDS = 10.0
"""How long past the statement timeout the client waits before it gives the server up."""

_ENV = {
    "connect_timeout": ("IMPORT_DB_CONNECT_TIMEOUT", 10.0),
    "statement_timeout": ("IMPORT_DB_STATEMENT_TIMEOUT", 600.0),
    "lock_timeout": ("IMPORT_DB_LOCK_TIMEOUT", 120.0),
    "keepalives_idle": ("IMPORT_DB_KEEPALIVES_IDLE", 30.0),
}
_KEEPALIVE_PROBES = 3
_SECRET_PIECES = re.compile(r"[:@]")


@dataclass(frozen=True)
class Bounds:
    """Seconds each kind of wait may last (0: unbounded, except keepalives, always on);
    `grace` is how long past the statement timeout the client waits for any answer."""

    connect_timeout: float = 10.0
    statement_timeout: float = 600.0
    lock_timeout: float = 120.0
    keepalives_idle: float = 30.0
    grace: float = GRACE_SECONDS

    @classmethod
    def from_env(cls) -> "Bounds":
        """The bounds set by `IMPORT_DB_*` variables (see README), defaults otherwise."""
        values = {}
        for name, (variable, default) in _ENV.items():
            raw = os.environ.get(variable, "")
            try:
                values[name] = float(raw) if raw.strip() else default
            except ValueError:
                raise DatabaseUnavailable(
                    f"{variable} is {raw[:40]!r}, not a number of seconds",
                    f"Set {variable} to seconds, e.g. {default:g}.",
                ) from None
        return cls(**values)

    @property
    def deadline(self) -> float | None:
        return self.statement_timeout + self.grace if self.statement_timeout else None

    def libpq(self, options: str) -> dict[str, Any]:
        """Connection parameters: the server settings go into `options`, after the URL's own."""
        interval = max(1, round(self.keepalives_idle / _KEEPALIVE_PROBES))
        server = (
            f"-c statement_timeout={round(self.statement_timeout * 1000)} "
            f"-c lock_timeout={round(self.lock_timeout * 1000)}"
        )
        return {
            "connect_timeout": max(1, round(self.connect_timeout)) if self.connect_timeout else 0,
            "keepalives": 1,
            "keepalives_idle": max(1, round(self.keepalives_idle)),
            "keepalives_interval": interval,
            "keepalives_count": _KEEPALIVE_PROBES,
            "tcp_user_timeout": round((self.keepalives_idle + interval * _KEEPALIVE_PROBES) * 1000),
            "options": f"{options} {server}".strip(),
        }


def open_connection(url: str, application_name: str, bounds: Bounds) -> "BoundedConnection":
    """A connection whose every wait is bounded. A failure to connect is
    `DatabaseUnavailable` whose message holds nothing of the URL."""
    _refuse_unescaped_at(url)
    failure = ""
    try:
        options = parse_dsn(url).get("options", "")
        dsn = make_dsn(url, application_name=application_name, **bounds.libpq(options))
        conn = psycopg2.connect(dsn, connection_factory=BoundedConnection)
    except psycopg2.Error as exc:
        failure = redacted(_first_line(exc), url)
    if failure:
        # NOTE: raised outside the `except` block so the original error (whose text may
        # quote the URL) is neither the cause nor the context of ours.
        raise DatabaseUnavailable(
            f"cannot connect to the database ({failure})",
            "Check that the server is up and reachable and that DATABASE_URL names it.",
        )
    conn.watch(bounds.deadline)
    return conn


def redacted(text: str, url: str) -> str:
    """`text` without the URL, its password, or any piece of its `user:password@` part
    (libpq quotes a misread URL's pieces, e.g. a host name after an unescaped `@`)."""
    secrets = {url}
    with suppress(psycopg2.ProgrammingError):
        secrets.add(parse_dsn(url).get("password") or "")
    authority = url.split("://", 1)[1].split("/", 1)[0] if "://" in url else ""
    userinfo = authority.rpartition("@")[0]
    secrets.add(userinfo)
    secrets.update(_SECRET_PIECES.split(userinfo))
    for secret in sorted((s for s in secrets if len(s) >= 2), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _refuse_unescaped_at(url: str) -> None:
    if "://" not in url:
        return
    authority = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
    if authority.count("@") > 1:
        raise DatabaseUnavailable(
            "the database URL's user:password part holds an unescaped '@'",
            "Percent-encode it in DATABASE_URL ('@' as %40, ':' as %3A, '/' as %2F).",
        )


class BoundedConnection(connection):
    """A psycopg2 connection whose statements and commits run under the deadline."""

    deadline: float | None = None
    _watchdog: "_Watchdog | None" = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cursor_factory = BoundedCursor

    def watch(self, deadline: float | None) -> None:
        self.deadline = deadline
        if deadline:
            self._watchdog = _Watchdog(self, deadline)

    @contextmanager
    def bounded(self) -> Iterator[None]:
        """Run one round trip; shut the socket if it outlives the deadline, and turn
        the failures that mean "the database did not answer in time / at all" into
        named errors."""
        watchdog = self._watchdog
        if watchdog is not None:
            watchdog.arm()
        fired = False
        try:
            yield
        except psycopg2.Error as exc:
            fired = watchdog is not None and watchdog.disarm()
            named = self._named(exc, fired)
            if named is exc:
                raise
            raise named from exc
        finally:
            fired = fired or (watchdog is not None and watchdog.disarm())
        if fired:
            raise self._named(None, fired=True)

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.stop()
        super().close()

    def _named(self, exc: psycopg2.Error | None, fired: bool) -> Exception:
        if fired:
            return DatabaseTimeout(
                f"the database did not answer within {self.deadline:g} s (frozen or overloaded "
                "server?)",
                "Check the server; raise IMPORT_DB_STATEMENT_TIMEOUT if statements are just slow.",
            )
        assert exc is not None
        if isinstance(exc, pg_errors.LockNotAvailable):
            return DatabaseTimeout(
                f"a lock was not granted in time ({_first_line(exc)})",
                "Retry once the other work is done; raise IMPORT_DB_LOCK_TIMEOUT to wait longer.",
            )
        if isinstance(exc, pg_errors.QueryCanceled) and "statement timeout" in str(exc):
            return DatabaseTimeout(
                f"a statement ran past the statement timeout ({_first_line(exc)})",
                "Check the server's load; raise IMPORT_DB_STATEMENT_TIMEOUT if it is just slow.",
            )
        if self.closed:
            return DatabaseUnavailable(
                f"the connection to the database was lost ({_first_line(exc)})",
                "Check that the server is up; the batch can be run again.",
            )
        return exc

    def commit(self) -> None:
        with self.bounded():
            super().commit()

    def rollback(self) -> None:
        with self.bounded():
            super().rollback()

    def __exit__(self, *exc_info: Any) -> Any:
        with self.bounded():
            return super().__exit__(*exc_info)


class BoundedCursor(cursor):
    """A cursor whose round trips run under its connection's deadline."""

    def execute(self, query: Any, vars: Any = None) -> None:  # noqa: A002 (psycopg2's name)
        with self.connection.bounded():
            super().execute(query, vars)

    def executemany(self, query: Any, vars_list: Any) -> None:
        with self.connection.bounded():
            super().executemany(query, vars_list)

    def copy_expert(self, sql: Any, file: Any, size: int = 8192) -> None:
        with self.connection.bounded():
            super().copy_expert(sql, file, size)


class _Watchdog:
    """One thread per connection that shuts its socket when a round trip outlives the
    deadline (arming it costs a lock and a notify: a timer thread per statement cost as
    much as a `SELECT 1`)."""

    def __init__(self, conn: "BoundedConnection", seconds: float) -> None:
        self.conn, self.seconds = conn, seconds
        self.fired = False
        self._until: float | None = None
        self._stopped = False
        self._wake = threading.Condition()
        threading.Thread(target=self._watch, name="db-deadline", daemon=True).start()

    def arm(self) -> None:
        with self._wake:
            self._until = time.monotonic() + self.seconds
            self.fired = False
            self._wake.notify()

    def disarm(self) -> bool:
        """Stop watching this round trip; whether the deadline had passed."""
        with self._wake:
            self._until = None
            return self.fired

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()

    def _watch(self) -> None:
        with self._wake:
            while not self._stopped:
                if self._until is None:
                    self._wake.wait()
                elif (left := self._until - time.monotonic()) > 0:
                    self._wake.wait(left)
                else:
                    self._until, self.fired = None, True
                    self._shut()

    def _shut(self) -> None:
        if self.conn.closed:
            return
        with suppress(OSError), socket.socket(fileno=os.dup(self.conn.fileno())) as sock:
            sock.shutdown(socket.SHUT_RDWR)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
