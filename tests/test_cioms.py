"""The CIOMS I form of a serious AE's report (issue 14): every field, read back with pypdf; one PDF per report
number, byte-identical for the same data, the follow-up number on it.

Story: S01-001 (born 2 Mar 1968, 72.5 kg, injected 12 Jan 2026) has a life-threatening acute kidney injury two
days before NOW that the investigator thinks the cells possibly caused, not in the brochure (a SUSAR). She takes
ramipril (the protocol's stable ACE inhibitor) and took metformin until last year; furosemide was given for the
reaction. The investigator sends the initial report; the safety officer a follow-up once she recovers.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from safety_service.domain.sae import cioms
from safety_service.reports import cioms as cioms_pdf

ROOT = Path(__file__).resolve().parent.parent

AKI = {"subject_id": "S01-001", "term": "Acute kidney injury", "verbatim": "anuria, creatinine 4.2 – dialysed",
       "grade": 4, "onset": "2026-06-13", "serious": True, "seriousness": ["life_threatening", "hospitalization"],
       "relatedness_product": "possible", "relatedness_procedure": "probable", "expected": False,
       "action_taken": "not_applicable", "outcome": "recovering", "awareness_at": "2026-06-14T08:30:00+00:00",
       "description": "Admitted to ICU on day 153; two sessions of haemodialysis."}


@pytest.fixture
def case(api, enrol):
    enrol("S01-001")
    nina = api("nurse_nina")
    for med in ({"name": "Ramipril", "dose": 5, "unit": "mg", "route": "oral", "indication": "diabetic nephropathy",
                 "start_date": "2024-05", "ongoing": True},
                {"name": "Metformin", "dose": 500, "unit": "mg", "route": "oral", "indication": "type 2 diabetes",
                 "start_date": "2019", "stop_date": "2025-12-01"},
                {"name": "Furosemide", "dose": 40, "unit": "mg", "route": "intravenous", "indication": "anuria",
                 "start_date": "2026-06-13", "stop_date": "2026-06-14"}):
        r = nina.post("/api/v1/participants/S01-001/conmeds", json=med)
        assert r.status_code == 201, r.get_json()
    for mh in ({"condition": "Type 2 diabetes mellitus", "onset": "2009", "ongoing": True},
               {"condition": "Hypertension", "onset": "2015-03", "ongoing": True}):
        assert nina.post("/api/v1/participants/S01-001/medical-history", json=mh).status_code == 201
    for value, at in ((4.2, "2026-06-13T07:00:00+00:00"), (19.0, "2026-06-13T09:00:00+00:00"),
                      (1.6, "2026-03-01T08:00:00+00:00")):
        r = nina.post("/api/v1/participants/S01-001/labs", json={"analyte": "creatinine", "value": value,
                                                                  "unit": "mg/dL", "collected_at": at,
                                                                  "confirmed": True})
        assert r.status_code == 201, r.get_json()
        if value == 19.0:  # a typo, withdrawn: it must not reach the form
            assert nina.post(f"/api/v1/labs/{r.get_json()['id']}/entered-in-error",
                             json={"reason": "typo for 1.9"}).status_code == 200
    ae = nina.post("/api/v1/adverse-events", json=AKI).get_json()
    furosemide = [c for c in nina.get("/api/v1/participants/S01-001/conmeds").get_json() if c["name"] == "Furosemide"]
    r = nina.client.put(f"/api/v1/adverse-events/{ae['id']}/treatments", json={"conmed_ids": [furosemide[0]["id"]]},
                        headers=nina.headers)
    assert r.status_code == 200, r.get_json()
    ivan = api("investigator_ivan")
    r = ivan.post(f"/api/v1/adverse-events/{ae['id']}/reports",
                  json={"kind": "initial", "recipient": "Sponsor safety desk", "sent_at": "2026-06-14T12:00",
                        "summary": "initial SAE report"})
    assert r.status_code == 201, r.get_json()
    return ae


def text_of(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_it_fills_every_field_of_the_initial_report(api, case):
    r = api("safety_sam").get(f"/api/v1/adverse-events/{case['id']}/cioms.pdf?report=0")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert 'filename="CIOMS-S01-001-AE1-R0.pdf"' in r.headers["Content-Disposition"]
    reader = PdfReader(io.BytesIO(r.data))
    assert len(reader.pages) == 1  # one page a person can fax
    text = flat(text_of(r.data))
    expected = [
        "CIOMS FORM", "SUSPECT ADVERSE REACTION REPORT", "INITIAL REPORT", "I. REACTION INFORMATION",
        "1. PATIENT INITIALS (first, last) NCT07396155 / S01-001",       # 1: study code and subject ID
        "1a. COUNTRY Germany",                                            # 1a
        "02 MAR 1968",                                                    # 2
        "2a. AGE Years 58",                                               # 2a: at onset
        "3. SEX F",                                                       # 3
        "13 JUN 2026",                                                    # 4-6
        "7 + 13 DESCRIBE REACTION(S) (including relevant tests/lab data)",
        "Acute kidney injury (CTCAE v5.0 grade 4; MedDRA 10069339, Renal and urinary disorders)",
        "Verbatim: anuria, creatinine 4.2 – dialysed",
        "Relatedness: cells possible, injection procedure probable; expectedness: unexpected",
        "Narrative: Admitted to ICU on day 153; two sessions of haemodialysis.",
        "Treatment of the reaction: Furosemide, 40 mg, intravenous (13 JUN 2026 to 14 JUN 2026); for anuria",
        "Relevant tests/lab data: 13 JUN 2026: creatinine 4.2 mg/dL",
        "8-12 CHECK ALL APPROPRIATE TO ADVERSE REACTION",
        "\u2610 PATIENT DIED", "\u2612 INVOLVED OR PROLONGED INPATIENT HOSPITALISATION",
        "\u2610 INVOLVED PERSISTENCE OR SIGNIFICANT DISABILITY OR INCAPACITY", "\u2612 LIFE THREATENING",
        "II. SUSPECT DRUG(S) INFORMATION",
        "14. SUSPECT DRUG(S) (include generic name) UC-MSC (allogeneic human umbilical-cord mesenchymal stem cells)",
        "15. DAILY DOSE(S) 1 x 10^6 cells/kg body weight, once; this patient: 7.25 x 10^7 cells (72.5 kg)",
        "16. ROUTE(S) OF ADMINISTRATION Intra-renal injection",
        "17. INDICATION(S) FOR USE Diabetic nephropathy (type 2 diabetes, CKD stage 3-4)",
        "18. THERAPY DATES (from/to) 12 JAN 2026 to 12 JAN 2026",
        "19. THERAPY DURATION Single dose (1 day)",
        "20. DID REACTION ABATE AFTER STOPPING DRUG? \u2610 YES \u2610 NO \u2612 NA",
        "21. DID REACTION REAPPEAR AFTER REINTRODUCTION? \u2610 YES \u2610 NO \u2612 NA",
        "III. CONCOMITANT DRUG(S) AND HISTORY",
        "22. CONCOMITANT DRUG(S) AND DATES OF ADMINISTRATION (exclude those used to treat reaction) "
        "Ramipril, 5 mg, oral (MAY 2024 to ongoing); for diabetic nephropathy",
        "23. OTHER RELEVANT HISTORY (e.g. diagnostics, allergics, pregnancy with last month of period, etc.) "
        "Type 2 diabetes mellitus (since 2009, ongoing) Hypertension (since MAR 2015, ongoing)",
        "IV. MANUFACTURER INFORMATION",
        "24a. NAME AND ADDRESS OF MANUFACTURER (sponsor) NCT07396155 Trial Sponsor - Pharmacovigilance (demo)",
        "24b. MFR CONTROL NO. S01-001-AE1/0",
        "24c. DATE RECEIVED BY MANUFACTURER 14 JUN 2026",
        "24d. REPORT SOURCE \u2612 STUDY \u2610 LITERATURE \u2610 HEALTH PROFESSIONAL",
        "DATE OF THIS REPORT 14 JUN 2026",
        "25a. REPORT TYPE \u2612 INITIAL \u2610 FOLLOWUP",
    ]
    # pypdf joins a caption wrapped inside its box without a space: compare without whitespace
    bare = re.sub(r"\s", "", text)
    missing = [e for e in expected if re.sub(r"\s", "", e) not in bare]
    assert missing == [], text
    assert "Metformin" not in text          # stopped before the onset
    assert "Furosemide" not in text.split("22. CONCOMITANT")[1].split("23. OTHER")[0]  # treated the reaction
    tests = re.search(r"Relevant tests/lab data: (.*?) II\. SUSPECT", text).group(1)
    assert tests == "13 JUN 2026: creatinine 4.2 mg/dL (CTCAE Chronic kidney disease grade 4)"  # not the typo 19,
    # withdrawn as entered in error, nor the 1.6 of March, months before the onset


def test_it_puts_the_follow_up_number_on_the_latest_report_and_describes_that_version(api, case):
    nina, sam = api("nurse_nina"), api("safety_sam")
    r = nina.patch(f"/api/v1/adverse-events/{case['id']}", json={
        "outcome": "recovered", "end_date": "2026-06-15", "reason": "creatinine back to 1.9", "version": 1})
    assert r.status_code == 200, r.get_json()
    assert sam.post(f"/api/v1/adverse-events/{case['id']}/reports", json={
        "kind": "follow_up", "recipient": "BfArM", "summary": "recovered; dialysis stopped",
        "sent_at": "2026-06-15T11:30"}).status_code == 201
    latest = sam.get(f"/api/v1/adverse-events/{case['id']}/cioms.pdf")
    text = flat(text_of(latest.data))
    assert "FOLLOW-UP No. 1" in text and "\u2610INITIAL\u2612FOLLOWUPNo.1" in re.sub(r"\s", "", text)
    assert "24b. MFR CONTROL NO. S01-001-AE1/1" in text and "DATE OF THIS REPORT 15 JUN 2026" in text
    assert "outcome: recovered" in text and "This report (follow-up 1): recovered; dialysis stopped" in text
    assert "Changed since the previous report: end date, end day, outcome" in text
    # report 0 still shows the case as it was reported then
    first = flat(text_of(sam.get(f"/api/v1/adverse-events/{case['id']}/cioms.pdf?report=0").data))
    assert "outcome: recovering" in first and "INITIAL REPORT" in first


def test_it_gives_the_same_bytes_for_the_same_data(api, case):
    sam = api("safety_sam")
    one = sam.get(f"/api/v1/adverse-events/{case['id']}/cioms.pdf?report=0").data
    api("nurse_nina").post("/api/v1/participants/S01-001/visits/M1", json={"visit_date": "2026-02-11"})
    two = sam.get(f"/api/v1/adverse-events/{case['id']}/cioms.pdf?report=0").data
    assert one == two
    meta = PdfReader(io.BytesIO(one)).metadata
    assert meta["/CreationDate"].startswith("D:20260614100000") and meta["/Title"] == "CIOMS I S01-001-AE1/0"


def test_it_continues_text_that_does_not_fit_on_a_second_page(db, app, api, case, people):
    rb = app.extensions["rulebook"]
    form = cioms.gather(db, case["id"], 0, user=None, rules=rb.cioms, study=rb.study, tz=app.config["TIMEZONE"])
    long = form.__class__(**{**form.__dict__, "reaction": [f"line {i}: " + "word " * 30 for i in range(40)]})
    text = flat(text_of(cioms_pdf.render(long)))
    assert "(continued on the next page)" in text and "continuation" in text and "line 39:" in text


@pytest.mark.parametrize("query,status", [("?report=7", 404), ("?report=x", 422), ("?report=-1", 422)])
def test_it_refuses_a_report_that_does_not_exist(api, case, query, status):
    assert api("safety_sam").get(f"/api/v1/adverse-events/{case['id']}/cioms.pdf{query}").status_code == status


def test_it_has_no_form_before_a_report_is_sent_and_hides_another_sites(api, enrol, case):
    other = api("nurse_nina").post("/api/v1/adverse-events", json={**AKI, "onset": "2026-06-14"}).get_json()
    assert api("safety_sam").get(f"/api/v1/adverse-events/{other['id']}/cioms.pdf").status_code == 404
    enrol("S02-001")
    noah_ivan = api("investigator_ivan")
    assert noah_ivan.get(f"/api/v1/adverse-events/{case['id']}/cioms.pdf").status_code == 200
    assert api("nurse_nina").get(f"/api/v1/adverse-events/{case['id']}/cioms.pdf").status_code == 403


def test_it_links_each_sent_report_to_its_form_on_the_ae_page(web, case):
    page = web("safety_sam").get(f"/ae/{case['id']}").get_data(as_text=True)
    assert f'/api/v1/adverse-events/{case["id"]}/cioms.pdf?report=0' in page
    pdf = web("auditor_ada").get(f"/api/v1/adverse-events/{case['id']}/cioms.pdf?report=0")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_it_formats_dates_as_the_form_writes_them():
    assert [cioms.day_month_year(d) for d in ("2026-06-05", "2024-05", "2009", None)] == [
        "05 JUN 2026", "MAY 2024", "2009", "UNK"]


def test_it_writes_the_same_form_from_the_command_line(app, api, case, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "cioms.pdf"
    result = runner.invoke(args=["export", "cioms", "S01-001-AE1", "--report", "0", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == api("safety_sam").get(f"/api/v1/adverse-events/{case['id']}/cioms.pdf?report=0").data
    again = runner.invoke(args=["export", "cioms", str(case["id"]), "-o", str(out)])
    assert again.exit_code != 0 and "--force" in again.output
    missing = runner.invoke(args=["export", "cioms", "S01-001-AE9", "-o", str(tmp_path / "x.pdf")])
    assert missing.exit_code != 0 and "no adverse event" in missing.output
    none_sent = runner.invoke(args=["export", "cioms", str(case["id"]), "--report", "4", "-o", str(tmp_path / "y.pdf")])
    assert none_sent.exit_code != 0 and "no report 4" in none_sent.output


def test_it_refuses_a_cioms_rules_file_with_an_unknown_key_naming_file_and_key(tmp_path):
    from safety_service.domain.sae.cioms_rules import load_cioms_rules
    from safety_service.rulefiles import RulesError

    good = (ROOT / "rules" / "cioms.toml").read_text(encoding="utf-8")
    bad = tmp_path / "cioms.toml"
    bad.write_text(good.replace('route = "Intra-renal injection"', 'rute = "Intra-renal injection"'), encoding="utf-8")
    with pytest.raises(RulesError) as e:
        load_cioms_rules(bad)
    assert e.value.path.endswith("cioms.toml") and "product" in e.value.key


def test_each_download_of_a_form_is_in_the_audit_trail_with_who_which_report_and_the_files_hash(app, db, api, case,
                                                                                               tmp_path):
    import hashlib

    data = api("safety_sam").get(f"/api/v1/adverse-events/{case['id']}/cioms.pdf?report=0").data
    out = tmp_path / "cioms.pdf"
    assert app.test_cli_runner().invoke(args=["export", "cioms", str(case["id"]), "-o", str(out)]).exit_code == 0
    entries = db.execute("SELECT actor, entity_id, field, new_value FROM audit_log WHERE action = 'export' "
                         "AND entity_id LIKE 'CIOMS-%' ORDER BY id").fetchall()
    by_actor: dict[str, dict] = {}
    for actor, name, field, value in entries:
        by_actor.setdefault(actor, {"name": name})[field] = value
    sam, cli = by_actor["safety_sam@example.org"], by_actor["cli"]
    assert sam["name"] == "CIOMS-S01-001-AE1-R0.pdf" and sam["kind"] == "cioms" and sam["format"] == "pdf"
    assert sam["sha256"] == hashlib.sha256(data).hexdigest() and sam["report_number"] == "0"
    assert cli["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest() and cli["ae_id"] == str(case["id"])
