"""A nurse logs an AE on a tablet in Debian's chromium: types "hemat", picks Hematuria, picks grade 2 from the
CTCAE v5.0 definitions, saves, and sees it on the participant's timeline."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser import horizontal_overflow, served_demo, shoot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    """A demo study of this module's own: the records and mails its stories add stay off the other modules' pages."""
    with served_demo(tmp_path_factory.mktemp("browser")) as site:
        yield site


TABLET = {"width": 820, "height": 1180}  # a 10-inch tablet held upright


def test_it_lets_a_nurse_log_hematuria_grade_2_and_see_it_on_the_timeline(as_role):
    page = as_role("nurse:S01", viewport=TABLET)
    page.goto("/participants/S01-001")
    hematuria_g2 = page.locator('#timeline li[data-term="Hematuria"][data-grade="2"]')
    before = hematuria_g2.count()

    page.get_by_role("navigation", name="Participant actions").get_by_role("link", name="Log an AE").click()
    expect(page).to_have_url(re.compile(r"/participants/S01-001/ae/new$"))
    assert horizontal_overflow(page) == 0  # usable on the tablet without sideways scrolling

    page.locator("#f-term").press_sequentially("hemat", delay=40)
    option = page.locator('#term-results [role=option][data-term="Hematuria"]')
    expect(option).to_be_visible()
    expect(page.locator("#term-results [role=option]").first).to_have_attribute("data-term", "Hematoma")
    option.click()
    expect(page.locator("#f-term")).to_have_value("Hematuria")
    expect(page.locator("#term-chosen")).to_contain_text("Renal and urinary disorders")
    expect(page.locator("#grade-version")).to_have_text("CTCAE v5.0")

    grade2 = page.locator(".grade-option", has_text="urinary catheter or bladder irrigation indicated")
    expect(grade2).to_contain_text("Grade 2")
    grade2.click()
    expect(page.locator('input[name=grade][value="2"]')).to_be_checked()

    expect(page.locator("#seriousness")).to_be_hidden()  # criteria only once "Serious: Yes" is chosen
    page.fill("#f-verbatim", "pink urine with small clots")
    page.select_option("#f-relatedness_product", "unlikely")
    page.select_option("#f-relatedness_procedure", "probable")
    page.select_option("#f-outcome", "recovering")
    shoot(page, "ae-form-tablet")
    page.get_by_role("button", name="Save AE").click()

    expect(page).to_have_url(re.compile(r"/participants/S01-001#timeline$"))
    expect(page.locator(".flash-success")).to_contain_text("Hematuria grade 2 recorded")
    expect(hematuria_g2).to_have_count(before + 1)
    expect(hematuria_g2.first.locator(".badge.grade-2")).to_have_text("G2")
    shoot(page, "ae-timeline-tablet")


def test_it_shows_the_server_errors_next_to_the_fields_without_saving(as_role, demo_site):
    page = as_role("nurse:S01", viewport=TABLET)
    db = demo_site.db()
    try:
        count = db.execute("SELECT count(*) FROM adverse_events").fetchone()[0]
    finally:
        db.conn.close()
    page.goto("/participants/S01-001/ae/new")
    page.locator("#f-term").press_sequentially("nause", delay=40)
    page.locator('#term-results [role=option][data-term="Nausea"]').click()
    expect(page.locator('input[name=grade][value="4"]')).to_have_count(0)  # Nausea has no grade 4 or 5
    page.locator(".grade-option", has_text="Grade 1").click()
    page.locator('input[name=serious][value="true"]').check()
    expect(page.locator("#seriousness")).to_be_visible()
    page.get_by_role("button", name="Save AE").click()
    for field in ("verbatim", "seriousness", "relatedness_product", "outcome"):
        expect(page.locator(f'.error[data-field="{field}"]')).to_be_visible()
    expect(page.locator("#f-term")).to_have_value("Nausea")
    db = demo_site.db()
    try:
        assert db.execute("SELECT count(*) FROM adverse_events").fetchone()[0] == count
    finally:
        db.conn.close()
