"""Versioned SQL migrations from `migrations/*.sql`, each applied once, in name order.

Safe to call at every start and from concurrent processes: an advisory lock serialises
appliers, and applied versions are recorded in `public.import_pipeline_migrations`.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from psycopg2.extensions import connection

from import_pipeline.db.connect import connected

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_ID = 0x1A9017  # arbitrary, constant: "import_pipeline migrations"


def pending(applied: set[str]) -> list[Path]:
    return [p for p in sorted(MIGRATIONS.glob("*.sql")) if p.stem not in applied]


def migrate(conn: connection) -> list[str]:
    """Apply every migration not yet applied; return the versions applied now."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        cur.execute(
            "CREATE TABLE IF NOT EXISTS public.import_pipeline_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur.execute("SELECT version FROM public.import_pipeline_migrations")
        applied = {row[0] for row in cur.fetchall()}
        done = []
        for path in pending(applied):
            cur.execute(path.read_text())
            cur.execute(
                "INSERT INTO public.import_pipeline_migrations (version) VALUES (%s)", (path.stem,)
            )
            done.append(path.stem)
    return done


@contextmanager
def connected_migrated(url: str, application_name: str, apply: bool) -> Iterator[connection]:
    """A connection (see `connected`) whose migrations are applied first when `apply` is
    set, so a resource is the one entry point that both connects and migrates once."""
    with connected(url, application_name) as conn:
        if apply:
            migrate(conn)
        yield conn
