"""The site's pages for con-meds and medical history: the participant page section, the forms (new, amend with
a reason, entered in error), the CSV upload and `safety import ...`, and "treatment given" on the AE form."""
from __future__ import annotations

import io
import re

import pytest

from safety_service.domain import audit
from safety_service.domain.history import conmeds, medical_history, treatments

from conftest import NOW


@pytest.fixture
def s01(enrol):
    return enrol("S01-001")


def test_the_nurse_records_a_conmed_and_sees_it_on_the_participant_page(web, s01, db):
    nina = web("nurse_nina")
    page = "/participants/S01-001/conmeds/new"
    r = nina.post_form(page, {"name": "Losartan", "dose": "50", "unit": "mg", "route": "oral",
                              "indication": "Diabetic nephropathy", "start_date": "2023-11", "ongoing": "on"},
                       from_page=page)
    assert r.status_code == 302 and r.headers["Location"].endswith("/participants/S01-001#history")
    html = nina.get("/participants/S01-001").get_data(as_text=True)
    assert "S01-001-CM1" in html and "Losartan" in html and "50 mg" in html and "Oral" in html


def test_the_form_names_each_bad_field_and_keeps_what_was_typed(web, s01, db):
    nina = web("nurse_nina")
    page = "/participants/S01-001/conmeds/new"
    r = nina.post_form(page, {"name": "Losartan", "dose": "50", "start_date": "2023-11"}, from_page=page)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'data-field="unit"' in html and 'data-field="indication"' in html and 'data-field="stop_date"' in html
    assert 'value="Losartan"' in html
    assert db.execute("SELECT count(*) FROM conmeds").fetchone()[0] == 0


def test_an_amendment_from_the_page_needs_a_reason_and_is_audited(web, s01, db, people):
    cm = conmeds.create(db, "S01-001", {"name": "Ramipril", "dose": 5, "unit": "mg", "indication": "DN",
                                        "start_date": "2024", "ongoing": True},
                        actor=people["nurse_nina"], tz="Europe/Berlin", now=NOW)
    nina = web("nurse_nina")
    page = f"/participants/S01-001/conmeds/{cm['id']}/amend"
    form = {"name": "Ramipril", "dose": "10", "unit": "mg", "indication": "DN", "start_date": "2024",
            "ongoing": "on", "version": "1"}
    r = nina.post_form(page, form, from_page=page)
    assert r.status_code == 422 and 'data-field="reason"' in r.get_data(as_text=True)
    r = nina.post_form(page, {**form, "reason": "dose doubled at M1"}, from_page=page)
    assert r.status_code == 302
    assert conmeds.get(db, cm["id"], user=None)["dose"] == 10.0
    assert [e["reason"] for e in audit.history(db, "conmed", cm["id"]) if e["field"] == "dose"] == \
        [None, "dose doubled at M1"]
    r = nina.post_form(f"/participants/S01-001/conmeds/{cm['id']}/entered-in-error",
                       {"reason": "duplicate", "version": "2"}, from_page=page)
    assert r.status_code == 302 and conmeds.get(db, cm["id"], user=None)["status"] == "entered_in_error"
    assert "<s>Ramipril</s>" in nina.get("/participants/S01-001").get_data(as_text=True)


def test_medical_history_from_the_page(web, s01, db):
    nina = web("nurse_nina")
    page = "/participants/S01-001/medical-history/new"
    r = nina.post_form(page, {"condition": "Hypertension", "onset": "2012", "ongoing": "on"}, from_page=page)
    assert r.status_code == 302
    assert [(m["condition"], m["ongoing"]) for m in medical_history.list_for(db, "S01-001", user=None)] == \
        [("Hypertension", True)]
    assert "S01-001-MH1" in nina.get("/participants/S01-001").get_data(as_text=True)


def test_another_sites_nurse_cannot_reach_the_forms(web, s01, enrol):
    enrol("S02-001")
    assert web("nurse_noah").get("/participants/S01-001/conmeds/new").status_code == 404


def test_the_ae_form_offers_the_conmeds_and_saves_treatment_given_with_the_ae(web, s01, db, people):
    cm = conmeds.create(db, "S01-001", {"name": "Tranexamic acid", "dose": 1000, "unit": "mg",
                                        "indication": "Hematuria",
                                        "start_date": "2026-06-14", "ongoing": True},
                        actor=people["nurse_nina"], tz="Europe/Berlin", now=NOW)
    nina = web("nurse_nina")
    page = "/participants/S01-001/ae/new"
    html = nina.get(page).get_data(as_text=True)
    assert f'name="treatment_given" value="{cm["id"]}"' in html
    token = re.search(r'name="form_token" value="([^"]*)"', html)  # the AE form's one-time token, if it has one
    r = nina.post_form(page, {**({"form_token": token[1]} if token else {}), "term": "Hematuria",
                              "verbatim": "pink urine", "grade": "2", "onset": "2026-06-14",
                              "serious": "false", "relatedness_product": "unlikely",
                              "relatedness_procedure": "probable", "action_taken": "not_applicable",
                              "outcome": "recovering", "treatment_given": str(cm["id"])}, from_page=page)
    assert r.status_code == 302, r.get_data(as_text=True)
    ae_id = db.execute("SELECT id FROM adverse_events").fetchone()[0]
    assert [c["name"] for c in treatments.for_ae(db, ae_id)] == ["Tranexamic acid"]
    detail = nina.get(f"/ae/{ae_id}").get_data(as_text=True)
    assert 'id="treatment-given"' in detail and f'value="{cm["id"]}" checked' in detail
    # taken away again from the AE page, audited on the AE
    r = nina.post_form(f"/ae/{ae_id}/treatments", {}, from_page=f"/ae/{ae_id}")
    assert r.status_code == 302 and treatments.for_ae(db, ae_id) == []
    assert len([e for e in audit.history(db, "adverse_event", ae_id) if e["action"] == "treatment_given"]) == 2


def test_the_upload_page_imports_all_or_nothing(web, s01, db):
    nina = web("nurse_nina")
    bad = b"subject_id,condition,onset,ongoing\nS01-001,Hypertension,2012,yes\nS01-001,,2013,yes\n"
    r = nina.post_form("/history/import", {"kind": "medical-history", "file": (io.BytesIO(bad), "mh.csv")},
                       from_page="/history/import", content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "<td>3</td><td>condition</td>" in html
    assert db.execute("SELECT count(*) FROM medical_history").fetchone()[0] == 0
    good = bad.replace(b"S01-001,,2013", b"S01-001,Diabetic retinopathy,2013")
    r = nina.post_form("/history/import", {"kind": "medical-history", "file": (io.BytesIO(good), "mh.csv")},
                       from_page="/history/import", content_type="multipart/form-data")
    assert r.status_code == 200 and "2 records stored" in r.get_data(as_text=True)


def test_safety_import_conmeds_on_the_command_line(app, s01, db, tmp_path):
    f = tmp_path / "cm.csv"
    f.write_text("subject_id,name,dose,unit,route,indication,start_date,ongoing\n"
                 "S01-001,Ramipril,5,mg,oral,Diabetic nephropathy,2024-03,yes\n", encoding="utf-8")
    runner = app.test_cli_runner()
    r = runner.invoke(args=["import", "conmeds", str(f)])
    assert r.exit_code == 0, r.output
    assert "1 con-meds imported" in r.output
    f.write_text("subject_id,name,indication,start_date,ongoing\nS01-001,Ramipril,,2024,maybe\n", encoding="utf-8")
    r = runner.invoke(args=["import", "conmeds", str(f)])
    assert r.exit_code == 1
    assert "row 2, column indication: is required" in r.output and "row 2, column ongoing" in r.output
    m = tmp_path / "mh.csv"
    m.write_text("subject_id,condition,onset,ongoing\nS01-001,Hypertension,2012,yes\n", encoding="utf-8")
    r = runner.invoke(args=["import", "medical-history", str(m)])
    assert r.exit_code == 0 and "1 medical history entries imported" in r.output
