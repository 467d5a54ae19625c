"""The study's lab safety rules (rules/safety_rules.toml) and their pure evaluation."""
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from safety_service.domain.lab_rules import (
    LabResult, ParticipantFacts, RuleSet, evaluate, load_rules, series_by_analyte,
)
from safety_service.rulefiles import RulesError

RULES_FILE = Path(__file__).resolve().parent.parent / "rules" / "safety_rules.toml"
INJECTION = datetime(2026, 1, 12, 9, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 12, 31, 12, 0, tzinfo=timezone.utc)
ALICE = ParticipantFacts("S01-001", INJECTION)   # injected on 12 January 2026


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES_FILE)


def only(rules: RuleSet, rule_id: str) -> RuleSet:
    return rules.model_copy(update={"rules": [r for r in rules.rules if r.id == rule_id]})


class Series:
    """Builds a participant's series: ``pre(...)`` before the injection, ``at(days, ...)`` after it."""

    def __init__(self, analyte: str, uln=None, lln=None):
        self.analyte, self.uln, self.lln, self.results = analyte, uln, lln, []

    def add(self, when, value, **kw):
        r = LabResult(len(self.results) + 1 + kw.pop("id_offset", 0), kw.pop("analyte", self.analyte), value, when,
                      kw.pop("uln", self.uln), kw.pop("lln", self.lln), kw.pop("egfr", None))
        self.results.append(r)
        return r

    def baseline(self, *values):
        """Screening (14 days before) and day 0 (2 hours before the injection)."""
        for v, before in zip(values, [timedelta(days=14), timedelta(hours=2)][-len(values):]):
            self.add(INJECTION - before, v)
        return self

    def at(self, days, value, **kw):
        return self.add(INJECTION + timedelta(days=days), value, **kw)


def breaches(rules, series, participant=ALICE, now=NOW):
    return [(b.rule_id, b.result_id) for b in evaluate(rules, participant, series.results, now).breaches]


# --- the rules file --------------------------------------------------------------------------------------------

def test_it_ships_every_rule_of_the_issue(rules):
    assert {r.id for r in rules.rules} >= {
        "egfr_decline_30_sustained", "egfr_decline_30_early", "egfr_below_15", "aki_creatinine_1_5x_7d",
        "uacr_doubling", "alt_2x_uln", "ast_2x_uln", "hemoglobin_below_8", "platelets_below_100", "hba1c_10",
        "sbp_outside_100_160", "dbp_outside_60_100", "ctcae_grade_3"}
    assert rules.baseline.method == "mean" and rules.baseline.max_values == 2


def test_it_finds_a_rule_by_id(rules):
    assert rules.rule("egfr_below_15").threshold == 15
    with pytest.raises(KeyError):
        rules.rule("no_such_rule")


@pytest.mark.parametrize("edit, key, problem", [
    (('threshold = 2.0\nseverity = "high"\nnotify = ["investigator", "safety_officer"]\n\n[[rules]]\nid = "ast',
      'treshold = 2.0\nseverity = "high"\nnotify = ["investigator", "safety_officer"]\n\n[[rules]]\nid = "ast'),
     "rules.6.threshold", "(rule 'alt_2x_uln') Field required"),
    (('analyte = "hba1c"', 'analyte = "HbA1c%"'), "rules.10.analyte", "unknown analyte 'HbA1c%'"),
    (('id = "ast_2x_uln"', 'id = "alt_2x_uln"'), "rules", "rule id 'alt_2x_uln' appears twice"),
    (("window_hours = 48\n", ""), "rules.4", "reference 'window_min' needs window_hours"),
    (('kind = "outside_range"', 'kind = "outside"'), "rules.11", "'outside' found using 'kind'"),
    (("low = 100", "low = 170"), "rules.11", "low (170.0) must be below high (160.0)"),
    (('notify = ["investigator"]', 'notify = ["everyone"]'), "rules.10.notify.0", "Input should be"),
    (('analyte = "any"', 'analyte = "uacr"'), "rules.13.analyte", "no numeric CTCAE v5.0 grade"),
    (("max_values = 2", "max_values = 0"), "baseline.max_values", "greater than or equal to 1"),
])
def test_it_refuses_a_bad_rules_file_naming_the_file_and_key(tmp_path, edit, key, problem):
    bad = tmp_path / "safety_rules.toml"
    text = RULES_FILE.read_text()
    assert edit[0] in text
    bad.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(RulesError) as e:
        load_rules(bad)
    assert e.value.path == str(bad) and e.value.key == key
    assert problem in e.value.problem


def test_it_reports_a_syntax_error_and_a_missing_file(tmp_path):
    bad = tmp_path / "safety_rules.toml"
    bad.write_text("[[rules]\n")
    with pytest.raises(RulesError, match=r"safety_rules.toml: \(syntax\)"):
        load_rules(bad)
    with pytest.raises(RulesError, match="file not found"):
        load_rules(tmp_path / "missing.toml")


# --- sustained eGFR decline ------------------------------------------------------------------------------------

def test_a_confirmed_decline_breaches_once_on_the_confirming_value(rules):
    s = Series("egfr").baseline(44, 46)            # baseline 45
    s.at(30, 30)                                   # -33 %: first seen
    confirming = s.at(58, 31)                      # 28 days later, still >= 30 % down
    s.at(90, 29)                                   # the same episode: no second alert
    assert breaches(only(rules, "egfr_decline_30_sustained"), s) == [("egfr_decline_30_sustained", confirming.id)]


def test_a_decline_that_recovers_is_not_confirmed(rules):
    s = Series("egfr").baseline(44, 46)
    s.at(30, 30)
    s.at(58, 40)                                   # -11 %: not confirmed
    ev = evaluate(only(rules, "egfr_decline_30_sustained"), ALICE, s.results, NOW)
    assert ev.breaches == [] and ev.pending == []


def test_a_second_value_too_soon_leaves_the_decline_pending(rules):
    s = Series("egfr").baseline(44, 46)
    first = s.at(30, 30)
    s.at(57, 30)                                   # 27 days later: not yet 4 weeks
    ev = evaluate(only(rules, "egfr_decline_30_sustained"), ALICE, s.results, NOW)
    assert ev.breaches == []
    assert [(p.result_id, p.confirm_from) for p in ev.pending] == [(first.id, first.collected_at + timedelta(days=28))]


def test_a_recovery_in_between_starts_a_new_episode(rules):
    s = Series("egfr").baseline(44, 46)
    s.at(30, 30)
    s.at(45, 42)                                   # recovered
    restart = s.at(60, 30)
    s.at(80, 30)                                   # 20 days after the restart: not yet
    confirming = s.at(88, 30)                      # 28 days after the restart
    assert breaches(only(rules, "egfr_decline_30_sustained"), s) == [("egfr_decline_30_sustained", confirming.id)]
    assert restart.id < confirming.id


def test_the_early_warning_breaches_on_each_unconfirmed_value(rules):
    s = Series("egfr").baseline(50)
    a = s.at(30, 35)                               # exactly -30 %
    s.at(40, 35.1)
    b = s.at(50, 20)
    assert breaches(only(rules, "egfr_decline_30_early"), s) == [("egfr_decline_30_early", a.id),
                                                                  ("egfr_decline_30_early", b.id)]


def test_the_egfr_series_uses_the_egfr_derived_from_each_creatinine(rules):
    s = Series("creatinine", uln=1.04)
    s.add(INJECTION - timedelta(days=1), 1.2, egfr=50.0)
    derived = s.at(30, 1.7, egfr=34.0)
    entered_same_time = s.at(30, 40.0, analyte="egfr", id_offset=100)   # lab-reported eGFR at the same instant
    entered_alone = s.at(35, 34.9, analyte="egfr", id_offset=100)
    series = series_by_analyte(s.results, NOW)
    assert [r.id for r in series["egfr"]] == [1, derived.id, entered_alone.id]
    assert entered_same_time.id not in [r.id for r in series["egfr"]]
    # The entered eGFR continues the derived one's episode: one breach, on the episode's first result (issue 12).
    assert breaches(only(rules, "egfr_decline_30_early"), s) == [("egfr_decline_30_early", derived.id)]


# --- each rule at its boundary ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rule_id, analyte, baseline, value, uln, breached", [
    ("egfr_below_15", "egfr", (40,), 15, None, False),
    ("egfr_below_15", "egfr", (40,), 14.9, None, True),
    ("uacr_doubling", "uacr", (100, 200), 299.9, None, False),   # baseline = mean 150
    ("uacr_doubling", "uacr", (100, 200), 300, None, True),
    ("alt_2x_uln", "alt", (30,), 79.9, 40, False),
    ("alt_2x_uln", "alt", (30,), 80, 40, True),
    ("ast_2x_uln", "ast", (30,), 69.9, 35, False),
    ("ast_2x_uln", "ast", (30,), 70, 35, True),
    ("hemoglobin_below_8", "hemoglobin", (11,), 8.0, None, False),
    ("hemoglobin_below_8", "hemoglobin", (11,), 7.9, None, True),
    ("platelets_below_100", "platelets", (200,), 100, None, False),
    ("platelets_below_100", "platelets", (200,), 99.9, None, True),
    ("hba1c_10", "hba1c", (8,), 9.99, None, False),
    ("hba1c_10", "hba1c", (8,), 10.0, None, True),
    ("sbp_outside_100_160", "sbp", (130,), 100, None, False),
    ("sbp_outside_100_160", "sbp", (130,), 99, None, True),
    ("sbp_outside_100_160", "sbp", (130,), 160, None, False),
    ("sbp_outside_100_160", "sbp", (130,), 161, None, True),
    ("dbp_outside_60_100", "dbp", (80,), 60, None, False),
    ("dbp_outside_60_100", "dbp", (80,), 59, None, True),
    ("dbp_outside_60_100", "dbp", (80,), 100, None, False),
    ("dbp_outside_60_100", "dbp", (80,), 101, None, True),
])
def test_each_rule_breaches_just_past_its_limit_and_not_at_it(rules, rule_id, analyte, baseline, value, uln, breached):
    s = Series(analyte, uln=uln).baseline(*baseline)
    r = s.at(30, value)
    assert breaches(only(rules, rule_id), s) == ([(rule_id, r.id)] if breached else [])


@pytest.mark.parametrize("value, after, breached", [
    (1.79, timedelta(days=2), False),
    (1.8, timedelta(days=2), True),                    # exactly 1.5 x the day-0 value 1.2
    (1.8, timedelta(days=7) - timedelta(hours=2), True),   # day-0 value exactly 168 h before
    (1.8, timedelta(days=7) - timedelta(hours=1), False),  # day-0 value 169 h before: outside the window
])
def test_the_aki_ratio_rule_looks_back_seven_days(rules, value, after, breached):
    s = Series("creatinine", uln=1.35).baseline(1.0, 1.2)   # screening 14 days before is outside any window
    r = s.add(INJECTION + after, value)
    assert breaches(only(rules, "aki_creatinine_1_5x_7d"), s) == ([("aki_creatinine_1_5x_7d", r.id)] if breached else [])


def test_the_aki_ratio_rule_takes_the_lowest_value_in_the_window(rules):
    s = Series("creatinine", uln=1.35).baseline(1.0, 1.2)
    s.at(1, 1.1)                                    # lowest of the previous 7 days
    r = s.at(3, 1.65)                               # 1.5 x 1.1, but only 1.375 x the day-0 value
    assert breaches(only(rules, "aki_creatinine_1_5x_7d"), s) == [("aki_creatinine_1_5x_7d", r.id)]


@pytest.mark.parametrize("value, hours, breached", [(1.49, 24, False), (1.5, 24, True), (1.5, 46, True), (1.5, 47, False)])
def test_the_aki_absolute_rule_looks_back_48_hours(rules, value, hours, breached):
    s = Series("creatinine", uln=1.35).baseline(1.0, 1.2)   # day-0 value 2 h before the injection
    r = s.add(INJECTION + timedelta(hours=hours), value)
    assert breaches(only(rules, "aki_creatinine_0_3_48h"), s) == ([("aki_creatinine_0_3_48h", r.id)] if breached else [])


def test_a_rule_without_a_reference_is_reported_skipped_not_silently_passed(rules):
    s = Series("uacr")                              # no baseline value at all
    r = s.at(30, 900)
    ev = evaluate(only(rules, "uacr_doubling"), ALICE, s.results, NOW)
    assert ev.breaches == []
    assert [(k.rule_id, k.result_id, k.reason) for k in ev.skipped] == [("uacr_doubling", r.id,
                                                                          "no baseline to compare with")]


def test_a_uln_rule_without_a_uln_is_reported_skipped(rules):
    s = Series("alt").baseline(30)
    s.at(30, 500)
    ev = evaluate(only(rules, "alt_2x_uln"), ALICE, s.results, NOW)
    assert ev.breaches == [] and [k.reason for k in ev.skipped] == ["no ULN for the result"]


# --- CTCAE grade rule ------------------------------------------------------------------------------------------

def test_a_new_grade_3_lab_breaches(rules):
    s = Series("hemoglobin", lln=12).baseline(11.0, 11.2)  # grade 1 at baseline
    s.at(30, 8.0)                                   # grade 2
    r = s.at(60, 7.9)                               # grade 3
    graded = only(rules, "ctcae_grade_3")
    # The study's file leaves hemoglobin to hemoglobin_below_8 (one finding, one alert); the rule itself grades it.
    assert breaches(graded, s) == []
    graded = graded.model_copy(update={"rules": [graded.rules[0].model_copy(update={"except_analytes": []})]})
    ev = evaluate(graded, ALICE, s.results, NOW)
    assert [(b.result_id, b.message) for b in ev.breaches] == [
        (r.id, "A lab of CTCAE v5.0 grade 3 or higher, worse than at baseline: Hemoglobin Anemia grade 3 (Hgb 7.9 g/dL)")]


def test_a_grade_no_worse_than_baseline_does_not_breach(rules):
    s = Series("egfr").baseline(26, 24)             # CKD stage 4 at entry: CTCAE Chronic kidney disease grade 3
    s.at(30, 16)                                    # still grade 3
    r = s.at(60, 14)                                # grade 4
    assert breaches(only(rules, "ctcae_grade_3"), s) == [("ctcae_grade_3", r.id)]


def test_a_creatinine_and_its_egfr_breaching_together_make_one_alert(rules):
    s = Series("creatinine", uln=1.0)
    s.add(INJECTION - timedelta(days=1), 1.0, egfr=70.0)
    r = s.at(3, 3.5, egfr=14.0)                     # Creatinine increased grade 3 and CKD grade 4, same result
    ev = evaluate(only(rules, "ctcae_grade_3"), ALICE, s.results, NOW)
    assert [b.key for b in ev.breaches] == [("S01-001", "ctcae_grade_3", r.id)]
    assert "Chronic kidney disease grade 4" in ev.breaches[0].message
    assert "Creatinine increased grade 3" in ev.breaches[0].message


# --- what is evaluated -----------------------------------------------------------------------------------------

def test_baseline_is_the_mean_of_the_last_two_values_up_to_the_injection(rules):
    s = Series("uacr")
    s.add(INJECTION - timedelta(days=40), 10)       # an older screening value: not part of the baseline
    s.baseline(100, 200)
    s.add(INJECTION, 1000)                          # at the injection instant: still baseline (on or before)
    r = s.at(30, 1200)                              # 2 x mean(200, 1000) = 1200
    assert breaches(only(rules, "uacr_doubling"), s) == [("uacr_doubling", r.id)]


def test_a_last_value_baseline_policy_is_honoured(rules):
    last = rules.model_copy(update={"baseline": rules.baseline.model_copy(update={"method": "last"})})
    s = Series("uacr").baseline(100, 200)
    r = s.at(30, 400)
    assert breaches(only(last, "uacr_doubling"), s) == [("uacr_doubling", r.id)]
    assert breaches(only(rules, "uacr_doubling"), s) == [("uacr_doubling", r.id)]
    s2 = Series("uacr").baseline(300, 100)          # last 100, mean 200
    r2 = s2.at(30, 250)
    assert breaches(only(last, "uacr_doubling"), s2) == [("uacr_doubling", r2.id)]
    assert breaches(only(rules, "uacr_doubling"), s2) == []


def test_values_before_the_injection_do_not_breach_post_injection_rules(rules):
    s = Series("hemoglobin").baseline(7.5, 7.6)
    assert breaches(only(rules, "hemoglobin_below_8"), s) == []
    anytime = only(rules, "hemoglobin_below_8")
    anytime = anytime.model_copy(update={"rules": [anytime.rules[0].model_copy(update={"applies_to": "any"})]})
    assert [b[1] for b in breaches(anytime, s)] == [1]  # 7.5 then 7.6: one episode, one breach (issue 12)


def test_a_participant_not_yet_injected_has_no_post_injection_breach(rules):
    s = Series("hemoglobin")
    s.add(INJECTION, 7.0)
    assert breaches(only(rules, "hemoglobin_below_8"), s, participant=ParticipantFacts("S01-002", None)) == []


def test_results_after_now_are_not_evaluated(rules):
    s = Series("hemoglobin").baseline(11)
    r = s.at(30, 7.0)
    assert breaches(only(rules, "hemoglobin_below_8"), s, now=r.collected_at - timedelta(seconds=1)) == []
    assert breaches(only(rules, "hemoglobin_below_8"), s, now=r.collected_at) == [("hemoglobin_below_8", r.id)]


def test_a_disabled_rule_is_not_evaluated(rules):
    off = only(rules, "hemoglobin_below_8")
    off = off.model_copy(update={"rules": [off.rules[0].model_copy(update={"enabled": False})]})
    s = Series("hemoglobin").baseline(11)
    s.at(30, 7.0)
    assert breaches(off, s) == []


def test_keys_are_stable_and_unique_across_evaluations(rules):
    s = Series("egfr").baseline(50, 50)
    for day in (7, 30, 60, 90, 180):
        s.at(day, 14)
    first = evaluate(rules, ALICE, s.results, NOW).breaches
    again = evaluate(rules, ALICE, list(reversed(s.results)), NOW).breaches
    assert sorted(b.key for b in first) == sorted(b.key for b in again)
    assert len({b.key for b in first}) == len(first)
    assert all(b.subject_id == "S01-001" and b.notify for b in first)


def test_a_breach_carries_severity_recipients_and_a_readable_message(rules):
    s = Series("alt", uln=40).baseline(30)
    s.at(30, 100)
    (b,) = evaluate(only(rules, "alt_2x_uln"), ALICE, s.results, NOW).breaches
    assert (b.severity, b.notify, b.analyte, b.value) == ("high", ("investigator", "safety_officer"), "alt", 100)
    assert b.message == "ALT >= 2 x ULN (protocol exclusion limit): ALT 100 = 2.5 x ULN 40"


def test_it_never_changes_the_results_it_is_given(rules):
    s = Series("creatinine", uln=1.0)
    s.add(INJECTION - timedelta(days=1), 1.0, egfr=70.0)
    s.at(3, 3.5, egfr=14.0)
    before = [replace(r) for r in s.results]
    evaluate(rules, ALICE, s.results, NOW)
    assert s.results == before
