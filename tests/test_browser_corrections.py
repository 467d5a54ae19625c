"""Issue 12, in Debian's chromium: the nurse mistypes a creatinine ten times too high, sees the delta warning,
confirms it anyway, then marks it entered in error and enters the right value for the same sample; the safety
officer finds the alert it raised resolved, with the nurse's reason."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser import served_demo, shoot
from safety_service.db import rows

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    """A demo study of this module's own: the records and mails its stories add stay off the other modules' pages."""
    with served_demo(tmp_path_factory.mktemp("browser")) as site:
        yield site


SAMPLE_LOCAL = "2026-06-14T09:00"        # the day before the demo's NOW, Europe/Berlin


def _participant(demo_site) -> tuple[str, float]:
    """An S01 participant whose latest valid creatinine (umol/L) is within the 90 days of the delta check."""
    db = demo_site.db()
    try:
        found = rows(db, "SELECT subject_id, value FROM labs l WHERE site = 'S01' AND analyte = 'creatinine' AND "
                         "status = 'valid' AND unit = 'umol/L' AND collected_at >= '2026-04-01' AND collected_at = "
                         "(SELECT max(collected_at) FROM labs m WHERE m.participant_id = l.participant_id AND "
                         "m.analyte = 'creatinine' AND m.status = 'valid') ORDER BY subject_id LIMIT 1")
    finally:
        db.conn.close()
    assert found, "the demo has no S01 participant with a recent creatinine"
    return found[0]["subject_id"], found[0]["value"]


def _enter(page, value: str) -> None:
    page.select_option("#f-analyte", "creatinine")
    page.select_option("#f-unit", "umol/L")
    page.fill("#f-value", value)
    page.fill("#f-collected_at", SAMPLE_LOCAL)
    page.select_option("#f-visit", "UNS")


def test_a_mistyped_creatinine_is_warned_confirmed_marked_in_error_and_corrected(as_role, demo_site):
    sid, previous = _participant(demo_site)
    typo, right = f"{previous * 10:g}", f"{previous:g}"
    nurse = as_role("nurse:S01")
    nurse.goto(f"/participants/{sid}/labs/new")
    _enter(nurse, typo)
    nurse.get_by_role("button", name="Save result").click()
    warning = nurse.locator("#plausibility-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("ten times the previous result")
    expect(warning.locator("li[data-check=creatinine_delta_3x_90d]")).to_contain_text("10 x the previous result")
    shoot(nurse, "corrections-delta-warning")

    nurse.check("#f-confirmed")                          # the nurse is sure (she is not right)
    nurse.get_by_role("button", name="Save result").click()
    expect(nurse).to_have_url(re.compile(rf"/participants/{sid}#labs$"))
    db = demo_site.db()
    try:
        lab = rows(db, "SELECT id FROM labs WHERE subject_id = ? AND analyte = 'creatinine' AND value = ? "
                       "AND status = 'valid'", [sid, float(typo)])[0]
        raised = rows(db, "SELECT id FROM alerts WHERE ref_entity = 'lab' AND ref_id = ? ORDER BY id", [str(lab["id"])])
    finally:
        db.conn.close()
    assert raised, "the typo raised no alert"

    nurse.locator(f'tr[data-lab-id="{lab["id"]}"] a').first.click()
    expect(nurse.locator("#lab-status")).to_have_text("Valid")
    nurse.fill("#eie-form input[name=reason]", f"typed {typo} for {right}")
    nurse.get_by_role("button", name="Mark entered in error").click()
    # the right value is a new result for the same sample: the form comes pre-filled with it
    expect(nurse).to_have_url(re.compile(rf"/participants/{sid}/labs/new\?"))
    expect(nurse.locator("#f-collected_at")).to_have_value(SAMPLE_LOCAL)
    expect(nurse.locator("#f-analyte")).to_have_value("creatinine")
    nurse.fill("#f-value", right)
    nurse.get_by_role("button", name="Save result").click()
    expect(nurse).to_have_url(re.compile(rf"/participants/{sid}#labs$"))
    expect(nurse.locator(f'tr[data-lab-id="{lab["id"]}"]')).to_have_class(re.compile("entered-in-error"))
    shoot(nurse, "corrections-struck-through")

    officer = as_role("safety_officer")
    officer.goto(f"/alerts/{raised[0]['id']}")
    expect(officer.locator("main")).to_contain_text(
        f"source result entered in error by {demo_site.accounts['nurse:S01']['email']}: typed {typo} for {right}")
    officer.goto(f"/alerts?status=resolved&subject_id={sid}")
    expect(officer.locator(f'tr[data-alert="{raised[0]["id"]}"]')).to_contain_text("resolved")
    shoot(officer, "corrections-alert-resolved")
