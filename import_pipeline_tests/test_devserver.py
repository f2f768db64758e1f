"""The dev instance `make dev` starts: no newsletter pop-up; the database URL is printed;
the CLI reaches the running dev database without being told its URL."""

import dagster as dg
import pytest

from import_pipeline import devserver
from import_pipeline.cli import main
from import_pipeline.db.connect import connected, embedded_server_url
from import_pipeline.db.migrate import migrate
from import_pipeline.devserver import instance_home


def test_the_dev_instance_shows_no_first_visit_pop_up(tmp_path, monkeypatch):
    home = instance_home(tmp_path / "dagster_home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert not instance.nux_enabled


def test_db_url_prints_the_database_url(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql://someone@db.example/imports")
    assert main(["db-url"]) == 0
    assert capsys.readouterr().out == "postgresql://someone@db.example/imports\n"


def test_rejects_finds_the_running_dev_database_without_a_url(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(devserver, "DEV", tmp_path)
    assert main(["rejects", "orders_x.csv-0"]) == 2
    assert "start `make dev`" in capsys.readouterr().err, "no server yet: say how to get one"
    with connected(embedded_server_url(tmp_path / "pgdata")) as conn:
        migrate(conn)
    assert main(["rejects", "orders_x.csv-0"]) == 2
    assert "no batch 'orders_x.csv-0' in the ledger" in capsys.readouterr().err


def test_psql_passes_its_arguments_and_anything_else_is_refused(tmp_path, monkeypatch, capfd):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(devserver, "DEV", tmp_path)
    monkeypatch.setattr(devserver, "main", lambda: pytest.fail("started dagster dev"))
    assert devserver.command_line(["psql", "-tA", "-c", "SELECT 40 + 2"]) == 0
    assert capfd.readouterr().out == "42\n"
    assert devserver.command_line(["-tA"]) == 2
    assert "unknown argument '-tA'" in capfd.readouterr().err
