"""The DSMB report (HTML and PDF) and the signal pages, on a real database, for a data cut-off."""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from pypdf import PdfReader

from conftest import NOW
from safety_service.domain import adverse_events, labs
from safety_service.reports import datacut, dsmb
from safety_service.reports.pdf import write_dsmb_pdf

from test_stopping import record_ae


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def record_lab(app, db, user, subject_id, analyte, value, unit, collected_at, visit=None):
    rb = app.extensions["rulebook"]
    with app.app_context():
        labs.record(db, subject_id, {"analyte": analyte, "value": value, "unit": unit, "collected_at": collected_at,
                                     "visit": visit}, rules=rb.lab_rules, study=rb.study, tz=app.config["TIMEZONE"],
                    user=user, source="api", now=NOW)


@pytest.fixture
def trial(app, db, people, enrol):
    """Five participants injected in January 2026 at S01, one at S02; two related SAEs cross the boundary
    (n = 5 on 22 Jan); creatinine at baseline and month 1 for two of them."""
    nina, noah = people["nurse_nina"], people["nurse_noah"]
    for i in range(1, 6):
        enrol(f"S01-00{i}", injection_at=f"2026-01-1{i}T09:30:00+00:00")
    enrol("S02-001", injection_at="2026-02-20T09:30:00+00:00")
    first = record_ae(app, db, nina, "S01-001", "2026-01-21")
    second = record_ae(app, db, nina, "S01-002", "2026-01-22")
    record_ae(app, db, noah, "S02-001", "2026-02-22", procedure="possible")
    for sid, day, base, m1 in (("S01-001", "11", 1.40, 1.30), ("S01-002", "12", 1.80, 1.85)):
        record_lab(app, db, nina, sid, "creatinine", base, "mg/dL", f"2026-01-{day}T07:00:00+00:00")
        record_lab(app, db, nina, sid, "creatinine", m1, "mg/dL", f"2026-02-{day}T08:00:00+00:00", visit="M1")
    return {"first": first, "second": second}


def build(app, db, cutoff: str | None, image="png", held_at=NOW):
    """The report for a cut-off from the database as held at ``held_at`` (the service's NOW by default)."""
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    as_of, day = datacut.cutoff_instant(cutoff, NOW, tz)
    cut = datacut.load(db, rb.study, as_of=as_of, cutoff=day, tz=tz, held_at=held_at)
    return dsmb.build(cut, rb.stopping, rb.study, early_days=rb.study.early_late_boundary_days,
                      rules_digests=rb.digests, image=image)


# --- the content -----------------------------------------------------------------------------------------

def test_it_puts_the_stopping_position_rates_and_narratives_in_the_report(app, db, trial):
    r = build(app, db, None, image=None)
    (s,) = r["stopping"]
    pos = s["position"]
    assert (pos.n, pos.x, pos.crossed) == (6, 3, True)
    assert pos.crossing.ae_id == trial["second"]["id"]
    assert r["enrolment"]["injected"] == 6 and r["enrolment"]["enrolled"] == 6
    rates = {row.key: row for row in r["rates"]}
    assert (rates["serious"].participants, rates["serious"].n) == (3, 6)
    assert [a["subject_id"] for a in r["saes"]] == ["S01-001", "S01-002", "S02-001"]
    assert "Perirenal haematoma" in r["saes"][0]["description"]
    assert r["summary"]["available"] is True and r["summary"]["summary"]["denominator"] == 6


def test_it_derives_egfr_change_from_the_creatinine_results(app, db, trial):
    change = build(app, db, None, image=None)["change"]["rows"]
    egfr_m1 = next(r for r in change if r.analyte == "egfr" and r.visit == "M1")
    crea_m1 = next(r for r in change if r.analyte == "creatinine" and r.visit == "M1")
    assert crea_m1.n == 2 and crea_m1.estimate == pytest.approx((-0.10 + 0.05) / 2)
    assert egfr_m1.n == 2  # the CKD-EPI 2021 eGFR stored with each creatinine
    # the three participants without a month-1 result, whose window has closed, are listed, not imputed
    assert crea_m1.missing == ("S01-003", "S01-004", "S01-005", "S02-001")


def test_it_reports_a_past_cut_off_as_the_data_stood_then(app, db, trial, people):
    r = build(app, db, "2026-01-21", image=None)
    pos = r["stopping"][0]["position"]
    assert (pos.n, pos.x, pos.crossed) == (5, 1, False)  # the second SAE started the next day
    assert r["cutoff"] == "2026-01-21" and r["as_of"] == "2026-01-21T22:59:59+00:00"  # end of the Berlin day


def test_it_gives_the_same_pdf_for_a_cut_off_after_later_amendments_and_new_events(app, db, trial, people):
    before = write_dsmb_pdf(build(app, db, "2026-03-01"))
    assert before == write_dsmb_pdf(build(app, db, "2026-03-01"))
    rb, nina = app.extensions["rulebook"], people["nurse_nina"]
    later = NOW + timedelta(days=1)
    with app.app_context():
        adverse_events.amend(db, trial["first"]["id"], {"relatedness_procedure": "unlikely"},
                             reason="CT shows a pre-existing cyst", catalogue=rb.ctcae, study=rb.study,
                             tz=app.config["TIMEZONE"], actor=nina, now=later)
    record_ae(app, db, nina, "S01-004", "2026-02-25", now=later)
    assert write_dsmb_pdf(build(app, db, "2026-03-01")) == before
    # a later snapshot of the same cut-off shows the amendment (S01-001 no longer counts) and the late entry
    pos = build(app, db, "2026-03-01", image=None, held_at=later)["stopping"][0]["position"]
    assert [c["subject_id"] for c in pos.counted] == ["S01-002", "S02-001", "S01-004"]  # by onset


def test_it_leaves_late_entries_out_of_an_earlier_snapshot(app, db, trial):
    # everything in this trial was entered at NOW: a snapshot taken before then holds none of it
    r = build(app, db, "2026-03-01", image=None, held_at=NOW - timedelta(seconds=1))
    assert r["enrolment"]["enrolled"] == 0 and r["saes"] == [] and r["stopping"][0]["position"].n == 0


def test_it_prints_the_cut_off_the_position_and_the_summary_tables_in_the_pdf(app, db, trial):
    text = pdf_text(write_dsmb_pdf(build(app, db, "2026-03-01")))
    assert "Data cut-off 2026-03-01" in text and "as held at 2026-06-15T10:00:00+00:00" in text
    assert re.search(r"3\s+of\s+6\s+participants\s+evaluated", text)
    assert "CROSSED" in text and "Overview of treatment-emergent adverse events" in text
    assert "Perirenal haematoma" in text and "DSMB chair" in text


def test_it_shows_a_placeholder_when_the_summary_tables_are_missing(app, db, trial, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_summary(name, globals=None, locals=None, fromlist=(), level=0):
        if fromlist and "summary" in fromlist and level == 2:
            raise ImportError("no summary", name="safety_service.domain.summary")
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", no_summary)
    section = dsmb.summary_section(datacut.DataCut(NOW, NOW.date(), "UTC", [], {}, [], []))
    assert section["available"] is False and "summary" in section["reason"]


# --- the pages -------------------------------------------------------------------------------------------

def test_it_serves_the_dsmb_report_and_its_pdf_to_the_safety_officer(web, trial):
    sam = web("safety_sam")
    page = sam.get("/signals/dsmb?cutoff=2026-03-01")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "data cut-off 2026-03-01" in html and "crossed" in html and "Perirenal haematoma" in html
    assert 'data-test="summary-placeholder"' not in html
    link = re.search(r'href="(/signals/dsmb\.pdf\?[^"]+)"', html).group(1).replace("&amp;", "&")
    assert "held_at=2026-06-15T10:00:00" in link  # the PDF of exactly what the page shows
    pdf = sam.get(link)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert 'filename="NCT07396155-dsmb-2026-03-01.pdf"' in pdf.headers["Content-Disposition"]
    assert pdf.data == sam.get(link).data


@pytest.mark.parametrize("persona", ["nurse_nina", "investigator_ivan", "admin_alex"])
def test_it_keeps_the_dsmb_report_from_roles_without_study_wide_access(web, trial, persona):
    assert web(persona).get("/signals/dsmb").status_code == 403
    assert web(persona).get("/signals/dsmb.pdf").status_code == 403


@pytest.mark.parametrize("query,field,why", [
    ("cutoff=2026-06-16", "cutoff", "after today"), ("cutoff=01/03/2026", "cutoff", "YYYY-MM-DD"),
    ("cutoff=2026-03-01&held_at=2026-07-01T00:00:00%2B00:00", "held_at", "in the future"),
    ("cutoff=2026-03-01&held_at=2026-02-01T00:00:00%2B00:00", "held_at", "before the end of the cut-off"),
    ("held_at=yesterday", "held_at", "ISO 8601"),
])
def test_it_refuses_a_bad_cut_off_naming_the_field(web, trial, query, field, why):
    page = web("safety_sam").get(f"/signals/?{query}")
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and field in html and why in html


def test_it_shows_the_position_and_boundary_on_the_stopping_page(web, trial):
    html = web("safety_sam").get("/signals/").get_data(as_text=True)
    assert re.search(r'data-test="n">6<', html) and re.search(r'data-test="x">3<', html)
    assert "<svg" in html and 'class="current"' in html
    assert f"AE {trial['second']['id']} of" in html


def test_it_hides_other_sites_subjects_from_a_site_bound_investigator(web, trial):
    html = web("investigator_ivan").get("/signals/").get_data(as_text=True)
    assert "S02-001" not in html and "(other site)" in html and "S01-002" in html


def test_it_shows_rates_and_change_pages(web, trial):
    sam = web("safety_sam")
    rates = sam.get("/signals/rates").get_data(as_text=True)
    assert 'data-key="serious"' in rates and "3 / 6" in rates
    change = sam.get("/signals/change").get_data(as_text=True)
    assert 'id="change-egfr"' in change and "S01-003" in change
