"""`safety export ae` and `safety export audit`: files written, companions beside the XPT, audited, bad input."""
from __future__ import annotations

import csv
import io
import json

import pandas as pd

from conftest import NOW
from safety_service.domain import adverse_events, audit
from safety_service.exports import audit_trail


def record_aes(app, db, people, enrol):
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    enrol("S01-001")
    enrol("S02-001")
    for sid, nurse, term, onset in (("S01-001", "nurse_nina", "Flank pain", "2026-01-13"),
                                    ("S01-001", "nurse_nina", "Fever", "2026-03-02"),
                                    ("S02-001", "nurse_noah", "Nausea", "2026-02-10")):
        adverse_events.create(db, {"subject_id": sid, "term": term, "verbatim": term.lower(), "grade": 1,
                                   "onset": onset, "end_date": onset, "serious": False,
                                   "relatedness_product": "not_related", "relatedness_procedure": "possible",
                                   "outcome": "recovered", "action_taken": "not_applicable", "expected": True},
                              catalogue=rb.ctcae, study=rb.study, tz=tz, actor=people[nurse], now=NOW)


def test_it_writes_the_ae_listing_as_csv_with_a_date_range(app, db, people, enrol, tmp_path):
    record_aes(app, db, people, enrol)
    out = tmp_path / "ae.csv"
    result = app.test_cli_runner().invoke(args=["export", "ae", "--format", "csv", "-o", str(out),
                                                "--from", "2026-02-01", "--to", "2026-02-28"])
    assert result.exit_code == 0, result.output
    text = out.read_bytes().decode("utf-8")
    assert text.startswith("# NCT07396155 Adverse event listing;")
    rows = list(csv.DictReader(io.StringIO(text.split("\r\n", 1)[1], newline="")))
    assert [(r["Subject"], r["CTCAE term"]) for r in rows] == [("S02-001", "Nausea")]
    assert "1 rows, sha256" in result.output
    entries = {e["field"]: e for e in audit.history(db, "export", "NCT07396155_ae_20260615T100000Z.csv")}
    assert entries["rows"]["new_value"] == "1" and entries["rows"]["actor"] == "cli"
    assert json.loads(entries["filters"]["new_value"]) == {"from": "2026-02-01", "to": "2026-02-28"}


def test_it_writes_suppae_and_the_define_beside_the_xpt(app, db, people, enrol, tmp_path):
    record_aes(app, db, people, enrol)
    out = tmp_path / "ae.xpt"
    result = app.test_cli_runner().invoke(args=["export", "ae", "--format", "xpt", "-o", str(out)])
    assert result.exit_code == 0, result.output
    ae = pd.read_sas(out, format="xport", encoding="ascii")
    assert len(ae) == 3 and set(ae["DOMAIN"]) == {"AE"}
    supp = pd.read_sas(tmp_path / "suppae.xpt", format="xport", encoding="ascii")
    assert set(supp["QNAM"]) == {"AEPHASE", "AERELPRC", "AETRTEM"}
    define = (tmp_path / "define.xml").read_text(encoding="utf-8")
    assert 'Name="AE"' in define and 'Name="SUPPAE"' in define and 'def:DefineVersion="2.1.0"' in define


def test_it_writes_a_fhir_bundle_at_the_given_export_time(app, db, people, enrol, tmp_path):
    record_aes(app, db, people, enrol)
    out = tmp_path / "ae.json"
    result = app.test_cli_runner().invoke(args=["export", "ae", "--format", "fhir", "-o", str(out),
                                                "--now", "2026-07-01T08:00:00+00:00"])
    assert result.exit_code == 0, result.output
    bundle = json.loads(out.read_text(encoding="utf-8"))
    assert bundle["timestamp"] == "2026-07-01T08:00:00+00:00" and len(bundle["entry"]) == 3


def test_it_fails_with_a_one_line_error_on_bad_input(app, people, tmp_path):
    runner = app.test_cli_runner()
    bad_date = runner.invoke(args=["export", "ae", "--format", "csv", "-o", str(tmp_path / "x.csv"),
                                   "--from", "2026-02-30"])
    assert bad_date.exit_code != 0 and "from: must be a date YYYY-MM-DD" in bad_date.output
    assert not (tmp_path / "x.csv").exists()
    bad_format = runner.invoke(args=["export", "ae", "--format", "docx", "-o", str(tmp_path / "x.docx")])
    assert bad_format.exit_code != 0 and "docx" in bad_format.output
    no_folder = runner.invoke(args=["export", "audit", "-o", str(tmp_path / "missing" / "audit.csv")])
    assert no_folder.exit_code != 0 and "does not exist" in no_folder.output


def test_it_exports_the_audit_trail_and_says_it_is_intact(app, db, people, tmp_path):
    out = tmp_path / "audit.csv"
    result = app.test_cli_runner().invoke(args=["export", "audit", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "audit trail intact" in result.output
    data = out.read_bytes()
    assert audit_trail.verify_csv(data).ok
    head, body = data.decode("utf-8").split("\r\n", 1)
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    assert head.endswith(f"audit chain head (safety audit anchor) {rows[-1]['id']}:{rows[-1]['hash']}")
    assert len(rows) == audit.verify(db).checked - 6  # the export's own 6 entries came after the snapshot


def test_it_exits_1_naming_the_broken_entry_when_the_trail_was_tampered_with(app, db, people, tmp_path):
    db.execute("DROP TRIGGER audit_log_no_update")  # what an attacker with file access could do
    db.execute("UPDATE audit_log SET new_value = 'auditor' WHERE id = 3")
    result = app.test_cli_runner().invoke(args=["export", "audit", "-o", str(tmp_path / "audit.csv")])
    assert result.exit_code == 1
    assert "audit trail broken at entry 3" in result.output


# --- never overwrite silently (issue 15, finding 9) -------------------------------------------------------------

def test_it_refuses_to_overwrite_an_existing_file_unless_forced(app, db, people, enrol, tmp_path):
    record_aes(app, db, people, enrol)
    runner = app.test_cli_runner()
    target = tmp_path / "ae.csv"
    target.write_text("the auditor's earlier listing")
    exports_before = db.execute("SELECT count(*) FROM audit_log WHERE action = 'export'").fetchone()[0]
    r = runner.invoke(args=["export", "ae", "--format", "csv", "-o", str(target)])
    assert r.exit_code == 1 and "exists" in r.output and "--force" in r.output
    assert target.read_text() == "the auditor's earlier listing"
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'export'").fetchone()[0] == exports_before
    forced = runner.invoke(args=["export", "ae", "--format", "csv", "-o", str(target), "--force"])
    assert forced.exit_code == 0 and target.read_text() != "the auditor's earlier listing"


def test_it_refuses_when_only_the_xpt_sibling_suppae_exists(app, db, people, enrol, tmp_path):
    record_aes(app, db, people, enrol)
    (tmp_path / "suppae.xpt").write_bytes(b"earlier")
    r = app.test_cli_runner().invoke(args=["export", "ae", "--format", "xpt", "-o", str(tmp_path / "ae.xpt")])
    assert r.exit_code == 1 and "suppae.xpt exists" in r.output
    assert not (tmp_path / "ae.xpt").exists() and (tmp_path / "suppae.xpt").read_bytes() == b"earlier"
    forced = app.test_cli_runner().invoke(args=["export", "ae", "--format", "xpt", "-o", str(tmp_path / "ae.xpt"),
                                                "--force"])
    assert forced.exit_code == 0 and (tmp_path / "suppae.xpt").read_bytes() != b"earlier"


def test_it_refuses_to_overwrite_an_audit_export(app, db, people, tmp_path):
    target = tmp_path / "audit.csv"
    target.write_text("kept")
    r = app.test_cli_runner().invoke(args=["export", "audit", "-o", str(target)])
    assert r.exit_code == 1 and "exists" in r.output and target.read_text() == "kept"
    assert app.test_cli_runner().invoke(args=["export", "audit", "-o", str(target), "--force"]).exit_code == 0
