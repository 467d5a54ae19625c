"""Recording lab results: canonical value, eGFR on the day, CTCAE grade, AE offers, rule alerts; the pages."""
import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from sqlite_utils import Database

from safety_service import create_app
from safety_service.db import rows
from safety_service.domain import audit, labs
from safety_service.domain.egfr import ckd_epi_2021
from safety_service.domain.errors import Conflict, InvalidInput, NotFound
from safety_service.migrations import m0020_labs

from conftest import NOW

INJECTED = "2026-01-12T09:30:00+00:00"   # the enrol fixture's injection


@pytest.fixture
def lab(app, db, people):
    """lab(persona, subject_id, **fields) -> labs.Recorded, entered through the form path."""
    rb = app.extensions["rulebook"]

    def make(persona="nurse_nina", subject_id="S01-001", now=NOW, **data):
        return labs.record(db, subject_id, data, rules=rb.lab_rules, study=rb.study, tz=app.config["TIMEZONE"],
                           user=people[persona], source="form", now=now)
    return make


def count(db, table, where="1=1", params=()):
    return db.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()[0]


def baseline_creatinine(lab, value=1.2):
    lab(analyte="creatinine", value=value, unit="mg/dL", collected_at="2025-12-29T08:00:00+00:00", visit="SCR")
    lab(analyte="creatinine", value=value, unit="mg/dL", collected_at="2026-01-12T07:30:00+00:00", visit="D0")


# --- storing --------------------------------------------------------------------------------------------------

def test_it_stores_the_value_as_entered_and_in_the_canonical_unit_with_the_egfr_of_the_day(enrol, lab):
    enrol("S01-001")   # female, born 1968-03-02
    done = lab(analyte="creatinine", value=132.6, unit="µmol/L", collected_at="2026-03-01T08:00:00+01:00",
               visit="M1")
    r = done.lab
    assert (r["value"], r["unit"], r["value_si"], r["unit_si"]) == (132.6, "µmol/L", 1.5, "mg/dL")
    assert r["egfr"] == round(ckd_epi_2021(1.5, 57, "F"), 1)   # 57 the day before her 58th birthday
    assert (r["entered_by"], r["source"], r["visit"]) == ("nurse_nina@example.org", "form", "M1")
    assert labs.public(r)["kdigo_stage"] == "G3b"   # eGFR 40.4


def test_it_takes_the_age_on_the_local_collection_day(enrol, lab):
    enrol("S01-001")
    # 23:30 UTC on 1 March is 00:30 on 2 March in Berlin: her birthday, so 58.
    r = lab(analyte="creatinine", value=1.5, unit="mg/dL", collected_at="2026-03-01T23:30:00+00:00").lab
    assert r["egfr"] == round(ckd_epi_2021(1.5, 58, "F"), 1)


def test_it_reads_a_time_without_offset_in_the_study_time_zone(enrol, lab):
    enrol("S01-001")
    r = lab(analyte="potassium", value=4.2, unit="mmol/L", collected_at="2026-03-01T08:00").lab
    assert r["collected_at"] == "2026-03-01T07:00:00+00:00"   # Berlin is UTC+1 in March before DST


def test_it_uses_the_study_reference_range_unless_the_lab_gives_its_own(enrol, lab):
    enrol("S01-001")
    study = lab(analyte="creatinine", value=1.0, unit="mg/dL", collected_at="2026-02-01T08:00:00+00:00").lab
    assert (study["lln"], study["uln"], study["range_source"]) == (0.5, 1.1, "study")   # female range
    own = lab(analyte="creatinine", value=90, unit="umol/L", uln=97.24, lln=44.2,
              collected_at="2026-02-02T08:00:00+00:00").lab
    assert (own["lln"], own["uln"], own["range_source"]) == (0.5, 1.1, "lab")   # converted to mg/dL


def test_it_grades_a_lab_with_ctcae_and_offers_the_nurse_an_ae(enrol, lab, db):
    enrol("S01-001")
    r = lab(analyte="alt", value=150, unit="U/L", collected_at="2026-02-10T08:00:00+00:00").lab   # 4.3 x ULN 35
    assert (r["ctcae_term"], r["ctcae_grade"]) == ("Alanine aminotransferase increased", 2)
    (offer,) = labs.open_offers(db, "S01-001")
    assert (offer["lab_id"], offer["term"], offer["grade"], offer["onset"]) == \
        (r["id"], "Alanine aminotransferase increased", 2, "2026-02-10")
    assert count(db, "adverse_events") == 0 if db["adverse_events"].exists() else True  # never an AE by itself


def test_it_offers_no_ae_for_a_grade_already_present_at_baseline_or_before_the_injection(enrol, lab, db):
    enrol("S01-001")
    baseline_creatinine(lab, 2.0)   # 1.8 x ULN 1.1 (Creatinine increased 2); eGFR 28 (Chronic kidney disease 3)
    pre = db.execute("SELECT ctcae_term, ctcae_grade FROM labs ORDER BY id").fetchall()
    assert [tuple(g) for g in pre] == [("Chronic kidney disease", 3)] * 2   # graded, but before the injection
    assert labs.open_offers(db, "S01-001") == []
    lab(analyte="creatinine", value=2.2, unit="mg/dL", collected_at="2026-02-12T08:00:00+00:00")   # same grades
    assert labs.open_offers(db, "S01-001") == []
    # 3.1 x ULN: Creatinine increased 3 (new) ties with CKD 3 (as at baseline): the new worsening is offered.
    worse = lab(analyte="creatinine", value=3.4, unit="mg/dL", collected_at="2026-03-12T08:00:00+00:00").lab
    assert (worse["ctcae_term"], worse["ctcae_grade"]) == ("Creatinine increased", 3)
    assert [(o["lab_id"], o["term"]) for o in labs.open_offers(db, "S01-001")] == [(worse["id"],
                                                                                    "Creatinine increased")]


def test_a_creatinine_is_graded_by_the_worse_of_creatinine_and_its_egfr(enrol, lab):
    enrol("S01-001")
    baseline_creatinine(lab, 1.6)
    r = lab(analyte="creatinine", value=3.5, unit="mg/dL", collected_at="2026-02-12T08:00:00+00:00").lab
    assert r["egfr"] < 15
    assert (r["ctcae_term"], r["ctcae_grade"]) == ("Chronic kidney disease", 4)


def test_it_writes_the_audit_trail_in_the_same_transaction(enrol, lab, db):
    enrol("S01-001")
    r = lab(analyte="hemoglobin", value=110, unit="g/L", collected_at="2026-02-10T08:00:00+00:00").lab
    entries = audit.history(db, "lab", r["id"])
    (created,) = [e for e in entries if e["action"] == "create"]
    stored = json.loads(created["new_value"])
    assert (created["field"], created["old_value"]) == ("result", None)
    assert (stored["value"], stored["unit"], stored["value_si"], stored["collected_at"]) == \
        (110.0, "g/L", 11.0, "2026-02-10T08:00:00+00:00")
    assert all(e["actor"] == "nurse_nina@example.org" for e in entries)


@pytest.mark.parametrize("data, fields", [
    ({"analyte": "creatinine", "value": 1.2, "unit": "mmol/L"}, {"unit"}),
    ({"analyte": "natrium", "value": 140, "unit": "mmol/L"}, {"analyte"}),
    ({"analyte": "creatinine", "value": 4000, "unit": "mg/dL"}, {"value"}),
    ({"analyte": "creatinine", "value": "", "unit": "mg"}, {"value", "unit"}),
    ({"analyte": "creatinine", "value": 1.2, "unit": "mg/dL", "collected_at": ""}, {"collected_at"}),
    ({"analyte": "creatinine", "value": 1.2, "unit": "mg/dL", "collected_at": "2026-06-16T08:00:00+00:00"},
     {"collected_at"}),
    ({"analyte": "creatinine", "value": 1.2, "unit": "mg/dL", "collected_at": "0001-01-01T00:00:00+14:00"},
     {"collected_at"}),
    ({"analyte": "creatinine", "value": 1.2, "unit": "mg/dL", "visit": "M2"}, {"visit"}),
    ({"analyte": "creatinine", "value": 1.2, "unit": "mg/dL", "uln": "high"}, {"uln"}),
    ({"analyte": "creatinine", "value": 1.2, "unit": "mg/dL", "uln": 1.0, "lln": 1.3}, {"lln"}),
])
def test_it_refuses_bad_input_naming_every_field_and_stores_nothing(enrol, lab, db, data, fields):
    enrol("S01-001")
    audit_before = count(db, "audit_log")
    with pytest.raises(InvalidInput) as e:
        lab(**{"collected_at": "2026-02-10T08:00:00+00:00", **data})
    assert set(e.value.fields) == fields
    assert count(db, "labs") == 0 and count(db, "audit_log") == audit_before


def test_an_unknown_unit_error_lists_the_accepted_units(enrol, lab):
    enrol("S01-001")
    with pytest.raises(InvalidInput) as e:
        lab(analyte="hemoglobin", value=7, unit="mmol", collected_at="2026-02-10T08:00:00+00:00")
    assert "g/dL" in e.value.fields["unit"] and "g/L" in e.value.fields["unit"]


def test_the_same_sample_twice_is_stored_once_and_a_different_value_is_refused(enrol, lab, db):
    enrol("S01-001")
    first = lab(analyte="alt", value=30, unit="U/L", collected_at="2026-02-10T08:00:00+00:00")
    again = lab(analyte="alt", value=30.0, unit="IU/L", collected_at="2026-02-10T09:00:00+01:00")  # same instant
    assert again.duplicate and again.lab["id"] == first.lab["id"] and count(db, "labs") == 1
    with pytest.raises(Conflict) as e:
        lab(analyte="alt", value=31, unit="U/L", collected_at="2026-02-10T08:00:00+00:00")
    assert "value" in e.value.fields
    assert [r["value"] for r in rows(db, "SELECT value FROM labs")] == [30]


def test_a_nurse_cannot_enter_labs_for_another_site(enrol, lab):
    enrol("S01-001")
    with pytest.raises(NotFound):
        lab("nurse_noah", analyte="alt", value=30, unit="U/L", collected_at="2026-02-10T08:00:00+00:00")


def test_results_are_never_changed_or_deleted(enrol, lab, db):
    enrol("S01-001")
    lab(analyte="alt", value=30, unit="U/L", collected_at="2026-02-10T08:00:00+00:00")
    with pytest.raises(sqlite3.DatabaseError, match="never changed"):
        db.execute("UPDATE labs SET value = 31")
    with pytest.raises(sqlite3.DatabaseError, match="never deleted"):
        db.execute("DELETE FROM labs")


# --- rules and alerts -----------------------------------------------------------------------------------------

def test_a_breach_raises_one_alert_keyed_by_participant_rule_and_result(enrol, lab, db):
    enrol("S01-001")
    lab(analyte="hemoglobin", value=12.5, unit="g/dL", collected_at="2026-01-12T07:00:00+00:00", visit="D0")
    done = lab(analyte="hemoglobin", value=7.5, unit="g/dL", collected_at="2026-02-10T08:00:00+00:00")
    # CTCAE v5.0 Anemia grade 3 (< 8.0 g/dL) is the same finding as the protocol limit: one alert (issue 12).
    assert done.breaches == ("hemoglobin_below_8",)
    alerts = rows(db, "SELECT * FROM alerts ORDER BY id")
    assert [(a["key"], a["severity"], a["kind"], a["site"]) for a in alerts] == [
        (f"lab:S01-001:hemoglobin_below_8:{done.lab['id']}", "critical", "lab_rule", "S01")]
    assert "Hemoglobin 7.5 < 8" in alerts[0]["message"]


def test_a_sustained_egfr_decline_alerts_once_on_the_confirming_result(enrol, lab, db):
    enrol("S01-001")
    baseline_creatinine(lab, 1.2)                             # eGFR about 52
    m1 = lab(analyte="creatinine", value=1.75, unit="mg/dL", collected_at="2026-02-11T08:00:00+00:00").lab
    assert m1["egfr"] <= 0.7 * 52.2
    m3 = lab(analyte="creatinine", value=1.8, unit="mg/dL", collected_at="2026-04-13T08:00:00+00:00")
    assert "egfr_decline_30_sustained" in m3.breaches
    keys = {r["key"] for r in rows(db, "SELECT key FROM alerts")}
    # The early warning is one alert for the episode (m1 and m3 both below), the confirmation another (issue 12).
    assert keys >= {f"lab:S01-001:egfr_decline_30_early:{m1['id']}",
                    f"lab:S01-001:egfr_decline_30_sustained:{m3.lab['id']}"}
    assert f"lab:S01-001:egfr_decline_30_early:{m3.lab['id']}" not in keys


def test_the_participant_page_says_when_to_repeat_a_decline_awaiting_confirmation(enrol, lab, web):
    enrol("S01-001")
    baseline_creatinine(lab, 1.2)
    lab(analyte="creatinine", value=1.8, unit="mg/dL", collected_at="2026-05-20T08:00:00+00:00")   # -36 %
    page = web("investigator_ivan").get("/participants/S01-001").get_data(as_text=True)
    assert 'data-rule="egfr_decline_30_sustained"' in page
    assert "Repeat the test on or after 2026-06-17" in page   # 28 days after 20 May


def test_the_scheduled_check_raises_nothing_twice_and_catches_a_changed_rule(app, enrol, lab, db):
    enrol("S01-001")
    lab(analyte="hemoglobin", value=8.5, unit="g/dL", collected_at="2026-02-10T08:00:00+00:00")
    rules = app.extensions["rulebook"].lab_rules
    assert labs.check_all(db, rules, NOW) == 0
    stricter = rules.model_copy(update={"rules": [
        r.model_copy(update={"threshold": 9.0}) if r.id == "hemoglobin_below_8" else r for r in rules.rules]})
    assert labs.check_all(db, stricter, NOW) == 1
    assert labs.check_all(db, stricter, NOW) == 0


def test_an_edited_rules_file_is_audited_at_the_next_start(tmp_path, clock):
    import shutil
    from pathlib import Path
    rules_dir = tmp_path / "rules"
    shutil.copytree(Path(__file__).resolve().parent.parent / "rules", rules_dir)
    config = {"TESTING": True, "DATABASE": str(tmp_path / "r.db"), "INSTANCE_PATH": str(tmp_path / "i"),
              "RULES_DIR": str(rules_dir), "CLOCK": clock, "SECRET_KEY": "k"}
    create_app(config)
    f = rules_dir / "safety_rules.toml"
    f.write_text(f.read_text().replace("threshold = 15", "threshold = 20"))
    create_app(config)
    db = Database(str(tmp_path / "r.db"))
    actions = [r["action"] for r in db.query("SELECT action FROM audit_log WHERE entity = 'rules_file' AND "
                                             "entity_id = 'safety_rules.toml' ORDER BY id")]
    assert actions == ["rules_loaded", "rules_changed"]


# --- reading --------------------------------------------------------------------------------------------------

def test_the_series_is_oldest_first_and_filters_by_analyte(enrol, lab, db, people):
    enrol("S01-001")
    lab(analyte="alt", value=30, unit="U/L", collected_at="2026-03-10T08:00:00+00:00")
    lab(analyte="uacr", value=340, unit="mg/g", collected_at="2026-02-10T08:00:00+00:00")
    lab(analyte="alt", value=25, unit="U/L", collected_at="2026-02-10T08:00:00+00:00")
    everything = labs.series(db, "S01-001", user=people["auditor_ada"])
    assert [(r["analyte"], r["collected_at"][:10]) for r in everything] == [   # same instant: entry order
        ("uacr", "2026-02-10"), ("alt", "2026-02-10"), ("alt", "2026-03-10")]
    assert everything[0]["kdigo_stage"] == "A3"
    assert [r["value"] for r in labs.series(db, "S01-001", user=people["auditor_ada"], analyte="ALT")] == [25, 30]
    with pytest.raises(InvalidInput):
        labs.series(db, "S01-001", user=people["auditor_ada"], analyte="sodium")


# --- AE offers ------------------------------------------------------------------------------------------------

def test_dismissing_a_suggested_ae_needs_a_reason_and_is_audited(enrol, lab, db, people):
    enrol("S01-001")
    r = lab(analyte="alt", value=150, unit="U/L", collected_at="2026-02-10T08:00:00+00:00").lab
    with pytest.raises(InvalidInput):
        labs.dismiss_offer(db, r["id"], reason="  ", user=people["nurse_nina"], now=NOW)
    with pytest.raises(NotFound):
        labs.dismiss_offer(db, r["id"], reason="haemolysed", user=people["nurse_noah"], now=NOW)
    offer = labs.dismiss_offer(db, r["id"], reason="haemolysed sample, repeat normal", user=people["nurse_nina"],
                               now=NOW)
    assert (offer["status"], offer["dismissed_by"]) == ("dismissed", "nurse_nina@example.org")
    assert labs.open_offers(db, "S01-001") == []
    (entry,) = [e for e in audit.history(db, "lab", r["id"]) if e["action"] == "ae_offer_dismissed"]
    assert entry["reason"] == "haemolysed sample, repeat normal"
    with pytest.raises(Conflict):
        labs.dismiss_offer(db, r["id"], reason="again", user=people["nurse_nina"], now=NOW)


def test_an_offer_is_marked_recorded_once_an_ae_with_its_term_and_onset_exists():
    db = Database(memory=True)
    m0020_labs.up(db)
    db.execute("CREATE TABLE adverse_events (id INTEGER PRIMARY KEY, subject_id TEXT, term TEXT, onset TEXT, "
               "status TEXT)")
    db["labs"].insert({"id": 1, "participant_id": 1, "subject_id": "S01-001", "site": "S01", "analyte": "alt",
                       "value": 150, "unit": "U/L", "value_si": 150, "unit_si": "U/L", "collected_at": "x",
                       "source": "form", "entered_at": "x", "entered_by": "n"})
    db["lab_ae_offers"].insert({"lab_id": 1, "subject_id": "S01-001", "site": "S01", "term": "Alanine "
                                "aminotransferase increased", "grade": 2, "onset": "2026-02-10", "created_at": "x"})
    assert [o["recorded"] for o in labs.open_offers(db, "S01-001")] == [False]
    db["adverse_events"].insert({"subject_id": "S01-001", "term": "Alanine aminotransferase increased",
                                 "onset": "2026-02-10", "status": "entered_in_error"})
    assert [o["recorded"] for o in labs.open_offers(db, "S01-001")] == [False]
    db["adverse_events"].insert({"subject_id": "S01-001", "term": "Alanine aminotransferase increased",
                                 "onset": "2026-02-10T09:00", "status": "active"})
    assert [o["recorded"] for o in labs.open_offers(db, "S01-001")] == [True]


# --- pages ----------------------------------------------------------------------------------------------------

def test_nurse_nina_enters_a_result_and_sees_it_with_the_suggested_ae(enrol, web):
    enrol("S01-001")
    nina = web("nurse_nina")
    form = nina.get("/participants/S01-001/labs/new")
    assert form.status_code == 200 and "Enter a lab result" in form.get_data(as_text=True)
    response = nina.post_form("/participants/S01-001/labs/new", {
        "analyte": "alt", "value": "150", "unit": "U/L", "collected_at": "2026-02-10T09:00", "visit": "M1"},
        from_page="/participants/S01-001/labs/new")
    assert response.status_code == 302 and response.headers["Location"].endswith("/participants/S01-001#labs")
    page = nina.get("/participants/S01-001").get_data(as_text=True)
    assert 'data-analyte="alt"' in page and "Alanine aminotransferase increased" in page
    assert "/participants/S01-001/ae/new?term=Alanine+aminotransferase+increased&amp;grade=2&amp;onset=2026-02-10" in page


def test_the_form_shows_the_refused_unit_next_to_the_field(enrol, web, db):
    enrol("S01-001")
    nina = web("nurse_nina")
    response = nina.post_form("/participants/S01-001/labs/new", {
        "analyte": "creatinine", "value": "1.2", "unit": "U/L", "collected_at": "2026-02-10T09:00"},
        from_page="/participants/S01-001/labs/new")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-field="unit"' in page and "accepted: mg/dL, umol/L" in page
    assert page.count('value="U/L" selected') == 1   # what was refused stays visible (under ALT, once)
    assert count(db, "labs") == 0


def test_nina_dismisses_a_suggested_ae_from_the_participant_page(enrol, lab, web, db):
    enrol("S01-001")
    r = lab(analyte="alt", value=150, unit="U/L", collected_at="2026-02-10T08:00:00+00:00").lab
    nina = web("nurse_nina")
    response = nina.post_form(f"/labs/{r['id']}/dismiss-offer", {"reason": "lab error, repeated normal",
                                                                 "subject_id": "S01-001"},
                              from_page="/participants/S01-001")
    assert response.status_code == 302
    assert labs.open_offers(db, "S01-001") == []


def test_an_auditor_sees_the_series_but_not_the_entry_form(enrol, lab, web):
    enrol("S01-001")
    lab(analyte="alt", value=30, unit="U/L", collected_at="2026-02-10T08:00:00+00:00")
    ada = web("auditor_ada")
    page = ada.get("/participants/S01-001").get_data(as_text=True)
    assert 'id="lab-series"' in page and "Enter a lab result" not in page
    assert ada.get("/participants/S01-001/labs/new").status_code == 403


# --- who is told ----------------------------------------------------------------------------------------------
def test_it_mails_a_critical_lab_breach_at_once_to_the_roles_its_rule_names(enrol, lab, db, people):
    enrol("S01-001")
    lab(analyte="hemoglobin", value=11.0, unit="g/dL", collected_at="2026-06-01T08:00:00+00:00")  # medium: digest
    assert count(db, "outbox") == 0
    lab(analyte="hemoglobin", value=7.6, unit="g/dL", collected_at="2026-06-10T08:00:00+00:00")  # < 8 g/dL: critical
    recipients = sorted(r[0] for r in db.execute("SELECT recipient FROM outbox"))
    assert recipients == sorted([people["investigator_ivan"]["email"], people["safety_sam"]["email"]])
    assert count(db, "alerts", "kind = 'lab_rule' AND rule = 'hemoglobin_below_8'") == 1
