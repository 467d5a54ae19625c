"""Change from baseline per visit, missing visits listed, and eGFR slopes before and after the injection."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from scipy import stats as sst

from safety_service.domain import change_from_baseline as cfb

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)
INJECTED = datetime(2026, 1, 15, 8, 0, tzinfo=timezone.utc)


def participant(n: int, injected: datetime | None = INJECTED) -> dict:
    return {"subject_id": f"S01-{n:03d}", "site": "S01", "injection_at": injected.isoformat() if injected else None}


def lab(subject: int, analyte: str, value: float, day: int, visit: str | None = None, hour: int = 8) -> dict:
    at = INJECTED.replace(hour=hour) + timedelta(days=day)
    return {"subject_id": f"S01-{subject:03d}", "analyte": analyte, "value_si": value,
            "collected_at": at.isoformat(), "visit": visit}


EGFR_BASE = {1: 40.0, 2: 35.0, 3: 52.0, 4: 28.0, 5: 45.0}
EGFR_M3 = {1: 43.0, 2: 34.0, 3: 56.0, 4: 31.5, 5: 47.0}


def egfr_rows():
    rows = [lab(i, "egfr", v, -3) for i, v in EGFR_BASE.items()]
    rows += [lab(i, "egfr", v, 91, "M3") for i, v in EGFR_M3.items()]
    return rows


def rows_by(rows, analyte, visit):
    (row,) = [r for r in rows if r.analyte == analyte and r.visit == visit]
    return row


# --- baselines -----------------------------------------------------------------------------------

def test_it_takes_the_last_value_at_or_before_the_injection_as_baseline():
    rows = [lab(1, "egfr", 38.0, -20), lab(1, "egfr", 40.0, -2), lab(1, "egfr", 60.0, 1),
            lab(1, "uacr", 500.0, 0, hour=8)]  # collected at the very moment of the injection: still baseline
    base = cfb.baselines_from_labs(rows, [participant(1)])
    assert base == {("S01-001", "egfr"): 40.0, ("S01-001", "uacr"): 500.0}


def test_it_gives_no_baseline_to_a_participant_not_injected():
    assert cfb.baselines_from_labs([lab(1, "egfr", 40.0, -2)], [participant(1, injected=None)]) == {}


def test_it_names_the_row_with_a_value_that_is_not_a_number():
    row = lab(1, "egfr", 40.0, -2)
    row["value_si"] = "forty"
    with pytest.raises(ValueError, match="value_si 'forty'"):
        cfb.baselines_from_labs([row], [participant(1)])


# --- change per visit --------------------------------------------------------------------------

def test_it_gives_the_mean_change_interval_and_wilcoxon_p_that_scipy_gives():
    rows = egfr_rows()
    base = cfb.baselines_from_labs(rows, [participant(i) for i in EGFR_BASE])
    out = cfb.change_from_baseline(rows, base, {"M3": [f"S01-00{i}" for i in EGFR_BASE]})
    m3 = rows_by(out, "egfr", "M3")
    diffs = [EGFR_M3[i] - EGFR_BASE[i] for i in EGFR_BASE]  # 3, -1, 4, 3.5, 2
    ci = sst.ttest_1samp(diffs, 0).confidence_interval(0.95)
    w = sst.wilcoxon(diffs)
    assert (m3.n, m3.scale) == (5, "difference")
    assert m3.estimate == pytest.approx(np.mean(diffs))
    assert (m3.low, m3.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert m3.p_value == pytest.approx(w.pvalue) and m3.wilcoxon_stat == w.statistic
    assert m3.mean_baseline == pytest.approx(40.0) and m3.missing == ()


def test_it_reports_uacr_as_a_geometric_mean_ratio_on_the_log_scale():
    base_v, m6_v = [300.0, 1200.0, 80.0, 640.0], [150.0, 900.0, 88.0, 320.0]
    rows = [lab(i + 1, "uacr", b, -1) for i, b in enumerate(base_v)]
    rows += [lab(i + 1, "uacr", f, 182, "M6") for i, f in enumerate(m6_v)]
    base = cfb.baselines_from_labs(rows, [participant(i) for i in range(1, 5)])
    m6 = rows_by(cfb.change_from_baseline(rows, base, {}), "uacr", "M6")
    logs = np.log(np.array(m6_v) / np.array(base_v))
    ci = sst.ttest_1samp(logs, 0).confidence_interval(0.95)
    assert m6.scale == "ratio"
    assert m6.estimate == pytest.approx(sst.gmean(np.array(m6_v) / np.array(base_v)))
    assert (m6.low, m6.high) == (pytest.approx(math.exp(ci.low)), pytest.approx(math.exp(ci.high)))
    assert m6.p_value == pytest.approx(sst.wilcoxon(logs).pvalue)


def test_it_lists_missing_visits_and_never_imputes_them():
    rows = egfr_rows()
    rows = [r for r in rows if not (r["subject_id"] == "S01-004" and r["visit"] == "M3")]  # S01-004 missed M3
    base = cfb.baselines_from_labs(rows, [participant(i) for i in EGFR_BASE])
    expected = {"M3": [f"S01-00{i}" for i in EGFR_BASE], "M6": ["S01-001", "S01-002"]}
    out = cfb.change_from_baseline(rows, base, expected)
    m3, m6 = rows_by(out, "egfr", "M3"), rows_by(out, "egfr", "M6")
    assert m3.n == 4 and m3.missing == ("S01-004",)
    assert m3.estimate == pytest.approx(np.mean([3, -1, 4, 2]))  # not 5 values with one carried forward
    assert (m6.n, m6.estimate, m6.low, m6.p_value, m6.missing) == (0, None, None, None, ("S01-001", "S01-002"))


def test_it_lists_a_value_without_a_baseline_apart_and_leaves_it_out_of_n():
    rows = egfr_rows() + [lab(6, "egfr", 50.0, 91, "M3")]
    base = cfb.baselines_from_labs(rows, [participant(i) for i in range(1, 7)])
    m3 = rows_by(cfb.change_from_baseline(rows, base, {}), "egfr", "M3")
    assert m3.n == 5 and m3.no_baseline == ("S01-006",)


def test_it_takes_the_repeat_draw_when_a_visit_has_two_values():
    rows = [lab(1, "creatinine", 1.6, -1), lab(1, "creatinine", 2.9, 30, "M1", hour=8),
            lab(1, "creatinine", 1.7, 30, "M1", hour=11)]  # the 08:00 sample was haemolysed and redrawn
    base = cfb.baselines_from_labs(rows, [participant(1)])
    m1 = rows_by(cfb.change_from_baseline(rows, base, {}), "creatinine", "M1")
    assert m1.estimate == pytest.approx(0.1) and m1.n == 1 and m1.low is None


def test_it_leaves_out_values_collected_after_the_cut_off():
    rows = egfr_rows()
    base = cfb.baselines_from_labs(rows, [participant(i) for i in EGFR_BASE])
    cut = INJECTED + timedelta(days=60)
    m3 = rows_by(cfb.change_from_baseline(rows, base, {}, now=cut), "egfr", "M3")
    assert m3.n == 0


def test_it_refuses_a_zero_uacr_naming_the_participant():
    rows = [lab(1, "uacr", 300.0, -1), lab(1, "uacr", 0.0, 30, "M1")]
    base = cfb.baselines_from_labs(rows, [participant(1)])
    with pytest.raises(ValueError, match="uacr of S01-001.*> 0"):
        cfb.change_from_baseline(rows, base, {})


def test_it_covers_every_analyte_and_visit_of_the_protocol():
    out = cfb.change_from_baseline([], {}, {})
    assert {(r.analyte, r.visit) for r in out} == {(a, v) for a in cfb.ANALYTES for v in cfb.VISITS}
    assert cfb.ANALYTES["uacr"] == "ratio" and cfb.ANALYTES["egfr"] == "difference"


def test_it_reads_what_is_expected_from_the_visit_schedules():
    schedules = {
        "S01-001": [{"visit": "M1", "status": "done"}, {"visit": "M3", "status": "open"}],
        "S01-002": [{"visit": "M1", "status": "missed"}, {"visit": "M3", "status": "overdue"}],
        "S01-003": [{"visit": "M1", "status": "upcoming"}],
    }
    assert cfb.expected_from_schedules(schedules) == {"M1": ["S01-001", "S01-002"], "M3": ["S01-002"]}


# --- eGFR slopes ---------------------------------------------------------------------------------

def test_it_gives_the_egfr_slope_per_year_before_and_after_the_injection():
    rows = [lab(1, "egfr", 48.0, -365), lab(1, "egfr", 44.0, -183), lab(1, "egfr", 40.0, -1),
            lab(1, "egfr", 41.0, 91, "M3"), lab(1, "egfr", 42.0, 182, "M6"), lab(1, "egfr", 42.5, 365, "M12")]
    (s,) = cfb.egfr_slopes(rows, [participant(1)])
    years_b = np.array([-365, -183, -1]) / 365.25
    years_a = np.array([91, 182, 365]) / 365.25
    assert (s.n_before, s.n_after) == (3, 3)
    assert s.slope_before == pytest.approx(sst.linregress(years_b, [48, 44, 40]).slope)
    assert s.slope_after == pytest.approx(sst.linregress(years_a, [41, 42, 42.5]).slope)
    assert s.slope_before < -7.5  # about -8 per year before: a fast decliner


def test_it_gives_no_pre_injection_slope_from_a_single_screening_value():
    rows = [lab(1, "egfr", 40.0, -1), lab(1, "egfr", 41.0, 30, "M1"), lab(1, "egfr", 42.0, 91, "M3")]
    (s,) = cfb.egfr_slopes(rows, [participant(1)])
    assert (s.n_before, s.slope_before, s.n_after) == (1, None, 2)
    assert s.slope_after == pytest.approx(1.0 / (61 / 365.25))


def test_it_compares_slopes_after_and_before_over_participants_with_both():
    slopes = [cfb.SlopeRow("S01-001", 3, -8.0, 3, 1.0), cfb.SlopeRow("S01-002", 3, -4.0, 3, -2.0),
              cfb.SlopeRow("S01-003", 2, -6.0, 2, -1.0), cfb.SlopeRow("S01-004", 1, None, 3, 0.5)]
    summ = cfb.slope_summary(slopes)
    assert summ.n == 3 and summ.mean_before == pytest.approx(-6.0) and summ.mean_after == pytest.approx(-2 / 3)
    ref = sst.ttest_1samp([9.0, 2.0, 5.0], 0).confidence_interval(0.95)
    assert summ.difference.estimate == pytest.approx(16 / 3)
    assert (summ.difference.low, summ.difference.high) == (pytest.approx(ref.low), pytest.approx(ref.high))
    assert summ.wilcoxon.p_value == pytest.approx(0.25)  # 3 positive differences: exact 2/8
