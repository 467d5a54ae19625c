"""The signal pages' hand-built charts (charts/signals.py): the same data give the same SVG, with a table."""
from __future__ import annotations

from datetime import datetime, timezone

from safety_service.charts import signals as charts
from safety_service.domain import stopping
from safety_service.domain.change_from_baseline import ChangeRow
from safety_service.domain.stopping import StoppingRule

RULE = StoppingRule(id="serious-related", title="Serious related events", unacceptable_rate=0.2, threshold=0.9,
                    prior_a=1, prior_b=1, counts=[{"serious": True}])
NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
PEOPLE = [{"subject_id": f"S01-00{i}", "injection_at": f"2026-01-1{i}T09:00:00+00:00"} for i in range(1, 6)]
AES = [{"id": i, "subject_id": f"S01-00{i}", "onset": f"2026-01-2{i}", "status": "active", "treatment_emergent": True,
        "serious": True, "grade": 3, "relatedness_product": "possible", "relatedness_procedure": "possible",
        "phase": "early"} for i in (1, 2)]


def _position():
    return stopping.position(RULE, PEOPLE, AES, NOW)


def test_it_draws_the_posterior_as_svg_with_a_row_per_step_and_marks_the_crossing():
    pos = _position()
    chart = charts.posterior_over_time(RULE, pos)
    assert chart.svg.startswith("<svg") and "matplotlib" not in chart.svg
    assert len(chart.table.rows) == len(pos.trajectory) == 7
    assert "crossed" in chart.svg and 'role="img"' in chart.svg
    assert chart.svg == charts.posterior_over_time(RULE, _position()).svg  # deterministic
    # subject ids stay out of the chart: the page hides other sites' ids from site-bound users in its own table
    assert not any(p["subject_id"] in chart.svg for p in PEOPLE)


def test_it_draws_the_boundary_and_where_the_trial_stands():
    pos = _position()
    chart = charts.boundary_chart(RULE, stopping.boundary(RULE), pos)
    assert f"Now: {pos.x} of {pos.n}" in chart.svg
    assert [r[0] for r in chart.table.rows][:3] == [1, 2, 3]


def test_it_says_so_when_no_one_is_injected_yet():
    pos = stopping.position(RULE, [], [], NOW)
    assert "No participant injected yet" in charts.posterior_over_time(RULE, pos).svg


def _row(analyte, visit, scale, n, estimate, low, high) -> ChangeRow:
    return ChangeRow(analyte, visit, scale, n, estimate, low, high, None, None, n, None, None, (), ())


def test_it_draws_a_ratio_on_a_log_axis_and_a_change_on_a_linear_one():
    uacr = [_row("uacr", "M1", "ratio", 5, 0.8, 0.6, 1.1), _row("uacr", "M3", "ratio", 4, 0.7, 0.5, 0.98)]
    chart = charts.change_chart("uacr", uacr)
    assert "ratio to baseline" in chart.title and len(chart.table.rows) == 2
    egfr = [_row("egfr", "M1", "difference", 5, -2.5, -5.0, 0.1)]
    assert "change from baseline" in charts.change_chart("egfr", egfr).title
