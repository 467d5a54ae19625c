"""A nurse records a con-med on the participant page in Debian's chromium: the demo's ACE inhibitor or ARB is there,
a partial start date is accepted, a stop date while ongoing is refused next to its field, and the saved con-med
is offered as "treatment given" on the AE form."""
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


def test_it_lets_a_nurse_record_a_conmed_and_offers_it_on_the_ae_form(as_role):
    page = as_role("nurse:S01")
    page.goto("/participants/S01-002")
    section = page.locator("#history")
    expect(section.locator("#conmeds")).to_contain_text("Diabetic nephropathy")  # the protocol's ACEi/ARB (demo)
    expect(section.locator("#medical-history")).to_contain_text("Type 2 diabetes mellitus")

    section.get_by_role("link", name="Add a con-med").click()
    expect(page).to_have_url(re.compile(r"/participants/S01-002/conmeds/new$"))
    page.fill("#f-name", "Atorvastatin")
    page.fill("#f-indication", "Dyslipidaemia")
    page.fill("#f-dose", "20")
    page.fill("#f-unit", "mg")
    page.select_option("#f-route", "oral")
    page.fill("#f-start_date", "2019-04")
    page.fill("#f-stop_date", "2026-01-01")  # while "Ongoing" is still ticked
    page.click("#history-form button[type=submit]")
    expect(page.locator('[data-field="stop_date"]')).to_contain_text("empty while the medication is ongoing")
    expect(page.locator("#f-name")).to_have_value("Atorvastatin")  # nothing typed is lost

    page.fill("#f-stop_date", "")
    page.click("#history-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/participants/S01-002#history$"))
    row = page.locator("#conmeds tr", has_text="Atorvastatin")
    expect(row).to_contain_text("20 mg")
    expect(row).to_contain_text("2019-04")
    expect(row).to_contain_text("ongoing")
    assert horizontal_overflow(page) == 0
    shoot(page, "participant-conmeds")

    page.goto("/participants/S01-002/ae/new")
    expect(page.locator("#treatment-choices")).to_contain_text("Atorvastatin")
