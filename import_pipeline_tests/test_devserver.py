"""The dev instance `make dev` starts: no newsletter pop-up; the database URL is printed."""

import dagster as dg

from import_pipeline.cli import main
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
