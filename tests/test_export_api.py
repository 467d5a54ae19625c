"""AE exports through the API and the web UI: the same rows as the AE list, filters, scoping, audit, determinism.

Story: nurse_nina (S01) and nurse_noah (S02) record AEs; auditor_ada exports them for an inspection;
investigator_ivan (S01) may export his own site only; a nurse may not export.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json

import openpyxl
import pandas as pd
import pypdf
import pytest
from fhir.resources.R4B.bundle import Bundle

from conftest import NOW
from safety_service.domain import adverse_events, audit

FORMULA = "=cmd|' /C calc'!A0"


@pytest.fixture
def trial(app, db, people, enrol):
    """Four participants (three injected) and five AEs, one of them entered in error."""
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    enrol("S01-001")
    enrol("S01-002")
    enrol("S02-001", injection_at="2026-01-20T08:00:00+00:00")
    enrol("S02-002", injection_at="")

    def record(persona, **data):
        base = {"grade": 1, "serious": False, "relatedness_product": "not_related",
                "relatedness_procedure": "not_related", "outcome": "recovered", "action_taken": "not_applicable",
                "expected": True}
        return adverse_events.create(db, {**base, **data}, catalogue=rb.ctcae, study=rb.study, tz=tz,
                                     actor=people[persona], now=NOW)

    nina, noah = "nurse_nina", "nurse_noah"
    aes = [
        record(nina, subject_id="S01-001", term="Flank pain", verbatim="douleur au flanc ≥ 2 jours", grade=2,
               onset="2026-01-13", end_date="2026-01-16", relatedness_procedure="probable"),
        record(nina, subject_id="S01-001", term="Hematuria", verbatim="gross hematuria", grade=3, onset="2026-03-01",
               end_date="2026-03-05", serious=True, seriousness=["hospitalization"],
               relatedness_procedure="definite", expected=False),
        record(nina, subject_id="S01-002", term="Nausea", verbatim=FORMULA, onset="2026-01-12",
               end_date="2026-01-12"),
        record(noah, subject_id="S02-001", term="Fever", verbatim="fever 38.4", onset="2026-02-25",
               end_date="2026-02-26", relatedness_product="possible"),
        record(noah, subject_id="S02-001", term="Headache", verbatim="headache", onset="2026-02-25",
               end_date="2026-02-25"),
    ]
    adverse_events.mark_entered_in_error(db, aes[4]["id"], reason="duplicate of fever episode",
                                         actor=people[noah], now=NOW)
    return aes


def ids(rows) -> list[int]:
    return [r["id"] for r in rows]


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(past_context(data.decode("utf-8")), newline="")))

def past_context(text: str) -> str:
    """A listing's CSV without its first "#" line (export context and audit chain head)."""
    return text.split("\r\n", 1)[1] if text.startswith("#") else text



def read_ids(fmt: str, data: bytes) -> list[int]:
    """The AE ids in an export, read with the format's own reader."""
    if fmt == "csv":
        return [int(r["AE id"]) for r in csv_rows(data)]
    if fmt == "xlsx":
        ws = openpyxl.load_workbook(io.BytesIO(data))["AE listing"]
        return [r[0] for r in ws.iter_rows(min_row=2, values_only=True)]
    if fmt == "xpt":
        return [int(x) for x in pd.read_sas(io.BytesIO(data), format="xport", encoding="ascii")["AESPID"]]
    if fmt == "json":
        bundle = Bundle.model_validate_json(data)
        return [int(e.resource.identifier.value) for e in (bundle.entry or [])]
    raise AssertionError(fmt)


# One app per test costs seconds (argon2 for six personas), so each of these loops over its cases.
def test_it_exports_the_same_rows_as_the_ae_list(api, db, trial):
    ada, listed = api("auditor_ada"), ids(adverse_events.list_aes(db, None, {}))
    assert trial[4]["id"] not in listed  # entered in error: not in the AE list
    for fmt in ("csv", "xlsx", "xpt", "json"):
        response = ada.get(f"/api/v1/exports/ae.{fmt}")
        assert response.status_code == 200, (fmt, response.get_data(as_text=True))
        assert read_ids(fmt, response.data) == listed, fmt


def test_it_exports_a_pdf_with_the_listing_and_the_summary_tables(api, trial):
    response = api("auditor_ada").get("/api/v1/exports/ae.pdf?serious=false")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(response.data)).pages)
    assert "Adverse event listing (3 rows)" in text
    assert "Filters: serious=no" in text and "by auditor_ada@example.org" in text
    assert "douleur au flanc ≥ 2 jours" in text
    assert "Overview of treatment-emergent adverse events" in text
    assert "n (%) of N=3" in text  # three participants injected


def test_it_filters_like_the_ae_list(api, db, trial):
    ada = api("auditor_ada")
    for query in ("serious=true", "min_grade=2", "phase=late", "related=true", "subject_id=S01-001",
                  "from=2026-02-01&to=2026-02-28", "site=S02", "serious=false&phase=early", "min_grade=4"):
        response = ada.get(f"/api/v1/exports/ae.csv?{query}")
        assert response.status_code == 200, query
        filters = dict(pair.split("=") for pair in query.split("&"))
        expected = ids(adverse_events.list_aes(db, None, filters))
        assert read_ids("csv", response.data) == expected, query


def test_it_refuses_unknown_and_bad_filters_naming_each(api, trial):
    response = api("auditor_ada").get("/api/v1/exports/ae.csv?min_grde=3&phase=middle&from=2026-13-01")
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {"min_grde", "phase", "from"}


def test_it_refuses_an_unknown_format(api, trial):
    response = api("auditor_ada").get("/api/v1/exports/ae.docx")
    assert response.status_code == 422
    assert "format" in response.get_json()["error"]["fields"]


def test_it_records_who_what_filters_rows_and_sha256_in_the_audit_trail(api, db, trial):
    response = api("auditor_ada").get("/api/v1/exports/ae.csv?min_grade=2&serious=false")
    digest = hashlib.sha256(response.data).hexdigest()
    assert response.headers["X-Content-SHA256"] == digest
    assert response.headers["X-Export-Rows"] == "1"
    name = response.headers["Content-Disposition"].split('filename="')[1].rstrip('"')
    assert name == "NCT07396155_ae_20260615T100000Z.csv"
    entries = {e["field"]: e for e in audit.history(db, "export", name)}
    assert entries["sha256"]["new_value"] == digest
    assert entries["rows"]["new_value"] == "1"
    assert json.loads(entries["filters"]["new_value"]) == {"min_grade": 2, "serious": False}
    assert entries["format"]["new_value"] == "csv" and entries["kind"]["new_value"] == "ae"
    assert {e["actor"] for e in entries.values()} == {"auditor_ada@example.org"}
    assert audit.verify(db).ok


def test_it_scopes_an_investigators_export_to_his_site(api, db, people, trial):
    response = api("investigator_ivan").get("/api/v1/exports/ae.csv")
    assert response.status_code == 200
    got = read_ids("csv", response.data)
    assert got == ids(adverse_events.list_aes(db, people["investigator_ivan"], {}))
    assert {r["Site"] for r in csv_rows(response.data)} == {"S01"}


def test_it_refuses_a_nurse_and_an_anonymous_caller(app, api, trial):
    assert api("nurse_nina").get("/api/v1/exports/ae.csv").status_code == 403
    assert app.test_client().get("/api/v1/exports/ae.csv").status_code == 401


def test_it_neutralises_a_formula_in_the_csv(api, trial):
    rows = csv_rows(api("auditor_ada").get("/api/v1/exports/ae.csv?subject_id=S01-002").data)
    assert rows[0]["Verbatim"] == "'" + FORMULA


def test_it_gives_the_same_bytes_for_the_same_rows_at_the_same_audit_chain_head(api, trial, monkeypatch):
    # Each export is itself audited, so the chain head moves between two downloads; held still, nothing else does.
    monkeypatch.setattr(audit, "anchor", lambda _db: "42:" + "a" * 64)
    ada = api("auditor_ada")
    for fmt in ("csv", "xlsx", "pdf", "xpt", "json"):
        first, second = ada.get(f"/api/v1/exports/ae.{fmt}"), ada.get(f"/api/v1/exports/ae.{fmt}")
        assert first.status_code == 200 and first.data == second.data, fmt


def test_each_listing_states_the_audit_chain_head_it_was_made_at(api, db, trial):
    ada = api("auditor_ada")
    for fmt in ("csv", "xlsx", "pdf", "json"):
        head = audit.anchor(db)  # what `safety audit anchor` prints at that moment
        data = ada.get(f"/api/v1/exports/ae.{fmt}").data
        if fmt == "csv":
            assert data.decode("utf-8").split("\r\n", 1)[0].endswith(f"audit chain head (safety audit anchor) {head}")
        elif fmt == "json":
            tags = json.loads(data)["meta"]["tag"]
            assert tags == [{"system": "urn:safety-service:audit-anchor", "code": head,
                             "display": "audit chain head when exported"}]
        elif fmt == "xlsx":
            about = {r[0]: r[1] for r in openpyxl.load_workbook(io.BytesIO(data))["Export"].iter_rows(values_only=True)}
            assert about["Audit chain head"].startswith(head + " ")
        else:
            text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
            assert f"Made at audit chain head (safety audit anchor) {head}" in text
        assert audit.anchor(db) != head  # the export was audited after it


def test_it_changes_only_the_export_time_and_the_anchor_an_hour_later(api, clock, trial):
    ada = api("auditor_ada")
    before = {fmt: ada.get(f"/api/v1/exports/ae.{fmt}").data for fmt in ("csv", "json", "xpt")}
    clock.advance(hours=1)
    after = {fmt: ada.get(f"/api/v1/exports/ae.{fmt}").data for fmt in ("csv", "json", "xpt")}
    assert past_context(before["csv"].decode()) == past_context(after["csv"].decode())
    b, a = json.loads(before["json"]), json.loads(after["json"])
    assert b["entry"] == a["entry"] and b["timestamp"] != a["timestamp"]
    assert before["xpt"] != after["xpt"] and before["xpt"][640:] == after["xpt"][640:]


def test_it_lists_entered_in_error_aes_with_their_status_only_when_asked(api, trial):
    ada = api("auditor_ada")
    rows = csv_rows(ada.get("/api/v1/exports/ae.csv?include_entered_in_error=true").data)
    assert {r["Status"] for r in rows} == {"Active", "Entered in error"}  # labels, not stored codes
    # SDTM and FHIR never tabulate an event entered in error
    assert trial[4]["id"] not in read_ids("xpt", ada.get("/api/v1/exports/ae.xpt?include_entered_in_error=true").data)


def test_it_exports_suppae_and_the_define_beside_ae_xpt(api, trial):
    ada = api("auditor_ada")
    supp = pd.read_sas(io.BytesIO(ada.get("/api/v1/exports/suppae.xpt").data), format="xport", encoding="ascii")
    assert set(supp["QNAM"]) == {"AEPHASE", "AERELPRC", "AETRTEM"}
    r = ada.get("/api/v1/exports/define.xml")
    assert r.status_code == 200 and r.headers["X-Export-Rows"] == "4"
    define = r.get_data(as_text=True)
    assert 'def:DefineVersion="2.1.0"' in define and 'SASDatasetName="SUPPAE"' in define
    assert f"AE {trial[0]['id']} AETERM: non-ASCII characters spelt in ASCII" in define


def test_it_describes_the_export_routes_in_the_openapi_spec(app):
    paths = app.test_client().get("/api/v1/openapi.json").get_json()["paths"]
    assert "/exports/ae.{fmt}" in paths and "/exports/audit.csv" in paths
    fmt = paths["/exports/ae.{fmt}"]["get"]["parameters"][0]
    assert fmt["schema"]["enum"] == ["csv", "xlsx", "pdf", "xpt", "json"]


def test_it_offers_the_exports_page_with_filters_and_every_format(web, trial):
    page = web("auditor_ada").get("/exports")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for fmt in ("csv", "xlsx", "pdf", "xpt", "json"):
        assert f'formaction="/exports/ae.{fmt}"' in html
    assert 'name="min_grade"' in html and 'name="phase"' in html and 'name="related"' in html


def test_it_downloads_from_the_page_with_the_session_and_audits_it(web, db, trial):
    response = web("safety_sam").get("/exports/ae.csv?subject_id=S01-001&serious=&min_grade=")
    assert response.status_code == 200
    assert read_ids("csv", response.data) == [trial[0]["id"], trial[1]["id"]]
    exports = [e for e in audit.history(db, "export", "NCT07396155_ae_20260615T100000Z.csv") if e["field"] == "filters"]
    assert json.loads(exports[-1]["new_value"]) == {"subject_id": "S01-001"}
    assert exports[-1]["actor"] == "safety_sam@example.org"


def test_it_shows_the_form_again_with_the_error_for_a_bad_filter(web, trial):
    response = web("auditor_ada").get("/exports/ae.pdf?from=yesterday")
    assert response.status_code == 422
    assert 'data-field="from"' in response.get_data(as_text=True)


def test_it_shows_the_summary_tables_page(web, trial):
    response = web("auditor_ada").get("/summary")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Participants with at least one AE by system organ class and term" in html
    assert "All (N=3)" in html and "Participants by maximum CTCAE v5.0 grade" in html
    assert "Serious adverse events" in html and "Adverse events leading to death" in html


def test_it_scopes_the_summary_to_the_investigators_site(web, trial):
    html = web("investigator_ivan").get("/summary").get_data(as_text=True)
    assert "All (N=2)" in html  # S01-001 and S01-002
    assert "Fever" not in html  # an S02 event
