"""Summary tables: denominators, exclusions, counting each participant once, max grade, splits, listings."""
from __future__ import annotations

from safety_service.domain.summary import is_death, pct, summarize
from safety_service.exports.summary_tables import n_pct, tables
from test_export_rows import ae, participants, sample_rows


def soc_term(summary, soc, term):
    return next(r for r in summary["by_soc_term"] if r["soc"] == soc and r["term"] == term)


def test_it_uses_injected_participants_as_the_denominator():
    s = summarize(participants(), sample_rows())
    assert s["denominator"] == 4 and s["participants_enrolled"] == 5


def test_it_excludes_entered_in_error_and_pre_injection_aes_and_says_how_many():
    s = summarize(participants(), sample_rows())
    assert s["excluded"] == {"entered_in_error": 1, "not_treatment_emergent": 1, "not_in_safety_population": 0}
    assert s["events_counted"] == 7


def test_it_counts_aes_of_participants_not_injected_as_excluded():
    rows = [ae(1, "S02-003", 1)]
    s = summarize(participants(), rows)
    assert s["excluded"]["not_in_safety_population"] == 1 and s["events_counted"] == 0
    assert s["overview"][0]["participants"] == 0


def test_it_counts_a_participant_once_per_term_with_every_event_counted():
    s = summarize(participants(), sample_rows())
    flank = soc_term(s, "Musculoskeletal and connective tissue disorders", "Flank pain")
    # S01-001 once (AE 1), S02-001 twice (AEs 5 and 6): 2 participants, 3 events
    assert flank["all"] == 2 and flank["events"] == 3 and flank["all_pct"] == 50.0
    assert flank["early"] == 2 and flank["late"] == 1
    assert flank["related"] == 2 and flank["not_related"] == 1


def test_it_gives_a_soc_row_before_its_terms():
    s = summarize(participants(), sample_rows())
    socs = [r for r in s["by_soc_term"] if r["term"] is None]
    assert [r["soc"] for r in socs] == sorted(r["soc"] for r in socs)
    gi = soc_term(s, "Gastrointestinal disorders", None)
    assert gi["all"] == 1 and gi["events"] == 1  # the entered-in-error nausea is not counted
    i = s["by_soc_term"].index(gi)
    assert s["by_soc_term"][i + 1]["term"] == "Nausea"


def test_it_counts_each_participant_at_their_maximum_grade():
    s = summarize(participants(), sample_rows())
    by_grade = {r["grade"]: r for r in s["by_max_grade"]}
    # S01-001: grades 1, 2, 2 -> 2; S01-002: 3 (grade-1 back pain is pre-injection); S02-001: 2, 3 -> 3; S02-002: 5
    assert [by_grade[g]["all"] for g in (1, 2, 3, 4, 5)] == [0, 1, 2, 0, 1]
    assert sum(by_grade[g]["all"] for g in by_grade) == 4
    # early events only: S01-001 max 2, S02-001 max 2 (its grade-3 event is late)
    assert [by_grade[g]["early"] for g in (1, 2, 3, 4, 5)] == [0, 2, 0, 0, 0]
    # not related events only: S02-001 grade 3 (AE 6), S02-002 grade 5
    assert [by_grade[g]["not_related"] for g in (1, 2, 3, 4, 5)] == [0, 0, 1, 0, 1]


def test_it_tabulates_terms_by_maximum_grade():
    s = summarize(participants(), sample_rows())
    flank = next(r for r in s["by_term_max_grade"] if r["term"] == "Flank pain")
    assert flank["any"] == 2 and flank["grade1"] == 1 and flank["grade3"] == 1 and flank["grade2"] == 0


def test_it_summarises_saes_deaths_and_susars():
    s = summarize(participants(), sample_rows())
    ov = {r["label"]: r for r in s["overview"]}
    assert ov["Serious AE"]["participants"] == 2 and ov["Serious AE"]["events"] == 2
    assert ov["Related serious AE"]["participants"] == 1
    assert ov["SUSAR"]["participants"] == 1
    assert ov["AE leading to death"]["participants"] == 1 and ov["AE leading to death"]["pct"] == 25.0
    assert ov["Grade 3 or higher AE"]["participants"] == 3
    assert [r["id"] for r in s["saes"]] == [3, 7]
    assert [r["id"] for r in s["deaths"]] == [7]


def test_it_lists_a_pre_injection_sae_but_does_not_count_it():
    rows = [ae(1, "S01-001", 1, serious=True, seriousness=["hospitalization"], treatment_emergent=False,
               onset_day=-3, phase=None)]
    s = summarize(participants(), rows)
    assert [r["id"] for r in s["saes"]] == [1] and s["saes"][0]["treatment_emergent"] is False
    assert {r["label"]: r for r in s["overview"]}["Serious AE"]["participants"] == 0


def test_it_never_lists_entered_in_error_events():
    rows = [ae(1, serious=True, seriousness=["death"], outcome="fatal", grade=5, status="entered_in_error")]
    s = summarize(participants(), rows)
    assert s["saes"] == [] and s["deaths"] == []


def test_it_recognises_death_by_outcome_grade_or_criterion():
    assert is_death(ae(1, outcome="fatal", grade=4))
    assert is_death(ae(1, grade=5, outcome="unknown"))
    assert is_death(ae(1, seriousness=["death"], serious=True))
    assert not is_death(ae(1, grade=4, outcome="not_recovered"))


def test_it_computes_percentages_at_one_decimal_and_none_without_denominator():
    assert pct(1, 3) == 33.3 and pct(2, 3) == 66.7 and pct(3, 3) == 100.0
    assert pct(0, 0) is None
    assert n_pct(1, 33.3) == "1 (33.3%)" and n_pct(0, 0.0) == "0"


def test_it_handles_a_study_with_no_participants():
    s = summarize([], [])
    assert s["denominator"] == 0 and all(r["pct"] is None for r in s["overview"])
    assert all(t.rows is not None for t in tables(s))


def test_it_lays_the_summary_out_as_titled_tables():
    ts = tables(summarize(participants(), sample_rows()))
    assert [t.name for t in ts] == ["Overview", "By SOC and term", "By maximum grade", "By term and grade", "SAEs",
                                    "Deaths"]
    soc = ts[1]
    assert soc.columns[1].header == "All (N=4)"
    flank = next(r for r in soc.rows if r["soc_term"].strip() == "Flank pain")
    assert flank["all"] == "2 (50.0%)" and flank["events"] == 3
    assert "1 entered in error, 1 not treatment emergent" in ts[0].footnote
