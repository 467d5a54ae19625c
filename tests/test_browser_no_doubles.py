"""In Debian's chromium: a nurse's form sent twice makes one AE, and an amendment made on a stale page is shown,
not saved over someone else's (issue 12: no doubled records, no lost updates)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser import served_demo

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    """A demo study of this module's own: the records and mails its stories add stay off the other modules' pages."""
    with served_demo(tmp_path_factory.mktemp("browser")) as site:
        yield site


def count(demo_site, verbatim: str) -> int:
    db = demo_site.db()
    try:
        return db.execute("SELECT count(*) FROM adverse_events WHERE verbatim = ?", [verbatim]).fetchone()[0]
    finally:
        db.conn.close()


def fill_ae(page, verbatim: str) -> None:
    page.locator("#f-term").press_sequentially("Nause", delay=30)
    page.locator('#term-results [role=option][data-term="Nausea"]').click()
    page.locator(".grade-option", has_text="Grade 1").first.click()
    page.fill("#f-verbatim", verbatim)
    page.select_option("#f-relatedness_product", "unlikely")
    page.select_option("#f-relatedness_procedure", "possible")
    page.select_option("#f-outcome", "recovering")


def test_it_makes_one_ae_when_the_nurse_sends_the_same_form_again(as_role, demo_site):
    page = as_role("nurse:S01")
    page.goto("/participants/S01-002/ae/new")
    fill_ae(page, "queasy after lunch, sent twice")
    sent = page.evaluate("Object.fromEntries(new FormData(document.getElementById('ae-form')))")
    assert sent["form_token"]
    page.get_by_role("button", name="Save AE").click()
    expect(page).to_have_url(re.compile(r"/participants/S01-002#timeline$"))
    # the answer was lost on the way: the browser sends the very same form again (same one-time token)
    again = page.request.post(f"{demo_site.url}/participants/S01-002/ae/new", form=sent, max_redirects=0)
    assert again.status == 302 and re.search(r"/ae/\d+$", again.headers["location"])
    page.goto(again.headers["location"])
    expect(page.locator("body")).to_contain_text("already submitted")
    expect(page.locator("h1")).to_contain_text("Nausea")
    assert count(demo_site, "queasy after lunch, sent twice") == 1


def test_it_shows_a_stale_amendment_instead_of_saving_it(as_role, demo_site):
    nurse = as_role("nurse:S01")
    nurse.goto("/participants/S01-002/ae/new")
    fill_ae(nurse, "nausea to amend twice")
    nurse.get_by_role("button", name="Save AE").click()
    nurse.wait_for_load_state()
    db = demo_site.db()
    ae_id = db.execute("SELECT id FROM adverse_events WHERE verbatim = 'nausea to amend twice'").fetchone()[0]
    db.conn.close()
    investigator = as_role("investigator:S01")
    nurse.goto(f"/ae/{ae_id}/amend")
    investigator.goto(f"/ae/{ae_id}/amend")
    investigator.fill("#f-reason", "vomited twice: grade 2")
    investigator.locator('input[name=grade][value="2"]').check()
    investigator.get_by_role("button", name=re.compile("Save version")).click()
    expect(investigator.locator("body")).to_contain_text("amended: version 2")
    nurse.fill("#f-verbatim", "nausea, better by evening")
    nurse.fill("#f-reason", "wording")
    nurse.get_by_role("button", name=re.compile("Save version")).click()
    stale = nurse.locator("#stale-version")
    expect(stale).to_be_visible()
    expect(stale).to_contain_text("You edited version 1; it is now version 2")
    expect(nurse.locator("#f-verbatim")).to_have_value("nausea, better by evening")  # her words are kept
    nurse.get_by_role("button", name="Save version 3").click()  # having looked, she saves on top of version 2
    expect(nurse.locator("body")).to_contain_text("amended: version 3")
