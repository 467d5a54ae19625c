import sqlite3

import pytest

from conftest import NOW
from safety_service.domain import audit


def _tamper(path, sql, params=()):
    """An attacker with the file: drops the append-only triggers, then edits."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def test_it_chains_entries_and_verifies_an_intact_trail(db, enrol):
    enrol("S01-001")
    result = audit.verify(db)
    assert result.ok and result.checked > 10


def test_it_refuses_updates_and_deletes_of_audit_rows(db, enrol):
    enrol("S01-001")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit_log WHERE id = 1")


def test_it_names_the_first_edited_entry(app, db, enrol):
    enrol("S01-001")
    _tamper(app.config["DATABASE"], "UPDATE audit_log SET new_value = '99.0' WHERE id = 7")
    result = audit.verify(db)
    assert not result.ok and result.broken_id == 7 and "changed" in result.problem


def test_it_names_a_deleted_entry(app, db, enrol):
    enrol("S01-001")
    _tamper(app.config["DATABASE"], "DELETE FROM audit_log WHERE id = 5")
    result = audit.verify(db)
    assert not result.ok and result.broken_id == 6 and "missing" in result.problem


def test_it_exits_1_from_the_cli_when_the_chain_is_broken(app, enrol):
    enrol("S01-001")
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "intact" in ok.output
    _tamper(app.config["DATABASE"], "UPDATE audit_log SET actor = 'mallory' WHERE id = 3")
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1 and "entry 3" in bad.output


def test_it_records_who_what_old_new_and_why(db):
    audit.record(db, actor="nina@example.org", action="amend", entity="ae", entity_id=4, at=NOW,
                 changes={"grade": (2, 3)}, reason="worsened")
    entry = db.execute("SELECT actor, at, entity, entity_id, field, old_value, new_value, reason FROM audit_log "
                       "WHERE entity = 'ae'").fetchone()
    assert entry == ("nina@example.org", "2026-06-15T10:00:00+00:00", "ae", "4", "grade", "2", "3", "worsened")


def test_it_rolls_back_the_audit_entry_with_the_change(db):
    from safety_service.db import atomic
    before = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    with pytest.raises(RuntimeError):
        with atomic(db):
            audit.record(db, actor="x", action="create", entity="thing", at=NOW)
            raise RuntimeError("the change failed")
    assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == before
