"""What a failed load's error really was, and whether trying again can heal it."""

from collections.abc import Iterator

import psycopg2
from psycopg2 import errors as pg_errors

from import_pipeline.core.errors import DatabaseProblem, DatabaseUnavailable, ImportFileError

TRANSIENT = (
    psycopg2.OperationalError,  # a lost or refused connection, a shutdown, a timeout
    psycopg2.InterfaceError,  # a connection closed under us
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    DatabaseProblem,  # a lost, refused or frozen server, named by db/bounded.py
)


def chain(error: BaseException) -> Iterator[BaseException]:
    """The error, then what caused it (or was being handled when it was raised), unless it
    was raised `from None`: a named database error hides libpq's text on purpose, since
    that text may quote the connection string."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        hidden = current.__suppress_context__
        current = current.__cause__ or (None if hidden else current.__context__)


def original_error(error: BaseException) -> BaseException:
    """The error that `connection already closed` hides: after the server drops a
    connection, psycopg2's rollback on leaving `with conn:` raises InterfaceError over
    the real cause (e.g. `AdminShutdown: terminating connection ...`)."""
    links = list(chain(error))
    for index, link in enumerate(links):
        if isinstance(link, psycopg2.InterfaceError):
            continue
        if isinstance(link, DatabaseUnavailable) and index + 1 < len(links):
            continue  # a lost connection: the server's own words are below it
        return link
    return error


def is_transient(error: BaseException) -> bool:
    """Whether running the step again can heal it: a database connection or timeout
    problem, or a serialization failure, anywhere in its chain; never a named file error
    (a person must fix the file first), whatever it was raised from."""
    links = list(chain(error))
    if any(isinstance(link, ImportFileError) for link in links):
        return False
    return any(isinstance(link, TRANSIENT) for link in links)


def describe(error: BaseException) -> str:
    """What the ledger says of a failure: a named file error's own message (it names
    itself), else the original error as `Type: message`."""
    for link in chain(error):
        if isinstance(link, ImportFileError):
            return str(link)
    cause = original_error(error)
    message = str(cause).strip()
    return f"{type(cause).__name__}: {message}" if message else type(cause).__name__
