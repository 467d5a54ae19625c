"""The charts in a real browser (Debian's chromium) on the demo study: drawn, labelled for assistive technology,
backed by a table, the same counts as the domain, readable in print and on a tablet. Writes the README's
dashboard screenshot (docs/screenshot-dashboard.png) when it is missing or SAFETY_UPDATE_SCREENSHOTS=1.
"""
from __future__ import annotations

import os
import struct

import pytest
from playwright.sync_api import expect

from browser import ARTIFACTS, ROOT, horizontal_overflow, shoot
from safety_service.domain import adverse_events, alerts, checks, participants

pytestmark = pytest.mark.browser

CHARTS = {"chart-egfr-change": "eGFR change from baseline (%)",
          "chart-swimmer": "Days on study and adverse events",
          "chart-compliance": "Visit compliance by visit"}
README_SHOT = ROOT / "docs" / "screenshot-dashboard.png"


def _facts(demo_site) -> dict:
    """What the domain says the dashboard must show, read at the time of the test."""
    db = demo_site.db()
    try:
        people = participants.list_for(db, None)
        aes = adverse_events.list_aes(db, None)
        return {"injected": sum(1 for p in people if p["injection_at"]),
                "marks": sum(1 for a in aes if a["onset_day"] is not None and a["onset_day"] >= 1),
                "saes": sum(1 for a in aes if a["serious"] and a["onset_day"] is not None and a["onset_day"] >= 1),
                "open_alerts": sum(alerts.counts(db, None).values()),
                "sae_clocks": len(checks.open_sae_clocks(db))}
    finally:
        db.conn.close()


def test_it_draws_the_dashboard_charts_with_names_a_screen_reader_announces(as_role, demo_site):
    page = as_role("safety_officer")
    page.goto("/dashboard")
    for chart_id, title in CHARTS.items():
        svg = page.locator(f"svg#{chart_id}")
        expect(svg).to_be_visible()
        expect(svg).to_have_attribute("role", "img")
        expect(svg).to_have_accessible_name(title)
        caption = page.locator(f"#cap-{chart_id}").inner_text()
        expect(svg).to_have_accessible_description(caption)
        assert svg.bounding_box()["width"] > 600
    facts = _facts(demo_site)
    expect(page.locator("#chart-swimmer .lane")).to_have_count(facts["injected"])
    expect(page.locator("#chart-swimmer .ae")).to_have_count(facts["marks"])
    expect(page.locator("#chart-swimmer .sae")).to_have_count(facts["saes"])
    assert page.locator("#chart-egfr-change .participant").count() > 0
    assert page.locator("#chart-egfr-change .median-point").count() > 0
    assert int(page.locator("#stat-alerts .stat-n").inner_text()) == facts["open_alerts"]
    assert int(page.locator("#stat-sae .stat-n").inner_text()) == facts["sae_clocks"]
    shoot(page, "dashboard")


def test_it_opens_each_charts_table_alternative(as_role, demo_site):
    page = as_role("safety_officer")
    page.goto("/dashboard")
    table = page.locator("#fig-chart-swimmer details table")
    expect(table).to_be_hidden()
    page.locator("#fig-chart-swimmer summary").click()
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(_facts(demo_site)["injected"])
    page.locator("#fig-chart-compliance summary").click()
    expect(page.locator("#fig-chart-compliance tbody tr")).to_have_count(5)  # M1, M3, M6, M9, M12


def test_it_marks_a_participants_breaching_egfr_values_and_draws_the_decline_lines(as_role, demo_site):
    db = demo_site.db()
    try:  # a participant with a lab-rule alert raised on an eGFR (a creatinine's eGFR) value
        found = db.execute(
            "SELECT a.subject_id, count(DISTINCT l.id) FROM alerts a JOIN labs l ON l.id = CAST(a.ref_id AS INTEGER)"
            " WHERE a.kind = 'lab_rule' AND a.ref_entity = 'lab' AND l.analyte IN ('creatinine', 'egfr')"
            " AND l.status = 'valid'"  # a result entered in error leaves the chart (the demo has one)
            " AND l.subject_id LIKE 'S01-%' GROUP BY a.subject_id ORDER BY a.subject_id LIMIT 1").fetchone()
    finally:
        db.conn.close()
    assert found, "the demo has no eGFR breach at S01"
    subject, n_breached = found
    page = as_role("investigator:S01")
    page.goto(f"/participants/{subject}")
    chart = page.locator("svg#chart-egfr")
    expect(chart).to_have_accessible_name(f"{subject}: eGFR since the injection")
    expect(chart.locator(".breach")).to_have_count(n_breached)
    expect(chart.locator(".reference-lines")).to_contain_text("−30 %")
    expect(chart.locator(".reference-lines")).to_contain_text("−40 %")
    expect(page.locator("svg#chart-uacr")).to_be_visible()
    expect(page.locator("svg#chart-aes")).to_be_visible()
    shoot(page, f"participant-{subject}")
    page.locator("#charts").screenshot(path=str(ARTIFACTS / f"participant-{subject}-charts.png"))


def test_it_keeps_the_charts_in_print_and_drops_the_navigation(as_role):
    page = as_role("safety_officer")
    page.goto("/dashboard")
    page.emulate_media(media="print")
    expect(page.locator(".topbar nav")).to_be_hidden()
    for chart_id in CHARTS:
        expect(page.locator(f"svg#{chart_id}")).to_be_visible()
    assert page.pdf()[:5] == b"%PDF-"


@pytest.mark.parametrize("viewport", [{"width": 1024, "height": 768}, {"width": 768, "height": 1024}])
def test_it_fits_the_dashboard_on_a_tablet(as_role, viewport):
    page = as_role("safety_officer", viewport=viewport)
    page.goto("/dashboard")
    assert horizontal_overflow(page) == 0
    for chart_id in CHARTS:
        assert page.locator(f"svg#{chart_id}").bounding_box()["width"] <= viewport["width"]
    shoot(page, f"dashboard-{viewport['width']}x{viewport['height']}")


def test_it_makes_the_readme_screenshot_of_the_dashboard(as_role):
    page = as_role("safety_officer", viewport={"width": 1280, "height": 1500})
    page.goto("/dashboard")
    png = page.screenshot(full_page=False)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (1280, 1500)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "screenshot-dashboard.png").write_bytes(png)
    if not README_SHOT.exists() or os.environ.get("SAFETY_UPDATE_SCREENSHOTS") == "1":
        README_SHOT.write_bytes(png)
