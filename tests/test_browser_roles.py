"""Each role in a real browser (Debian's chromium) against the demo study: what it sees, what it may not see,
and the few things each does: the nurse logs a serious AE that the investigator and the safety officer then see,
the safety officer acknowledges an alert, the auditor downloads the SDTM AE file. No page scrolls sideways at
1024 px. Screenshots go to test-artifacts/.
"""
from __future__ import annotations

import re

import pandas as pd
import pytest
from playwright.sync_api import expect

from browser import horizontal_overflow, shoot
from safety_service.domain import adverse_events, alerts, checks
from safety_service.domain.permissions import allowed

pytestmark = pytest.mark.browser

ROLES = ("nurse:S01", "investigator:S01", "safety_officer", "auditor", "admin")
# Main navigation links and the action each is guarded by (domain/permissions.py decides who sees which).
NAV = {"Participants": "participant.view", "Adverse events": "ae.view", "Alerts": "alert.view",
       "Dashboard": "dashboard.view", "Exports": "export.ae", "Audit trail": "audit.view", "Accounts": "user.manage"}
TABLET = {"width": 1024, "height": 768}


def role_name(role: str) -> str:
    return role.split(":")[0]


def stat(page, stat_id: str) -> int:
    return int(page.locator(f"#{stat_id} .stat-n").inner_text())


@pytest.mark.parametrize("role", ROLES)
def test_it_shows_each_role_the_navigation_its_permissions_allow(as_role, role):
    page = as_role(role)
    nav = page.get_by_role("navigation", name="Main")
    for text, action in NAV.items():
        link = nav.get_by_role("link", name=text, exact=True)
        expect(link).to_have_count(1 if allowed(role_name(role), action) else 0)
    shoot(page, f"home-{role.replace(':', '-')}")


def test_it_shows_a_nurse_only_her_sites_participants(as_role, demo_site):
    page = as_role("nurse:S01")
    page.goto("/participants")
    subjects = page.locator("table.data tbody tr td:first-child a").all_inner_texts()
    assert subjects and all(s.startswith("S01-") for s in subjects)
    response = page.goto("/participants/S02-001")
    assert response.status == 404
    expect(page.locator("main")).not_to_contain_text("Visit schedule")
    assert page.goto("/dashboard").status == 403


def test_it_gives_the_nurse_a_list_of_what_is_due_today_and_this_week(as_role):
    page = as_role("nurse:S01", viewport=TABLET)
    expect(page.locator("#due-today h2")).to_contain_text("Today at S01")
    expect(page.locator("#due-week h2")).to_contain_text("This week")
    listed = page.locator("#my-participants tbody td:first-child a").all_inner_texts()
    assert listed and all(s.startswith("S01-") for s in listed)
    due = page.locator("#due-today-table tbody td:first-child a, #due-week-table tbody td:first-child a")
    assert all(s.startswith("S01-") for s in due.all_inner_texts())
    assert horizontal_overflow(page) == 0
    shoot(page, "nurse-home-tablet")


def test_it_lets_the_auditor_read_but_not_write(as_role):
    page = as_role("auditor")
    page.goto("/participants/S01-001")
    expect(page.locator("h1")).to_contain_text("S01-001")
    expect(page.locator("#chart-egfr")).to_be_visible()
    for text in ("Log an adverse event", "Log an AE", "Enter a lab result", "Record"):
        expect(page.get_by_role("button", name=text, exact=True)).to_have_count(0)
        expect(page.get_by_role("link", name=text, exact=True)).to_have_count(0)
    assert page.goto("/participants/S01-001/ae/new").status == 403


def _log_serious_ae(page, subject_id: str, verbatim: str) -> None:
    """Fill the AE form as a nurse would (term search, grade from the definitions) and save it."""
    page.goto(f"/participants/{subject_id}")
    page.locator(f"main a[href$='/participants/{subject_id}/ae/new']").first.click()
    page.fill("#f-term", "flank")
    page.locator("#term-results li", has_text="Flank pain").first.click()
    page.check("input[name=grade][value='3']")
    page.fill("#f-verbatim", verbatim)
    page.fill("#f-onset", "2026-06-14")
    page.check("input[name=serious][value='true']")
    page.check("input[name=seriousness][value='hospitalization']")
    page.select_option("#f-relatedness_product", "possible")
    page.select_option("#f-relatedness_procedure", "probable")
    page.select_option("#f-outcome", "not_recovered")
    page.click("#ae-form button[type=submit]")
    page.wait_for_load_state()
    expect(page.locator(".flash")).to_contain_text(f"Flank pain grade 3 recorded for {subject_id}")


def test_it_carries_a_nurses_serious_ae_to_the_investigator_and_the_safety_officer(as_role, demo_site):
    nurse = as_role("nurse:S01")
    subject = "S01-002"
    _log_serious_ae(nurse, subject, "severe flank pain after the biopsy-side injection, admitted")
    expect(nurse.locator("#chart-aes")).to_contain_text("Flank pain · G3 · SAE")
    shoot(nurse, "nurse-sae-logged")

    investigator = as_role("investigator:S01")
    investigator.goto(f"/ae?subject_id={subject}")
    row = investigator.locator("tbody tr", has_text=subject).filter(has_text="Flank pain").filter(has_text="G3")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("SAE")

    officer = as_role("safety_officer")
    officer.goto("/dashboard")
    db = demo_site.db()
    try:
        running = checks.open_sae_clocks(db)
        (logged,) = [a for a in adverse_events.list_aes(db, None, {"subject_id": subject})
                     if a["verbatim"].startswith("severe flank pain")]
    finally:
        db.conn.close()
    assert stat(officer, "stat-sae") == len(running) >= 1
    expect(officer.locator("#sae-clocks")).to_contain_text(subject)
    sae_marks = officer.locator("#chart-swimmer .sae title", has_text=subject)
    expect(sae_marks.filter(has_text="Flank pain")).to_have_count(1)

    other_site = as_role("nurse:S02")
    assert other_site.goto(f"/ae/{logged['id']}").status == 404


def test_it_lets_the_safety_officer_acknowledge_an_alert(as_role, demo_site):
    db = demo_site.db()
    try:  # an alert of our own, so the test does not depend on which checks the demo ran
        from conftest import NOW
        alerts.raise_alert(db, key="browser:ack", kind="lab_rule", severity="critical", subject_id="S03-001",
                           site="S03", message="Browser test: potassium 6.4 mmol/L above 6.0", now=NOW)
    finally:
        db.conn.close()
    page = as_role("safety_officer")
    page.goto("/dashboard")
    before = stat(page, "stat-alerts")
    page.locator("#open-alerts").get_by_role("link", name=re.compile("inbox")).click()
    page.fill("input[name=subject_id]", "S03-001")
    page.get_by_role("button", name="Filter").click()
    page.locator("table.alerts a", has_text="Browser test: potassium").click()
    page.fill("#c-acknowledge", "Called the site: repeat sample tomorrow, participant well")
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state()
    expect(page.locator("main")).to_contain_text("acknowledged")
    expect(page.locator("main")).to_contain_text("repeat sample tomorrow")
    shoot(page, "alert-acknowledged")
    page.goto("/dashboard")
    assert stat(page, "stat-alerts") == before - 1
    expect(page.locator("#open-alerts")).not_to_contain_text("Browser test: potassium")


def test_it_lets_the_auditor_download_the_sdtm_ae_file(as_role, demo_site, tmp_path):
    page = as_role("auditor", accept_downloads=True)
    page.goto("/exports")
    with page.expect_download() as info:
        page.get_by_role("button", name="SDTM AE (XPT)").click()
    download = info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    assert path.suffix == ".xpt"
    assert path.read_bytes().startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!")  # SAS transport v5
    frame = pd.read_sas(path, format="xport", encoding="utf-8")
    assert {"STUDYID", "DOMAIN", "USUBJID", "AESEQ", "AETERM", "AEDECOD", "AETOXGR"} <= set(frame.columns)
    db = demo_site.db()
    try:
        active = adverse_events.list_aes(db, None)
    finally:
        db.conn.close()
    assert len(frame) == len(active)


PAGES = ("/", "/participants", "/participants/S01-001", "/participants/S01-001/ae/new",
         "/participants/S01-001/labs/new", "/dashboard", "/ae", "/alerts", "/exports", "/summary", "/signals/",
         "/audit", "/admin/users", "/outbox/")


@pytest.mark.parametrize("role", ROLES)
def test_it_needs_no_sideways_scrolling_at_1024_px(as_role, role):
    page = as_role(role, viewport=TABLET)
    seen = []
    for url in PAGES:
        response = page.goto(url)
        if response.status != 200:
            continue
        seen.append(url)
        assert horizontal_overflow(page) == 0, f"{url} is wider than 1024 px for {role}"
    assert "/" in seen and "/participants" in seen
