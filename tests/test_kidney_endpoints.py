"""The kidney endpoints of rules/safety_rules.toml beside the 30 % rules (issue 13): sustained 40 % and 57 % eGFR
declines (Levey et al., AJKD 2014; NKF-FDA-EMA) and KDIGO 2012 AKI read against the pre-injection baseline."""
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from safety_service.domain.lab_rules import LabResult, ParticipantFacts, evaluate, load_rules

RULES = load_rules(Path(__file__).resolve().parent.parent / "rules" / "safety_rules.toml")
INJECTION = datetime(2026, 1, 12, 9, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 12, 31, 12, 0, tzinfo=timezone.utc)
ALICE = ParticipantFacts("S01-001", INJECTION)


def only(rule_id):
    return RULES.model_copy(update={"rules": [r for r in RULES.rules if r.id == rule_id]})


def series(analyte, baseline, *after):
    """Screening (14 days before) and day-0 values, then (study day offset, value) pairs after the injection."""
    out = [LabResult(i + 1, analyte, v, INJECTION - d, None, None, None)
           for i, (v, d) in enumerate(zip(baseline, [timedelta(days=14), timedelta(hours=2)][-len(baseline):]))]
    for days, v in after:
        out.append(LabResult(len(out) + 1, analyte, v, INJECTION + timedelta(days=days), None, None, None))
    return out


def breached(rule_id, results):
    return [(b.rule_id, b.result_id) for b in evaluate(only(rule_id), ALICE, results, NOW).breaches]


# Levey et al., AJKD 2014: 40 % decline, confirmed by a second value >= 4 weeks later (baseline 50: limit 30.0).
@pytest.mark.parametrize("first, second, breach", [
    (30.0, 30.0, True),    # exactly -40 %, twice
    (30.1, 30.0, False),   # the first value is -39.8 %: the decline starts with the second, unconfirmed
    (29.0, 30.5, False),   # recovered above the limit: not sustained
])
def test_it_raises_a_sustained_40_percent_egfr_decline_once_confirmed(first, second, breach):
    results = series("egfr", (50,), (30, first), (58, second))
    assert breached("egfr_decline_40_sustained", results) == ([("egfr_decline_40_sustained", 3)] if breach else [])


def test_it_leaves_a_40_percent_decline_pending_until_four_weeks_have_passed():
    results = series("egfr", (50,), (30, 29), (57, 29))
    ev = evaluate(only("egfr_decline_40_sustained"), ALICE, results, NOW)
    assert ev.breaches == [] and [p.result_id for p in ev.pending] == [2]


# Levey et al., AJKD 2014: a 57 % eGFR decline equals a doubling of serum creatinine (baseline 40: limit 17.2).
@pytest.mark.parametrize("value, breach", [(17.2, True), (17.3, False)])
def test_it_raises_a_sustained_57_percent_egfr_decline_at_its_boundary(value, breach):
    results = series("egfr", (38, 42), (30, value), (60, value))   # baseline = mean of screening and day 0 = 40
    assert breached("egfr_decline_57_sustained", results) == ([("egfr_decline_57_sustained", 4)] if breach else [])


def test_a_57_percent_decline_also_meets_the_30_and_40_percent_endpoints():
    results = series("egfr", (40,), (30, 17), (60, 17))
    for rule_id in ("egfr_decline_30_sustained", "egfr_decline_40_sustained", "egfr_decline_57_sustained"):
        assert breached(rule_id, results) == [(rule_id, 3)]


# KDIGO 2012 AKI 2.1.1: SCr >= 1.5 x baseline, presumed to have occurred within the prior 7 days (baseline 1.2).
@pytest.mark.parametrize("value, breach", [(1.79, False), (1.8, True)])
def test_it_raises_aki_at_1_5_times_the_pre_injection_baseline_months_later(value, breach):
    results = series("creatinine", (1.1, 1.3), (90, value))   # month 3: no value in the 7 days before
    assert breached("aki_creatinine_1_5x_baseline", results) == (
        [("aki_creatinine_1_5x_baseline", 3)] if breach else [])
    assert breached("aki_creatinine_1_5x_7d", results) == []   # the 7-day window alone never sees it


def test_it_does_not_read_a_pre_injection_value_as_aki():
    results = series("creatinine", (1.0, 1.6))   # a rise before the injection is screening, not safety
    assert breached("aki_creatinine_1_5x_baseline", results) == []


def test_the_hba1c_rule_says_the_protocol_requires_below_10_percent_for_inclusion():
    # Protocol NCT07396155 inclusion criterion: HbA1c < 10.0 %; after the injection >= 10 % is watched, not "inclusion".
    rule = RULES.rule("hba1c_10")
    assert (rule.operator, rule.threshold) == (">=", 10.0)
    assert "inclusion limit" not in rule.description and "< 10.0 %" in rule.description


def test_the_presumed_aki_goes_to_the_digest_and_the_confirmed_declines_page_at_once():
    # A presumed 7-day rise (KDIGO 2012) is "high" like the unconfirmed 30 % fall; confirmed endpoints are critical.
    assert RULES.rule("aki_creatinine_1_5x_baseline").severity == "high"
    assert {RULES.rule(r).severity for r in ("egfr_decline_40_sustained", "egfr_decline_57_sustained")} == {"critical"}
