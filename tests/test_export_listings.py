"""Lab listing (eGFR, grades, KDIGO stage) and visit compliance listing: CSV/XLSX read back, scoping, audit."""
from __future__ import annotations

import csv
import io

import openpyxl

from conftest import NOW
from safety_service.domain import audit, labs, participants


def record_lab(app, db, people, subject_id, **data):
    rb = app.extensions["rulebook"]
    nurse = people["nurse_nina"] if subject_id.startswith("S01") else people["nurse_noah"]
    return labs.record(db, subject_id, data, rules=rb.lab_rules, study=rb.study, tz=app.config["TIMEZONE"],
                       user=nurse, source="api", now=NOW)


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(past_context(data.decode("utf-8")), newline="")))

def past_context(text: str) -> str:
    """A listing's CSV without its first "#" line (export context and audit chain head)."""
    return text.split("\r\n", 1)[1] if text.startswith("#") else text



def test_it_lists_lab_results_with_egfr_grades_and_units(app, db, people, enrol, api):
    enrol("S01-001")
    enrol("S02-001")
    record_lab(app, db, people, "S01-001", analyte="creatinine", value=132.6, unit="umol/L",
               collected_at="2026-02-11T08:00:00+00:00", visit="M1")
    record_lab(app, db, people, "S01-001", analyte="alt", value=120, unit="U/L",
               collected_at="2026-02-11T08:00:00+00:00", uln=40)
    record_lab(app, db, people, "S02-001", analyte="potassium", value=4.2, unit="mmol/L",
               collected_at="2026-02-12T08:00:00+00:00")
    response = api("auditor_ada").get("/api/v1/exports/labs.csv")
    assert response.status_code == 200
    rows = csv_rows(response.data)
    assert [(r["Subject"], r["Analyte"]) for r in rows] == [("S01-001", "ALT"), ("S01-001", "Serum creatinine"),
                                                            ("S02-001", "Potassium")]
    creat = rows[1]
    assert creat["Value"] == "132.6" and creat["Unit"] == "umol/L"
    assert float(creat["Value (canonical)"]) == 1.5 and creat["Canonical unit"] == "mg/dL"  # 132.6 / 88.4
    # CKD-EPI 2021, female 58 y at collection, Scr 1.5 mg/dL
    stored = next(r for r in labs.series(db, "S01-001", user=None) if r["analyte"] == "creatinine")
    assert creat["eGFR"] == str(stored["egfr"]) and creat["KDIGO stage"] == stored["kdigo_stage"]
    alt = rows[0]
    # exactly 3.0 x ULN is not above 3.0 x ULN: still grade 1 (CTCAE v5.0, baseline normal)
    assert alt["CTCAE term"] == "Alanine aminotransferase increased" and alt["CTCAE grade"] == "1"


def test_it_scopes_and_filters_the_lab_listing(app, db, people, enrol, api):
    enrol("S01-001")
    enrol("S02-001")
    record_lab(app, db, people, "S01-001", analyte="potassium", value=4.0, unit="mmol/L",
               collected_at="2026-02-01T08:00:00+00:00")
    record_lab(app, db, people, "S01-001", analyte="potassium", value=4.4, unit="mmol/L",
               collected_at="2026-03-01T08:00:00+00:00")
    record_lab(app, db, people, "S02-001", analyte="potassium", value=4.2, unit="mmol/L",
               collected_at="2026-02-12T08:00:00+00:00")
    ivan = csv_rows(api("investigator_ivan").get("/api/v1/exports/labs.csv").data)
    assert {r["Subject"] for r in ivan} == {"S01-001"}
    feb = csv_rows(api("auditor_ada").get("/api/v1/exports/labs.csv?from=2026-02-01&to=2026-02-28").data)
    assert [r["Collected at"][:10] for r in feb] == ["2026-02-01", "2026-02-12"]
    bad = api("auditor_ada").get("/api/v1/exports/labs.pdf")
    assert bad.status_code == 422 and "format" in bad.get_json()["error"]["fields"]
    assert api("auditor_ada").get("/api/v1/exports/labs.csv?grade=3").status_code == 422


def test_it_describes_the_lab_columns_in_the_workbook(app, db, people, enrol, api):
    enrol("S01-001")
    record_lab(app, db, people, "S01-001", analyte="hemoglobin", value=9.1, unit="g/dL",
               collected_at="2026-02-11T08:00:00+00:00")
    wb = openpyxl.load_workbook(io.BytesIO(api("auditor_ada").get("/api/v1/exports/labs.xlsx").data))
    assert wb.sheetnames == ["Lab listing", "Columns", "Export"]
    assert wb["Lab listing"].freeze_panes == "A2"
    keys = [r[1] for r in wb["Columns"].iter_rows(min_row=2, values_only=True)]
    assert "egfr" in keys and "ctcae_grade" in keys
    row = dict(zip([c.value for c in wb["Lab listing"][1]], [c.value for c in wb["Lab listing"][2]]))
    assert row["Value"] == 9.1 and row["CTCAE term"] == "Anemia" and row["CTCAE grade"] == 2


def test_it_lists_visit_compliance_with_days_from_target_and_window(app, db, people, enrol, web):
    enrol("S01-001")
    enrol("S01-002", injection_at="")
    rb = app.extensions["rulebook"]
    # injected 2026-01-12: M1 target 2026-02-11, window 02-04..02-18; M3 target 2026-04-13, window 03-30..04-27
    participants.record_visit(db, "S01-001", "M1", "2026-02-13", study=rb.study, tz=app.config["TIMEZONE"],
                              actor=people["nurse_nina"], now=NOW)
    response = web("safety_sam").get("/exports/visits.csv")
    assert response.status_code == 200
    rows = {r["Visit"]: r for r in csv_rows(response.data)}
    assert list(rows) == ["M1", "M3", "M6", "M9", "M12"]
    assert rows["M1"]["Visit date"] == "2026-02-13" and rows["M1"]["Days from target"] == "2"
    assert rows["M1"]["In window"] == "Y" and rows["M1"]["Status"] == "done"
    # M3 window ended 2026-04-27, more than 30 days before 2026-06-15: missed
    assert rows["M3"]["Visit date"] == "" and rows["M3"]["In window"] == "" and rows["M3"]["Status"] == "missed"
    assert rows["M6"]["Window start"] == "2026-06-29" and rows["M6"]["Status"] == "upcoming"
    entries = {e["field"]: e["new_value"] for e in
               audit.history(db, "export", "NCT07396155_visits_20260615T100000Z.csv")}
    assert entries["rows"] == "5" and entries["not_injected"] == "1"


def test_it_notes_participants_without_a_schedule_in_the_workbook(app, db, people, enrol, api):
    enrol("S01-001")
    enrol("S01-002", injection_at="")
    wb = openpyxl.load_workbook(io.BytesIO(api("auditor_ada").get("/api/v1/exports/visits.xlsx").data))
    ws = wb["Visit compliance"]
    cells = [c for row in ws.iter_rows(values_only=True) for c in row if c]
    assert "1 participant(s) not injected yet have no visit schedule." in cells


def test_the_lab_listing_states_the_audit_chain_head_and_shows_labels(app, db, people, enrol, api):
    enrol("S01-001")
    record_lab(app, db, people, "S01-001", analyte="hemoglobin", value=12.1, unit="g/dL",
               collected_at="2026-02-11T08:00:00+00:00")
    ada = api("auditor_ada")
    head = audit.anchor(db)  # `safety audit anchor` just before the download
    text = ada.get("/api/v1/exports/labs.csv").data.decode("utf-8")
    first, rest = text.split("\r\n", 1)
    assert first.startswith("# NCT07396155 Lab listing;") and first.endswith(f"(safety audit anchor) {head}")
    row = next(csv.DictReader(io.StringIO(rest, newline="")))
    assert (row["Analyte"], row["Status"]) == ("Hemoglobin", "Valid")
