"""The day of a nurse, a safety officer and an auditor without the friction a first real user met (issue 16),
in Debian's chromium against the demo: each story clicks, follows or reads what that person would.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser import shoot
from conftest import NOW
from safety_service.db import rows
from safety_service.domain import adverse_events, alerts

pytestmark = pytest.mark.browser


def _db_rows(demo_site, sql, params=()):
    db = demo_site.db()
    try:
        return rows(db, sql, list(params))
    finally:
        db.conn.close()


# 1. The DSMB report's PDF with today's cut-off ------------------------------------------------------------

def test_it_downloads_the_dsmb_pdf_of_todays_cut_off_even_later_that_day(as_role, demo_site):
    page = as_role("safety_officer", accept_downloads=True)
    page.goto("/signals/dsmb")
    expect(page.locator("h2").first).to_contain_text(f"data cut-off {NOW.date().isoformat()}")
    clock = demo_site.app.extensions["clock"]
    clock.advance(minutes=10)  # the page was opened at 12:00; the PDF link is clicked ten minutes later
    try:
        with page.expect_download(timeout=120_000) as info:
            page.get_by_role("link", name="Download PDF").click()
        assert info.value.path().read_bytes()[:5] == b"%PDF-"
        page.get_by_role("link", name="Link that reproduces this view").click()
        expect(page.locator("h2").first).to_contain_text("DSMB safety report")
    finally:
        clock.advance(minutes=-10)


def test_it_explains_on_the_form_why_a_snapshot_before_the_cut_off_day_ended_is_refused(as_role):
    page = as_role("safety_officer")
    response = page.goto("/signals/dsmb?cutoff=2026-06-01&held_at=2026-06-01T09:00:00%2B00:00")
    assert response.status == 422
    expect(page.locator("#error-summary")).to_contain_text("before the end of the cut-off day")
    expect(page.locator("#error-summary")).to_contain_text("For a meeting on the cut-off day itself")
    expect(page.get_by_role("textbox", name="Data cut-off")).to_have_value("2026-06-01")
    expect(page.locator("#cutoff-help")).to_be_visible()


# 2. and 3. Mail: links reach this server; the HTML digest names the participant ----------------------------

def test_it_takes_the_safety_officer_from_an_alert_mail_to_the_alert(as_role, demo_site):
    mail = _db_rows(demo_site, "SELECT * FROM outbox WHERE kind = 'alert' AND recipient LIKE 'safety.officer%'"
                               " ORDER BY id LIMIT 1")[0]
    link = re.search(r"(http://\S+/alerts/\d+)", mail["body_text"]).group(1)
    assert link.startswith(demo_site.url + "/")  # the port served, not a default 5000
    page = as_role("safety_officer")
    assert page.goto(link).status == 200
    expect(page.locator(".alert-message")).to_be_visible()


def test_it_names_the_participant_of_each_lab_breach_in_the_html_digest(as_role, demo_site):
    (digest,) = _db_rows(demo_site, "SELECT id FROM outbox WHERE kind = 'digest' AND recipient LIKE 'safety.officer%'")
    page = as_role("admin")
    page.goto(f"/outbox/{digest['id']}")
    page.goto(f"/outbox/{digest['id']}/html")
    items = page.locator("#breaches + ul li").all_inner_texts()
    assert items and all(re.match(r"\[\w+\] S\d\d-\d{3}: ", t) for t in items), items
    shoot(page, "digest-html")


# 4. and 5. Times in the study's zone, numbers as a clinician writes them ------------------------------------

def test_it_shows_sae_clocks_and_the_audit_trail_in_local_time(as_role):
    page = as_role("safety_officer")
    page.goto("/dashboard")
    clocks = page.locator("#sae-clocks")
    if clocks.locator("tbody tr").count():
        expect(clocks).to_contain_text(re.compile(r"\d\d:\d\d CES?T"))
        expect(clocks).not_to_contain_text("UTC")
    auditor = as_role("auditor")
    auditor.goto("/audit")
    first_time = auditor.locator("#audit-entries tbody tr td:nth-child(2)").first.inner_text()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d CES?T", first_time), first_time


def test_it_writes_the_cell_dose_and_lab_values_with_clinical_precision(as_role):
    page = as_role("nurse:S01")
    page.goto("/participants/S01-001")
    expect(page.locator(".facts")).to_contain_text(re.compile(r"\d\.\d × 10[⁶⁷⁸⁹] cells"))
    expect(page.locator(".facts")).not_to_contain_text("e+0")
    creatinine = page.locator("#lab-series tr[data-analyte=creatinine] td:nth-child(4)").all_inner_texts()
    assert creatinine and all(re.fullmatch(r"\d+\.\d\d mg/dL|\d+ umol/L", c.strip()) for c in creatinine), creatinine


# 6. The lab form offers the analyte's own units -------------------------------------------------------------

def test_it_offers_only_the_analytes_units_default_first_on_the_lab_form(as_role):
    page = as_role("nurse:S01")
    page.goto("/participants/S01-001/labs/new")
    page.select_option("#f-analyte", "creatinine")
    assert page.locator("#f-unit option").all_inner_texts() == ["mg/dL (default)", "umol/L"]
    expect(page.locator("#f-unit")).to_have_value("mg/dL")
    page.select_option("#f-analyte", "potassium")
    assert page.locator("#f-unit option").all_inner_texts() == ["mmol/L (default)"]


# 7. Lists that grow: paging, sorting, search; a site nurse offered her own site --------------------------------

def test_it_pages_sorts_and_searches_the_alert_inbox(as_role, demo_site):
    page = as_role("safety_officer")
    page.goto("/alerts?status=all")
    total = len(_db_rows(demo_site, "SELECT id FROM alerts"))
    assert total > 25
    expect(page.locator("[data-test=range]")).to_have_text(f"1–25 of {total} alerts")
    assert page.locator("table.alerts tbody tr").count() == 25
    page.get_by_role("link", name="Next").click()
    expect(page.locator("[data-test=range]")).to_have_text(f"26–{min(50, total)} of {total} alerts")
    page.get_by_role("link", name="Subject").click()
    expect(page.locator("th[aria-sort=ascending]")).to_have_text("Subject ▲")
    subjects = [s for s in page.locator("table.alerts tbody tr td:nth-child(3)").all_inner_texts() if s]
    assert subjects == sorted(subjects)
    page.fill("input[name=q]", "creatinine")
    page.get_by_role("button", name="Filter").click()
    messages = page.locator("table.alerts tbody tr td:nth-child(4)").all_inner_texts()
    assert messages and all("creatinine" in m.lower() for m in messages)


def test_it_offers_a_site_nurse_only_her_site_and_finds_an_ae_by_its_name(as_role, demo_site):
    page = as_role("nurse:S01")
    page.goto("/ae")
    assert page.locator("select[name=site] option").all_inner_texts() == ["all", "S01"]
    ae = next(a for a in _db_rows(demo_site, "SELECT * FROM adverse_events WHERE site = 'S01' ORDER BY id"))
    name = adverse_events.display_id(ae)
    page.fill("input[name=q]", name)
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.data tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Grade").click()
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Grade")


def test_it_filters_and_pages_a_participants_lab_results(as_role):
    page = as_role("nurse:S01")
    page.goto("/participants/S01-001")
    page.select_option("select[name=lab_analyte]", "creatinine")
    page.get_by_role("button", name="Show").click()
    analytes = page.locator("#lab-series tbody tr").evaluate_all("rows => rows.map(r => r.dataset.analyte)")
    assert analytes and set(analytes) == {"creatinine"}
    assert "#labs" in page.url or page.url.endswith("labs")


# 8. One name for an AE: page, list, audit trail -----------------------------------------------------------------

def test_it_calls_an_ae_by_one_name_from_the_list_to_the_audit_trail(as_role, demo_site):
    ae = _db_rows(demo_site, "SELECT * FROM adverse_events WHERE site = 'S01' ORDER BY id LIMIT 1")[0]
    name = adverse_events.display_id(ae)
    assert re.fullmatch(r"S01-\d{3}-AE\d+", name)
    nurse = as_role("nurse:S01")
    nurse.goto(f"/ae?subject_id={ae['subject_id']}")
    nurse.get_by_role("link", name=name, exact=True).click()
    expect(nurse.locator("h1")).to_contain_text(name)
    auditor = as_role("auditor")
    auditor.goto("/audit")
    auditor.fill("input[name=entity_id]", name)
    auditor.get_by_role("button", name="Show").click()
    rows_ = auditor.locator("#audit-entries tbody tr")
    assert rows_.count() >= 1
    expect(rows_.first).to_contain_text(name)
    created = rows_.filter(has_text="create").first  # one row for the whole creation, its fields together
    assert created.locator("ul.changes li").count() > 3
    rows_.first.get_by_role("link", name=name).click()
    expect(auditor.locator("h1")).to_contain_text(name)


# 9. Where things are -------------------------------------------------------------------------------------------

def test_it_puts_the_participants_actions_at_the_top_of_the_page(as_role):
    page = as_role("nurse:S01")
    page.goto("/participants/S01-001")
    log_ae = page.get_by_role("navigation", name="Participant actions").get_by_role("link", name="Log an AE")
    assert log_ae.bounding_box()["y"] < 300
    log_ae.click()
    expect(page.locator("h1")).to_contain_text("Log an adverse event")


def test_it_links_each_alert_to_the_record_behind_it(as_role, demo_site):
    page = as_role("safety_officer")
    lab_alert = _db_rows(demo_site, "SELECT * FROM alerts WHERE ref_entity = 'lab' ORDER BY id LIMIT 1")[0]
    page.goto(f"/alerts/{lab_alert['id']}")
    page.locator("a.alert-target").click()
    expect(page.locator("h1")).to_contain_text(lab_alert["subject_id"])
    expect(page.locator("#lab-series tbody tr").first).to_be_visible()
    visit_alert = _db_rows(demo_site, "SELECT * FROM alerts WHERE kind = 'visit_overdue' ORDER BY id LIMIT 1")[0]
    page.goto(f"/alerts?subject_id={visit_alert['subject_id']}&status=all&kind=visit_overdue")
    page.locator(f"tr[data-alert='{visit_alert['id']}'] a.alert-target").click()
    visit = visit_alert["key"].rsplit(":", 1)[1]
    assert page.url.endswith(f"#visit-{visit}")
    expect(page.locator(f"#visit-{visit}")).to_be_visible()


def test_it_shows_the_nurse_her_missed_visits_on_her_home_page(as_role, demo_site):
    from safety_service.charts.agenda import for_user
    db = demo_site.db()
    try:
        nurse = dict(_db_rows(demo_site, "SELECT * FROM users WHERE role = 'nurse' AND site = 'S01'")[0])
        expected = for_user(db, nurse, study=demo_site.app.extensions["rulebook"].study,
                            tz=demo_site.app.config["TIMEZONE"], now=NOW).missed
    finally:
        db.conn.close()
    page = as_role("nurse:S01")
    if expected:
        expect(page.locator("#missed h2")).to_contain_text(f"Missed visits at S01 ({len(expected)})")
        listed = page.locator("#missed-table tbody td:first-child a").all_inner_texts()
        assert sorted(listed) == sorted(d.subject_id for d in expected)
    else:
        expect(page.locator("#missed")).to_have_count(0)
