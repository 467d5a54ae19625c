"""Event rates with exact intervals and clusters of one CTCAE term, as of a data cut-off."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from scipy import stats as sst

from safety_service.domain import signals
from safety_service.domain.stopping import ClusterRule

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
RULE = ClusterRule(min_participants=3, window_days=30)


def participant(n: int, injected: str | None = "2026-01-01T00:00:00+00:00", **kw) -> dict:
    return {"subject_id": f"S01-{n:03d}", "site": "S01", "injection_at": injected, "status": "active", **kw}


_ids = iter(range(1, 10_000))


def ae(subject: int, onset: str = "2026-01-10", term: str = "Flank pain", **kw) -> dict:
    row = {"id": next(_ids), "subject_id": f"S01-{subject:03d}", "term": term, "grade": 1, "serious": False,
           "relatedness_product": "not_related", "relatedness_procedure": "not_related", "related": False,
           "phase": "early", "treatment_emergent": True, "status": "active", "onset": onset,
           "created_at": "2026-01-11T10:00:00+00:00"}
    row.update(kw)
    return row


def rates_by_key(rows):
    return {r.key: r for r in rows}


# --- rates ---------------------------------------------------------------------------------------

def test_it_gives_zero_of_thirty_with_the_published_upper_limit():
    people = [participant(i) for i in range(1, 31)]
    rows = rates_by_key(signals.event_rates(people, [], NOW, early_days=30))
    sae = rows["serious"]
    assert (sae.participants, sae.n, sae.proportion, sae.events) == (0, 30, 0.0, 0)
    assert sae.ci_low == 0.0 and round(sae.ci_high * 100, 1) == 11.6


def test_it_counts_participants_once_and_events_every_time():
    people = [participant(i) for i in range(1, 11)]
    aes = [ae(1, grade=3, serious=True, related=True), ae(1, "2026-02-01", grade=3, phase="late"),
           ae(2, grade=2, related=True), ae(3, "2026-03-01", phase="late")]
    rows = rates_by_key(signals.event_rates(people, aes, NOW, early_days=30))
    assert {k: (r.participants, r.events) for k, r in rows.items()} == {
        "any": (3, 4), "related": (2, 2), "serious": (1, 1), "grade3": (1, 2), "early": (2, 2), "late": (2, 2)}
    ref = sst.binomtest(3, 10).proportion_ci(method="exact")
    assert rows["any"].proportion == 0.3
    assert (rows["any"].ci_low, rows["any"].ci_high) == (pytest.approx(ref.low), pytest.approx(ref.high))


def test_it_adjusts_for_exposure_per_hundred_participant_months():
    # two participants injected 1 Jan 2026; cut-off 1 Jun 2026 09:00 = 151.375 days each
    people = [participant(1), participant(2)]
    aes = [ae(1), ae(2), ae(2, "2026-04-01", phase="late")]
    rows = rates_by_key(signals.event_rates(people, aes, NOW, early_days=30))
    months = 2 * 151.375 / (365.25 / 12)
    anyr = rows["any"]
    assert anyr.exposure_months == pytest.approx(months)
    assert anyr.rate == pytest.approx(3 / months * 100)
    assert anyr.rate_low == pytest.approx(sst.chi2.ppf(0.025, 6) / 2 / months * 100)
    assert anyr.rate_high == pytest.approx(sst.chi2.ppf(0.975, 8) / 2 / months * 100)
    # early exposure is the first 30 days of each participant, late the rest
    assert rows["early"].exposure_months == pytest.approx(60 / (365.25 / 12))
    assert rows["late"].exposure_months == pytest.approx((2 * 151.375 - 60) / (365.25 / 12))


def test_it_stops_exposure_when_a_participant_leaves_or_follow_up_ends():
    left = participant(1, off_study_at="2026-01-31T00:00:00+00:00")
    assert signals.exposure_days(left, NOW) == 30.0
    assert signals.exposure_days(participant(2), NOW, follow_up_days=100) == 100.0
    assert signals.exposure_days(participant(3, injected=None), NOW) == 0.0


def test_it_leaves_out_participants_not_yet_injected_and_their_rows():
    people = [participant(1), participant(2, injected="2026-07-01T00:00:00+00:00")]
    rows = rates_by_key(signals.event_rates(people, [ae(1)], NOW, early_days=30))
    assert rows["any"].n == 1


def test_it_ignores_errors_pre_treatment_events_and_events_after_the_cut_off():
    people = [participant(1)]
    aes = [ae(1, status="entered_in_error"), ae(1, treatment_emergent=False), ae(1, "2026-06-02")]
    rows = rates_by_key(signals.event_rates(people, aes, NOW, early_days=30))
    assert rows["any"].events == 0


def test_it_gives_no_proportion_and_no_rate_before_anyone_is_injected():
    rows = rates_by_key(signals.event_rates([participant(1, injected=None)], [], NOW, early_days=30))
    r = rows["any"]
    assert (r.n, r.proportion, r.rate, r.ci_low, r.ci_high) == (0, None, None, 0.0, 1.0)


def test_it_derives_relatedness_when_the_flag_is_absent():
    row = ae(1, relatedness_procedure="probable")
    del row["related"]
    assert signals.is_related(row) is True
    row["relatedness_procedure"] = "unlikely"
    assert signals.is_related(row) is False


def test_it_names_the_missing_field_of_a_row():
    row = ae(1)
    del row["phase"]
    with pytest.raises(ValueError, match="'phase'"):
        signals.event_rates([participant(1)], [row], NOW, early_days=30)


# --- clusters ------------------------------------------------------------------------------------

def test_it_finds_three_participants_with_the_same_term_within_the_window():
    people = [participant(i) for i in range(1, 5)]
    aes = [ae(1, "2026-02-01", "Fever"), ae(2, "2026-02-10", "Fever"), ae(3, "2026-03-03", "Fever")]
    (c,) = signals.find_clusters(RULE, people, aes, NOW)
    assert (c.term, c.first_onset, c.last_onset) == ("Fever", "2026-02-01", "2026-03-03")
    assert c.participants == ("S01-001", "S01-002", "S01-003")
    assert c.key == "cluster:Fever:2026-02-01"


def test_it_finds_no_cluster_one_day_outside_the_window():
    people = [participant(i) for i in range(1, 5)]
    aes = [ae(1, "2026-02-01", "Fever"), ae(2, "2026-02-10", "Fever"), ae(3, "2026-03-04", "Fever")]  # 31 days
    assert signals.find_clusters(RULE, people, aes, NOW) == []


def test_it_needs_different_participants_not_repeated_events():
    people = [participant(i) for i in range(1, 5)]
    aes = [ae(1, "2026-02-01", "Fever"), ae(1, "2026-02-02", "Fever"), ae(2, "2026-02-03", "Fever")]
    assert signals.find_clusters(RULE, people, aes, NOW) == []


def test_it_does_not_mix_terms():
    people = [participant(i) for i in range(1, 5)]
    aes = [ae(1, "2026-02-01", "Fever"), ae(2, "2026-02-02", "Chills"), ae(3, "2026-02-03", "Fever")]
    assert signals.find_clusters(RULE, people, aes, NOW) == []


def test_it_merges_overlapping_windows_into_one_signal_and_keeps_separate_outbreaks_apart():
    people = [participant(i) for i in range(1, 9)]
    aes = [ae(1, "2026-01-05", "Hematuria"), ae(2, "2026-01-20", "Hematuria"), ae(3, "2026-02-01", "Hematuria"),
           ae(4, "2026-02-15", "Hematuria"),   # with 20 Jan and 1 Feb: a second window that overlaps
           ae(5, "2026-05-01", "Hematuria"), ae(6, "2026-05-02", "Hematuria"), ae(7, "2026-05-03", "Hematuria")]
    first, second = signals.find_clusters(RULE, people, aes, NOW)
    assert (first.first_onset, first.last_onset, len(first.participants)) == ("2026-01-05", "2026-02-15", 4)
    assert (second.first_onset, second.last_onset, len(second.participants)) == ("2026-05-01", "2026-05-03", 3)


def test_it_ignores_rows_entered_in_error_when_looking_for_clusters():
    people = [participant(i) for i in range(1, 4)]
    aes = [ae(1, "2026-02-01", "Fever"), ae(2, "2026-02-02", "Fever"),
           ae(3, "2026-02-03", "Fever", status="entered_in_error")]
    assert signals.find_clusters(RULE, people, aes, NOW) == []


def test_it_uses_the_thresholds_of_the_rule():
    people = [participant(i) for i in range(1, 4)]
    aes = [ae(1, "2026-02-01", "Fever"), ae(2, "2026-02-09", "Fever")]
    assert len(signals.find_clusters(ClusterRule(min_participants=2, window_days=8), people, aes, NOW)) == 1
    assert signals.find_clusters(ClusterRule(min_participants=2, window_days=7), people, aes, NOW) == []
