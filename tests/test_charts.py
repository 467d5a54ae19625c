"""The SVG charts, the data shaping behind them, the nurse's agenda, and the pages that show them.

Pure functions first (fixed inputs, exact outputs at the clinical boundaries), then the dashboard and participant
page through the Flask test client on a real SQLite file.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from conftest import NOW
from safety_service.charts import agenda as agenda_mod
from safety_service.charts import cohort, sources
from safety_service.charts.ae_timeline import AeMark, ae_timeline
from safety_service.charts.compliance import VisitCompliance, compliance_chart
from safety_service.charts.lab_trend import LabPoint, VisitMark, egfr_reference_lines, lab_trend
from safety_service.charts.spaghetti import MedianPoint, Trajectory, spaghetti
from safety_service.charts.svg import GRADE_COLOURS, Scale, log_ticks, nice_ticks, num
from safety_service.charts.swimmer import SwimLane, SwimMark, lane_height, swimmer
from safety_service.domain.study import ScheduledVisit

SVG = "{http://www.w3.org/2000/svg}"
TZ = "Europe/Berlin"


def parse(chart):
    """The chart's SVG as an element tree (so a malformed chart fails here)."""
    return ET.fromstring(chart.svg)


def classes(root, cls: str):
    return [e for e in root.iter() if cls in (e.get("class") or "").split()]


# --- the SVG vocabulary ---------------------------------------------------------------------------------------

def test_it_picks_round_ticks_that_cover_the_data():
    assert nice_ticks(-47.3, 12.1, 8) == [-50, -40, -30, -20, -10, 0, 10, 20]
    assert nice_ticks(30.5, 55.2) == [30, 35, 40, 45, 50, 55, 60]
    assert log_ticks(25, 2400) == [10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0]
    with pytest.raises(ValueError):
        nice_ticks(5, 1)
    with pytest.raises(ValueError):
        log_ticks(0, 10)


def test_it_maps_linear_and_log_scales():
    assert Scale(0, 100, 50, 150)(25) == 75
    assert Scale(10, 1000, 0, 200, log=True)(100) == pytest.approx(100)
    assert num(-0.001) == "0" and num(12.50) == "12.5" and num(3) == "3"


# --- percent change and the -30 % boundary ----------------------------------------------------------------------

def test_it_computes_a_30_percent_decline_exactly_at_70_percent_of_baseline():
    # A decline of 30 % (Levey AJKD 2014) leaves 70 % of baseline; in binary floats 35/50 - 1 is not -0.3.
    assert cohort.percent_change(35.0, 50.0) == -30.0
    assert cohort.percent_change(36.33, 51.9) == -30.0
    assert cohort.percent_change(36.34, 51.9) == -29.98
    assert cohort.percent_change(31.14, 51.9) == -40.0
    with pytest.raises(ValueError):
        cohort.percent_change(30, 0)


def test_it_marks_a_participant_who_reached_minus_30_but_not_one_just_above():
    chart = spaghetti("s", [Trajectory("S01-001", ((31, -30.0), (92, -12.0)), -30.0),
                            Trajectory("S01-002", ((31, -29.99),), -29.99)], [])
    fell = classes(parse(chart), "fell")
    assert [e.find(f"{SVG}title").text.split(":")[0] for e in fell] == ["S01-001"]
    assert "1 reached a 30 % decline and 0 a 40 % decline" in chart.summary
    assert ["S01-001 (lowest)", "", "", "-30"] in chart.table.rows


def test_it_draws_the_median_at_each_visit_with_its_n():
    chart = spaghetti("s", [Trajectory("S01-001", ((31, -5.0),), -5.0)],
                      [MedianPoint("M1", 31, -5.0, 1), MedianPoint("M3", 92, -7.5, 2)])
    root = parse(chart)
    assert len(classes(root, "median-point")) == 2
    assert "M3 -7.5 % (n=2)" in chart.summary
    assert chart.table.rows[:2] == [["M1", 31, 1, "-5"], ["M3", 92, 2, "-7.5"]]


def _egfr(sid, when, value, visit=None):
    return {"subject_id": sid, "analyte": "egfr", "value_si": value, "collected_at": when, "visit": visit}


def test_it_builds_trajectories_and_medians_from_the_baseline_before_the_injection(app):
    study = app.extensions["rulebook"].study
    people = [{"subject_id": "S01-001", "injection_at": "2026-01-12T09:30:00+00:00"},
              {"subject_id": "S01-002", "injection_at": "2026-01-12T09:30:00+00:00"},
              {"subject_id": "S01-003", "injection_at": None}]
    rows = [_egfr("S01-001", "2025-12-29T08:00:00+00:00", 40.0, "SCR"),
            _egfr("S01-001", "2026-01-12T07:30:00+00:00", 50.0, "D0"),   # the last before injection: baseline
            _egfr("S01-001", "2026-02-11T08:00:00+00:00", 35.0, "M1"),
            _egfr("S01-002", "2026-01-12T07:00:00+00:00", 40.0, "D0"),
            _egfr("S01-002", "2026-02-11T08:00:00+00:00", 38.0, "M1"),
            _egfr("S01-002", "2026-07-01T08:00:00+00:00", 10.0, "M6"),   # after NOW: not yet known
            _egfr("S01-003", "2026-02-11T08:00:00+00:00", 60.0, "M1")]
    traj = cohort.egfr_trajectories(people, rows, TZ, NOW)
    assert [(t.subject_id, t.points, t.worst) for t in traj] == [
        ("S01-001", ((31, -30.0),), -30.0), ("S01-002", ((31, -5.0),), -5.0)]
    medians = cohort.egfr_medians(people, rows, study, NOW)
    assert medians == [MedianPoint("M1", 31, -17.5, 2)]


# --- visit compliance, overdue visits -------------------------------------------------------------------------

def _visit(code, start, end, status, done=None):
    due = start + (end - start) / 2
    return ScheduledVisit(code, code, due, start, end, status, done)


def test_it_counts_a_visit_on_the_last_window_day_as_in_window_and_the_day_after_as_late(app):
    study = app.extensions["rulebook"].study
    s, e = date(2026, 2, 4), date(2026, 2, 18)
    schedules = {"A": [_visit("M1", s, e, "done", e)], "B": [_visit("M1", s, e, "done", e + timedelta(days=1))],
                 "C": [_visit("M1", s, e, "overdue")], "D": [_visit("M1", s, e, "missed")],
                 "E": [_visit("M1", s, e, "open")], "F": [_visit("M1", s, e, "done", s)]}
    m1 = cohort.visit_compliance(schedules, study)[0]
    assert (m1.in_window, m1.late, m1.overdue, m1.missed, m1.upcoming) == (2, 1, 1, 1, 1)
    assert m1.due == 5 and m1.percent_in_window == 40.0
    assert [v["subject_id"] for v in cohort.overdue_visits(schedules)] == ["C"]


def test_it_draws_compliance_bars_with_counts_and_a_table():
    chart = compliance_chart("c", [VisitCompliance("M1", "Month 1", 8, 1, 1, 0, 2),
                                   VisitCompliance("M12", "Month 12", 0, 0, 0, 0, 12)])
    root = parse(chart)
    assert len(classes(root, "in_window")) == 1 and not classes(root, "missed")
    assert chart.table.rows[0] == ["Month 1", 10, 8, 1, 1, 0, 2, "80 %"]
    assert chart.table.rows[1][-1] == "—"
    assert "not yet due (12 upcoming)" in chart.svg


# --- swimmer plot and AE timeline -----------------------------------------------------------------------------

def test_it_draws_saes_as_outlined_diamonds_and_other_aes_as_dots_coloured_by_grade():
    chart = swimmer("w", [SwimLane("S01-001", 120, "active", (SwimMark(3, 2, False, "Flank pain"),
                                                              SwimMark(40, 4, True, "Sepsis"))),
                          SwimLane("S02-001", 20, "withdrawn")])
    root = parse(chart)
    sae = classes(root, "sae")
    assert len(sae) == 1 and sae[0].tag == f"{SVG}polygon" and sae[0].get("stroke") == "#000000"
    assert sae[0].get("fill") == GRADE_COLOURS[4]
    dots = [e for e in classes(root, "ae") if "sae" not in e.get("class")]
    assert len(dots) == 1 and dots[0].tag == f"{SVG}circle" and dots[0].get("fill") == GRADE_COLOURS[2]
    assert chart.table.rows[0][:6] == ["S01-001", 120, "active", 2, 4, 1]
    assert chart.table.rows[1][:6] == ["S02-001", 20, "withdrawn", 0, "", 0]


def test_it_thins_the_lanes_of_a_large_cohort_and_keeps_every_participant_in_the_table():
    assert lane_height(30) == 18 and lane_height(500) == pytest.approx(2.2)
    lanes = [SwimLane(f"S01-{i:03d}", i, "active") for i in range(1, 501)]
    chart = swimmer("w", lanes)
    assert len(chart.table.rows) == 500 and chart.table.rows[0][0] == "S01-500"
    assert int(parse(chart).get("height")) < 1300


def test_it_leaves_out_aes_entered_in_error_and_before_the_injection(app):
    people = [{"subject_id": "S01-001", "injection_at": "2026-01-12T09:30:00+00:00", "status": "active"}]
    aes = [{"subject_id": "S01-001", "onset_day": 3, "grade": 2, "serious": False, "term": "Flank pain",
            "status": "active"},
           {"subject_id": "S01-001", "onset_day": 5, "grade": 3, "serious": True, "term": "Sepsis",
            "status": "entered_in_error"},
           {"subject_id": "S01-001", "onset_day": -2, "grade": 1, "serious": False, "term": "Headache",
            "status": "active"}]
    (lane,) = cohort.swimmer_lanes(people, aes, TZ, NOW)
    # 2026-01-12 is day 1, so 2026-06-15 is day 155
    assert lane.days_on_study == 155 and [m.term for m in lane.marks] == ["Flank pain"]


def test_it_draws_an_ongoing_ae_to_today_with_an_open_end():
    marks = [AeMark(1, "Hematuria", 2, False, 3, 10, "2026-01-14", "2026-01-21", "recovered"),
             AeMark(2, "Sepsis", 4, True, 40, None, "2026-02-20", None, "not_recovered")]
    chart = ae_timeline("t", marks, (-14, 200), today_day=155)
    root = parse(chart)
    bars = classes(root, "ae")
    assert [b.get("class") for b in bars] == ["ae grade-2", "ae grade-4 sae"]
    assert float(bars[1].get("width")) > float(bars[0].get("width"))  # day 40 to today (155) vs day 3 to 10
    assert "→" in chart.svg and "1 serious" in chart.summary
    assert chart.table.rows[1][5] == "ongoing"


# --- the participant's lab trend ------------------------------------------------------------------------------

def test_it_draws_baseline_and_the_minus_30_and_40_percent_lines_at_their_values():
    ref = egfr_reference_lines(50.0)
    assert [(r.label, r.value) for r in ref] == [("Baseline", 50.0), ("−30 %", 35.0), ("−40 %", 30.0)]
    assert egfr_reference_lines(None) == []


def test_it_highlights_only_the_values_that_breached_a_rule():
    pts = [LabPoint(-1, 50.0, "2026-01-11"), LabPoint(31, 34.0, "2026-02-11", "M1", ("egfr_decline_30",)),
           LabPoint(92, 45.0, "2026-04-13", "M3")]
    chart = lab_trend("e", title="eGFR", analyte_label="eGFR", unit="mL/min/1.73 m²", points=pts,
                      reference=egfr_reference_lines(50.0), visits=[VisitMark(31, "M1", True)], x_range=(-14, 120))
    root = parse(chart)
    breach = classes(root, "breach")
    assert len(breach) == 1 and "egfr_decline_30" in breach[0].find(f"{SVG}title").text
    assert len(classes(root, "point")) == 3
    assert chart.table.rows[1] == ["2026-02-11", 31, "M1", "34", "egfr_decline_30"]
    assert "M1 ✓" in chart.svg


def test_it_refuses_a_zero_on_a_log_axis():
    with pytest.raises(ValueError, match="log axis"):
        lab_trend("u", title="UACR", analyte_label="UACR", unit="mg/g", points=[LabPoint(5, 0.0, "2026-01-16")],
                  reference=[], visits=[], x_range=(-14, 30), log=True)


# --- every chart: accessible, escaped, deterministic ----------------------------------------------------------

def _all_charts():
    return [
        spaghetti("a", [Trajectory("S01-001", ((31, -3.0),), -3.0)], [MedianPoint("M1", 31, -3.0, 1)]),
        swimmer("b", [SwimLane("S01-001", 40, "active", (SwimMark(3, 5, True, "<script>x</script>"),))]),
        compliance_chart("c", [VisitCompliance("M1", "Month 1", 1, 0, 0, 0, 0)]),
        ae_timeline("d", [AeMark(1, "A & B <i>", 1, False, 2, None, "2026-01-13", None)], (-14, 60), 40),
        lab_trend("e", title="eGFR", analyte_label="eGFR", unit="mL/min", points=[LabPoint(2, 40, "2026-01-13")],
                  reference=[], visits=[], x_range=(-14, 60)),
    ]


def test_it_gives_every_chart_a_title_a_description_and_aria_labels():
    for chart in _all_charts():
        root = parse(chart)
        assert root.get("role") == "img"
        assert root.get("aria-labelledby") == f"{chart.id}-title"
        assert root.get("aria-describedby") == f"{chart.id}-desc"
        assert root.find(f"{SVG}title").get("id") == f"{chart.id}-title"
        assert root.find(f"{SVG}desc").text == chart.summary
        assert chart.table.headers and chart.table.caption


def test_it_escapes_text_from_the_records():
    charts = _all_charts()
    assert "<script>" not in charts[1].svg and "&lt;script&gt;" in charts[1].svg
    assert "<i>" not in charts[3].svg and "A &amp; B &lt;i&gt;" in charts[3].svg


def test_it_draws_the_same_bytes_for_the_same_data():
    assert [c.svg for c in _all_charts()] == [c.svg for c in _all_charts()]


# --- SAE clocks -------------------------------------------------------------------------------------------------

def test_it_counts_an_sae_clock_as_overdue_only_after_its_due_time():
    clocks = [{"id": 1, "subject_id": "S01-001", "report_due_at": "2026-06-15T10:00:00+00:00"},
              {"id": 2, "subject_id": "S01-002", "report_due_at": "2026-06-15T09:59:59+00:00"},
              {"id": 3, "subject_id": "S01-003", "report_due_at": "2026-06-15T16:00:00+00:00"}]
    status = cohort.sae_clock_status(clocks, NOW)
    assert [(c["id"], c["overdue"], c["hours_left"]) for c in status] == [(2, True, 0.0), (1, False, 0.0),
                                                                         (3, False, 6.0)]


# --- the nurse's agenda -----------------------------------------------------------------------------------------

def test_it_sorts_visits_into_today_and_this_week():
    today = date(2026, 6, 15)
    people = [{"subject_id": s, "site": "S01"} for s in ("S01-001", "S01-002", "S01-003", "S01-004", "S01-005")]
    schedules = {
        "S01-001": [_visit("M3", today - timedelta(days=30), today - timedelta(days=3), "overdue")],
        "S01-002": [_visit("M1", today - timedelta(days=10), today, "open")],
        "S01-003": [_visit("M6", today + timedelta(days=7), today + timedelta(days=35), "upcoming")],
        "S01-004": [_visit("M6", today + timedelta(days=8), today + timedelta(days=36), "upcoming")],
        "S01-005": [_visit("M1", today - timedelta(days=20), today - timedelta(days=6), "done", today)],
    }
    result = agenda_mod.agenda(people, schedules, today, 7, {"S01-001": today - timedelta(days=100)})
    assert [(d.subject_id, d.note, d.urgent) for d in result.today] == [
        ("S01-001", "overdue by 3 days", True), ("S01-002", "window closes today", True)]
    assert [(d.subject_id, d.note) for d in result.week] == [("S01-003", "window opens in 7 days")]
    listing = {p["subject_id"]: p for p in result.participants}
    assert listing["S01-001"]["study_day"] == 101 and listing["S01-005"]["next_visit"] is None


# --- eGFR rows from creatinine ----------------------------------------------------------------------------------

def test_it_takes_the_egfr_the_labs_domain_derived_from_each_creatinine():
    rows = [{"id": 1, "analyte": "creatinine", "value_si": 1.5, "egfr": 54.6, "collected_at": "2026-01-02T08:00:00+00:00"},
            {"id": 2, "analyte": "egfr", "value_si": 50.0, "egfr": None, "collected_at": "2026-01-01T08:00:00+00:00"},
            {"id": 3, "analyte": "uacr", "value_si": 300.0, "egfr": None, "collected_at": "2026-01-01T08:00:00+00:00"}]
    assert [(r["id"], r["analyte"], r["value_si"]) for r in sources.as_egfr(rows)] == [(2, "egfr", 50.0),
                                                                                         (1, "egfr", 54.6)]
    # an eGFR reported for the same sample as its creatinine is drawn once, as reported
    same = [{**rows[0], "subject_id": "S01-001"},
            {"id": 4, "subject_id": "S01-001", "analyte": "egfr", "value_si": 55.0, "egfr": None,
             "collected_at": rows[0]["collected_at"]}]
    assert [(r["id"], r["value_si"]) for r in sources.as_egfr(same)] == [(4, 55.0)]


# --- the pages ----------------------------------------------------------------------------------------------------

@pytest.fixture
def cohort_with_visits(app, db, enrol, people):
    """Two S01 participants and one at S02, injected 2026-02-20: M1 window 03-15..03-29 (S01-001 came on 03-20,
    the others missed it), M3 window 05-08..06-05 closed 10 days before NOW unrecorded: overdue for all three."""
    from safety_service.domain import participants
    study, tz = app.extensions["rulebook"].study, app.config["TIMEZONE"]
    for sid in ("S01-001", "S01-002", "S02-001"):
        enrol(sid, injection_at="2026-02-20T09:00:00+00:00")
    participants.record_visit(db, "S01-001", "M1", "2026-03-20", study=study, tz=tz, actor=people["nurse_nina"],
                              now=NOW)


def test_it_shows_the_dashboard_to_the_safety_officer_with_its_three_charts(web, cohort_with_visits):
    html = web("safety_sam").get("/dashboard").get_data(as_text=True)
    for chart_id in ("chart-egfr-change", "chart-swimmer", "chart-compliance"):
        assert f'id="{chart_id}"' in html and f'aria-labelledby="{chart_id}-title"' in html
    assert re.search(r'id="stat-overdue".*?<span class="stat-n">(\d+)</span>', html, re.S).group(1) == "3"
    assert "2 missed" in html
    assert "Month 1: 1 of 3 due done in window (33.3 %)" in html


def test_it_scopes_the_investigators_dashboard_to_her_site(web, cohort_with_visits):
    html = web("investigator_ivan").get("/dashboard").get_data(as_text=True)
    assert "S01-001" in html and "S02-001" not in html
    assert "2 of 2 participants injected" in html


def test_it_keeps_the_dashboard_from_nurses(web, cohort_with_visits):
    assert web("nurse_nina").get("/dashboard").status_code == 403


def test_it_counts_open_alerts_and_lists_them(web, db, cohort_with_visits):
    from safety_service.domain import alerts
    alerts.raise_alert(db, key="t:1", kind="test", severity="critical", message="Hemoglobin below 8 g/dL",
                       now=NOW, subject_id="S01-002", site="S01")
    html = web("safety_sam").get("/dashboard").get_data(as_text=True)
    assert re.search(r'id="stat-alerts".*?<span class="stat-n">1</span>', html, re.S)
    assert "Hemoglobin below 8 g/dL" in html


def test_it_shows_the_participant_charts_after_the_injection_only(web, enrol):
    enrol("S01-001")
    enrol("S01-009", injection_at="")
    nina = web("nurse_nina")
    html = nina.get("/participants/S01-001").get_data(as_text=True)
    assert 'id="chart-egfr"' in html and 'id="chart-uacr"' in html and 'id="chart-aes"' in html
    assert 'id="chart-egfr"' not in nina.get("/participants/S01-009").get_data(as_text=True)


def test_it_lists_the_nurses_visits_due_today_and_this_week(web, db, app, enrol):
    # Injected 2026-05-17: M1 (target day 30 after = 2026-06-16) window 2026-06-09 .. 2026-06-23 is open today.
    enrol("S01-001", injection_at="2026-05-17T09:00:00+00:00", consent_on="2026-05-01", enrolled_on="2026-05-02")
    # Injected 2026-05-25: M1 window opens 2026-06-17, in two days.
    enrol("S01-002", injection_at="2026-05-25T09:00:00+00:00", consent_on="2026-05-01", enrolled_on="2026-05-02")
    enrol("S02-001", injection_at="2026-05-17T09:00:00+00:00", consent_on="2026-05-01", enrolled_on="2026-05-02")
    html = web("nurse_nina").get("/").get_data(as_text=True)
    today, week = html.split('id="due-week"')
    assert "S01-001" in today and "window closes in 8 days" in today
    assert "S01-002" in week and "window opens in 2 days" in week
    assert "S02-001" not in html
