from safety_service import migrations
from safety_service.db import connect


def test_it_applies_every_migration_once_and_is_idempotent(tmp_path):
    db = connect(tmp_path / "m.db")
    first = migrations.apply(db)
    assert first and first == sorted(first)
    assert migrations.apply(db) == []
    assert {"users", "audit_log", "participants", "visits", "alerts"} <= set(db.table_names())


def test_it_runs_init_db_twice_from_the_cli(app):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["init-db"])
        assert result.exit_code == 0, result.output
        assert "0 migrations applied now" in result.output


def test_it_opens_the_database_in_wal_mode_with_foreign_keys(tmp_path):
    db = connect(tmp_path / "w.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_no_sqlite_utils_plugin_runs_on_the_services_connection(tmp_path):
    """An installed sqlite-utils plugin's prepare_connection hook must not touch the trial's database connection."""
    import sqlite3

    import pytest
    import sqlite_utils
    from sqlite_utils.plugins import pm

    from safety_service.db import connect

    class Intruder:
        @sqlite_utils.hookimpl
        def prepare_connection(self, conn):
            conn.create_function("intruder", 0, lambda: "ran")

    plugin = Intruder()
    pm.register(plugin, name="intruder-probe")
    try:
        assert sqlite_utils.Database(memory=True).execute("SELECT intruder()").fetchone() == ("ran",)  # it is live
        with pytest.raises(sqlite3.OperationalError, match="no such function"):
            connect(tmp_path / "probe.db").execute("SELECT intruder()")
    finally:
        pm.unregister(plugin)
