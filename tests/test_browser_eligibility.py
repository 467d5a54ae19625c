"""Eligibility screening in a real browser (Debian's chromium) on the demo study (issue 13): the nurse finds the
screen failure S01-011 on its checklist and cannot record its injection; the investigator reads the signed protocol
deviation that let S01-012 be injected. Screenshots go to test-artifacts/."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browser import horizontal_overflow, shoot

pytestmark = pytest.mark.browser


def test_the_nurse_cannot_inject_the_screen_failure(as_role):
    page = as_role("nurse:S01")
    page.goto("/participants/S01-011")
    section = page.locator("#eligibility")
    expect(section.locator('tr[data-criterion="IN03"]')).to_contain_text("fails")
    section.get_by_role("link", name="Screening checklist").click()
    expect(page.locator("#verdict")).to_contain_text("Screen failure")
    expect(page.locator("#IN03")).to_contain_text("CKD-EPI 2021 from creatinine")
    expect(page.locator("#deviation-form")).to_have_count(0)   # only the investigator signs
    page.locator("#injection input[name=injection_at]").fill("2026-06-15T09:00")
    page.locator("#injection").get_by_role("button", name="Record the injection").click()
    expect(page.locator("#injection .error")).to_contain_text("IN03")
    expect(page.locator("#injection .error")).to_contain_text("protocol deviation")
    shoot(page, "screening-failure-nurse")
    assert horizontal_overflow(page) == 0


def test_the_investigator_reads_the_signed_deviation_of_s01_012(as_role):
    page = as_role("investigator:S01")
    page.goto("/participants/S01-012/screening")
    expect(page.locator('tr[data-criterion="IN05"]')).to_contain_text("accepted by PD")
    deviation = page.locator("#deviations p[data-deviation]")
    expect(deviation).to_contain_text("IN05")
    expect(deviation).to_contain_text("investigator.s01@demo.example")
    expect(deviation).to_contain_text("protocol deviation")
    expect(page.locator("#injection")).to_have_count(0)         # injected already
    shoot(page, "screening-deviation-investigator")
