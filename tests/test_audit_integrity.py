"""The audit trail against someone who can write the database file (issue 15, findings 3 and 4).

Story: auditor_ada keeps the anchor printed on an export; later an insider with write access to safety.db
cuts the trail short, rebuilds the chain after an edit, or edits an AE or lab row directly. Each attack must
make `safety audit verify` fail and name what is wrong.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat

import pytest

from conftest import NOW
from safety_service import create_app
from safety_service.clock import FixedClock
from safety_service.db import connect
from safety_service.domain import adverse_events, audit, labs

FIELDS = ("at", "actor", "action", "entity", "entity_id", "field", "old_value", "new_value", "reason")


def _sql(path, *statements):
    """The attacker: opens the file, drops the triggers that protect rows, runs SQL."""
    conn = sqlite3.connect(path)
    for trigger in ("audit_log_no_update", "audit_log_no_delete", "labs_no_update"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for s in statements:
        conn.execute(*s) if isinstance(s, tuple) else conn.execute(s)
    conn.commit()
    conn.close()


def _rechain(path, key: bytes | None = None, key_id: str | None = None):
    """Recompute every hash as the old SHA-256 chain did (key None), or as HMAC with a key the attacker holds."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    prev = "0" * 64
    for values in conn.execute(f"SELECT id, {', '.join(FIELDS)} FROM audit_log ORDER BY id").fetchall():
        entry = dict(zip(FIELDS, values[1:]))
        entry["key_id"] = key_id
        digest = audit.entry_hash(prev, entry, key)
        conn.execute("UPDATE audit_log SET prev_hash = ?, hash = ?, key_id = ? WHERE id = ?",
                     [prev, digest, key_id, values[0]])
        prev = digest
    conn.commit()
    conn.close()


@pytest.fixture
def ae(app, db, people, enrol):
    """An SAE of S01-001 recorded by nurse_nina, then amended, and a creatinine result."""
    enrol("S01-001")
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    ctx = dict(catalogue=rb.ctcae, study=rb.study, tz=tz, now=NOW)
    created = adverse_events.create(db, {
        "subject_id": "S01-001", "term": "Hematuria", "verbatim": "blood in urine", "grade": 3,
        "onset": "2026-06-14", "serious": True, "seriousness": ["hospitalization"],
        "relatedness_product": "possible", "relatedness_procedure": "probable", "expected": False,
        "action_taken": "not_applicable", "outcome": "recovering"}, actor=people["nurse_nina"], **ctx)
    adverse_events.amend(db, created["id"], {"outcome": "recovered", "end_date": "2026-06-15"},
                         reason="resolved on the ward", actor=people["nurse_nina"], **ctx)
    labs.record(db, "S01-001", {"analyte": "creatinine", "value": 2, "unit": "mg/dL",
                                "collected_at": "2026-06-01T08:00:00+00:00"},
                rules=rb.lab_rules, study=rb.study, tz=tz, user=people["nurse_nina"], source="api", now=NOW)
    return adverse_events.get(db, created["id"], user=None)


def test_it_chains_new_entries_with_the_audit_key(db, ae):
    keyed = db.execute("SELECT count(*) FROM audit_log WHERE key_id IS NULL").fetchone()[0]
    assert keyed == 0
    result = audit.verify(db)
    assert result.ok, result.describe()


def test_it_fails_a_chain_rebuilt_without_the_key(app, db, ae):
    """The attack of issue 15: edit an entry, then recompute every hash as plain SHA-256. It verified before."""
    path = app.config["DATABASE"]
    _sql(path, "UPDATE audit_log SET new_value = '1' WHERE field = 'grade'")
    _rechain(path)
    result = audit.verify(db)
    assert not result.ok and result.broken_id is not None
    assert "without the audit key" in result.problem


def test_it_fails_a_chain_rebuilt_with_a_guessed_key(app, db, ae):
    _sql(app.config["DATABASE"], "UPDATE audit_log SET new_value = '1' WHERE field = 'grade'")
    _rechain(app.config["DATABASE"], b"guess", audit.key_id("guess"))
    result = audit.verify(db)
    assert not result.ok and result.broken_id == 1 and "does not hold" in result.problem


def test_it_fails_a_trail_cut_short_after_the_anchor(app, db, ae):
    anchor = audit.anchor(db)
    last = int(anchor.split(":")[0])
    _sql(app.config["DATABASE"], ("DELETE FROM audit_log WHERE id > ?", [last - 3]))
    assert audit.verify(db).ok  # without the anchor a clean cut at the end cannot be seen: that is what it is for
    result = audit.verify(db, anchor=anchor)
    assert not result.ok and "cut short" in result.problem and f"entry {last}" in result.problem


def test_it_fails_a_trail_rebuilt_after_the_anchor_by_someone_holding_the_key(app, db, ae):
    anchor = audit.anchor(db)
    ring = audit.keyring(db)
    _sql(app.config["DATABASE"], "UPDATE audit_log SET reason = 'typo' WHERE reason = 'resolved on the ward'")
    _rechain(app.config["DATABASE"], ring.keys[ring.current_id], ring.current_id)
    assert audit.verify(db).ok  # a key holder can re-chain; the anchor kept elsewhere still tells
    result = audit.verify(db, anchor=anchor)
    assert not result.ok and result.broken_id == int(anchor.split(":")[0]) and "rebuilt" in result.problem


def test_it_passes_an_anchor_of_the_intact_trail_and_an_earlier_one(db, ae):
    early = audit.anchor(db)
    audit.record(db, actor="x@example.org", action="note", entity="thing", at=NOW)
    assert audit.verify(db, anchor=early).ok
    assert audit.verify(db, anchor=audit.anchor(db)).ok


def test_it_refuses_a_malformed_anchor(db):
    with pytest.raises(ValueError, match="ID:HASH"):
        audit.verify(db, anchor="12:abc")


def test_it_names_the_ae_and_field_changed_directly_in_sqlite(app, db, ae):
    """`UPDATE adverse_events SET grade=5` left verify "intact" before."""
    _sql(app.config["DATABASE"], ("UPDATE adverse_events SET grade = 5 WHERE id = ?", [ae["id"]]))
    result = audit.verify(db)
    assert not result.ok
    assert f"{adverse_events.display_id(ae)} (id {ae['id']})" in result.problem and "grade" in result.problem


def test_it_names_an_amended_field_set_back_directly(app, db, ae):
    _sql(app.config["DATABASE"], ("UPDATE adverse_events SET end_date = NULL WHERE id = ?", [ae["id"]]))
    result = audit.verify(db)
    assert not result.ok and "end_date" in result.problem


def test_it_names_a_lab_value_changed_directly(app, db, ae):
    _sql(app.config["DATABASE"], "UPDATE labs SET value = 1.1, value_si = 97.2")
    result = audit.verify(db)
    assert not result.ok and "lab result S01-001 creatinine" in result.problem and "value" in result.problem


def test_it_names_an_ae_inserted_around_the_service(app, db, ae):
    conn = sqlite3.connect(app.config["DATABASE"])
    cols = [r[1] for r in conn.execute("PRAGMA table_info(adverse_events)") if r[1] not in ("id", "seq")]
    conn.execute(f"INSERT INTO adverse_events (seq, {', '.join(cols)}) SELECT 99, {', '.join(cols)} "
                 "FROM adverse_events WHERE id = ?", [ae["id"]])
    conn.commit()
    conn.close()
    result = audit.verify(db)
    assert not result.ok and "no audit entry" in result.problem


def test_it_finds_no_difference_after_amendment_entered_in_error_and_sign_off(app, db, people, ae):
    from conftest import PASSWORD
    adverse_events.sign_off(db, ae["id"], password=PASSWORD, actor=people["investigator_ivan"], now=NOW)
    adverse_events.record_report_sent(db, ae["id"], actor=people["investigator_ivan"], now=NOW,
                                      tz=app.config["TIMEZONE"])
    adverse_events.mark_entered_in_error(db, ae["id"], reason="wrong participant", actor=people["nurse_nina"], now=NOW)
    result = audit.verify(db)
    assert result.ok, result.describe()


def test_it_keeps_entries_from_before_keying_verifiable_but_refuses_one_after(app, db, ae):
    """An existing database: its first entries were plain SHA-256. They verify; one slipped in after keyed
    entries does not (a downgrade would otherwise let anyone append unkeyed entries)."""
    path = app.config["DATABASE"]
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_log_no_update")
    first_keyed = 4
    prev = "0" * 64
    for values in conn.execute(f"SELECT id, {', '.join(FIELDS)}, key_id FROM audit_log ORDER BY id").fetchall():
        entry = dict(zip((*FIELDS, "key_id"), values[1:]))
        ring = audit.keyring(db)
        legacy = values[0] < first_keyed
        entry["key_id"] = None if legacy else ring.current_id
        digest = audit.entry_hash(prev, entry, None if legacy else ring.keys[ring.current_id])
        conn.execute("UPDATE audit_log SET prev_hash = ?, hash = ?, key_id = ? WHERE id = ?",
                     [prev, digest, entry["key_id"], values[0]])
        prev = digest
    conn.commit()
    conn.close()
    result = audit.verify(db)
    assert result.ok and result.legacy == first_keyed - 1 and "unkeyed" in result.describe()
    # now an unkeyed entry appended at the end, as someone without the key would
    last = db.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    entry = {"at": "2026-06-15T10:00:00+00:00", "actor": "mallory", "action": "note", "entity": "thing"}
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO audit_log (at, actor, action, entity, prev_hash, hash) VALUES (?,?,?,?,?,?)",
                 [*entry.values(), last[1], audit.entry_hash(last[1], entry)])
    conn.commit()
    conn.close()
    result = audit.verify(db)
    assert not result.ok and result.broken_id == last[0] + 1 and "without the audit key" in result.problem


def test_it_keeps_a_random_audit_key_beside_the_secret_key_readable_by_the_owner_only(tmp_path, monkeypatch):
    monkeypatch.delenv("SAFETY_AUDIT_KEY", raising=False)
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "a.db"), "INSTANCE_PATH": str(tmp_path / "inst"),
                      "CLOCK": FixedClock(NOW)})
    key_file = tmp_path / "inst" / "audit_key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert app.config["AUDIT_KEY"] == key_file.read_text().strip() != app.config["SECRET_KEY"]
    db = connect(app.config["DATABASE"])
    assert not db.execute("SELECT count(*) FROM audit_log WHERE key_id IS NOT ? ",
                          [audit.key_id(key_file.read_text().strip())]).fetchone()[0]
    db.conn.close()


def test_it_verifies_entries_of_a_retired_key_after_rotation(tmp_path, monkeypatch):
    """Rotation: SAFETY_AUDIT_KEY=new,old chains with the new key and still verifies what the old one chained."""
    config = {"TESTING": True, "DATABASE": str(tmp_path / "a.db"), "INSTANCE_PATH": str(tmp_path / "inst"),
              "CLOCK": FixedClock(NOW)}
    monkeypatch.setenv("SAFETY_AUDIT_KEY", "old-key-0123456789")
    create_app(config)
    db = connect(config["DATABASE"])
    audit.record(db, actor="a@example.org", action="note", entity="thing", at=NOW)
    anchor = audit.anchor(db)
    monkeypatch.setenv("SAFETY_AUDIT_KEY", "new-key-9876543210,old-key-0123456789")
    create_app(config)
    audit.record(db, actor="a@example.org", action="note", entity="thing", at=NOW)
    ids = [r[0] for r in db.execute("SELECT DISTINCT key_id FROM audit_log ORDER BY id")]
    assert ids == [audit.key_id("old-key-0123456789"), audit.key_id("new-key-9876543210")]
    assert audit.verify(db, anchor=anchor).ok
    monkeypatch.setenv("SAFETY_AUDIT_KEY", "new-key-9876543210")  # the old key thrown away: its entries cannot verify
    create_app(config)
    result = audit.verify(db)
    assert not result.ok and result.broken_id == 1 and "does not hold" in result.problem
    db.conn.close()


def test_it_prints_the_anchor_and_verifies_against_it_from_the_cli(app, db, ae):
    runner = app.test_cli_runner()
    printed = runner.invoke(args=["audit", "anchor"])
    assert printed.exit_code == 0 and printed.output.strip() == audit.anchor(db)
    anchor = printed.output.strip()
    ok = runner.invoke(args=["audit", "verify", "--anchor", anchor])
    assert ok.exit_code == 0 and "intact" in ok.output
    _sql(app.config["DATABASE"], ("DELETE FROM audit_log WHERE id = ?", [int(anchor.split(":")[0])]))
    cut = runner.invoke(args=["audit", "verify", "--anchor", anchor])
    assert cut.exit_code == 1 and "cut short" in cut.output
    bad = runner.invoke(args=["audit", "verify", "--anchor", "nonsense"])
    assert bad.exit_code == 2 and "ID:HASH" in bad.output


def test_it_fails_verify_from_the_cli_naming_a_directly_edited_ae(app, db, ae):
    _sql(app.config["DATABASE"], ("UPDATE adverse_events SET grade = 5 WHERE id = ?", [ae["id"]]))
    r = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert r.exit_code == 1 and adverse_events.display_id(ae) in r.output and "grade" in r.output


def test_it_lets_the_auditor_check_an_anchor_on_the_verify_page(app, db, web, ae):
    ada = web("auditor_ada")
    anchor = audit.anchor(db)
    ok = ada.get("/audit/verify", query_string={"anchor": anchor}).get_data(as_text=True)
    assert "Intact:" in ok and f"the anchor <code>{anchor}</code> is part of this trail" in ok
    _sql(app.config["DATABASE"], ("DELETE FROM audit_log WHERE id > ?", [int(anchor.split(":")[0]) - 2]))
    cut = ada.get("/audit/verify", query_string={"anchor": anchor}).get_data(as_text=True)
    assert "Check failed:" in cut and "cut short" in cut
    bad = ada.get("/audit/verify", query_string={"anchor": "12"})
    assert bad.status_code == 422 and "ID:HASH" in bad.get_data(as_text=True)


def test_it_follows_a_lab_entered_in_error_and_names_one_set_back_directly(app, db, people, ae):
    from safety_service.domain.corrections.lab_error import mark_entered_in_error
    rb = app.extensions["rulebook"]
    lab_id = db.execute("SELECT id FROM labs").fetchone()[0]
    mark_entered_in_error(db, lab_id, reason="typed 2 for 1.2", user=people["nurse_nina"], rules=rb.lab_rules,
                          study=rb.study, tz=app.config["TIMEZONE"], now=NOW)
    assert audit.verify(db).ok, audit.verify(db).describe()
    _sql(app.config["DATABASE"], "DROP TRIGGER IF EXISTS labs_only_entered_in_error",
         ("UPDATE labs SET status = 'valid' WHERE id = ?", [lab_id]))
    result = audit.verify(db)
    assert not result.ok and "status" in result.problem and "creatinine" in result.problem
