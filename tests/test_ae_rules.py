"""The pure AE rules: every validation rule, study day, phase, treatment-emergence and the SAE/SUSAR clocks."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, strategies as st

from safety_service.domain import ae_rules
from safety_service.domain.ae_rules import Subject, derive, evaluate, expedited_due, phase_of, report_due, validate
from safety_service.domain.ctcae import load_catalogue
from safety_service.domain.errors import InvalidInput

CAT = load_catalogue(Path(__file__).resolve().parent.parent / "rules" / "ctcae.toml")
BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc
NOW = datetime(2025, 3, 29, 9, 0, tzinfo=UTC)  # Saturday 10:00 in Berlin, the day before DST starts
# Participant S01-003 (nurse_nina's site): consented 1 March, cells injected 10 March 09:00 Berlin time.
SUBJECT = Subject(consent_on=date(2025, 3, 1), injection_at=datetime(2025, 3, 10, 8, 0, tzinfo=UTC))


def payload(**changes) -> dict:
    """A valid non-serious grade 2 hematuria as nurse_nina enters it; ``changes`` override or (None) remove."""
    p = {"term": "Hematuria", "verbatim": "pink urine the morning after the injection", "grade": 2,
         "onset": "2025-03-11", "relatedness_product": "unlikely", "relatedness_procedure": "probable",
         "expected": True, "action_taken": "not_applicable", "outcome": "recovered", "end_date": "2025-03-14",
         "description": "Resolved with fluids."}
    for k, v in changes.items():
        if v is None:
            p.pop(k, None)
        else:
            p[k] = v
    return p


def check(p: dict, now: datetime = NOW, subject: Subject = SUBJECT) -> dict:
    return validate(p, catalogue=CAT, subject=subject, tz=BERLIN, now=now)


def errors_of(p: dict, **kw) -> dict:
    with pytest.raises(InvalidInput) as e:
        check(p, **kw)
    return e.value.fields


SERIOUS_FATAL = dict(grade=5, outcome="fatal", serious=True, seriousness=["death"], end_date="2025-03-20")


# --------------------------------------------------------------------------------------------- valid input

def test_it_accepts_a_valid_ae_and_stores_the_catalogue_term_and_codes():
    clean = check(payload(term="10018867"))
    assert clean["term"] == "Hematuria" and clean["meddra_code"] == "10019450"
    assert clean["soc"] == "Renal and urinary disorders"
    assert clean["grade"] == 2 and clean["serious"] is False and clean["seriousness"] == []
    assert clean["awareness_at"] == "2025-03-29T09:00:00+00:00"  # default: now


def test_it_accepts_form_strings_as_a_browser_sends_them():
    clean = check(payload(grade="2", serious="on", seriousness=["hospitalization"], expected="no"))
    assert clean["grade"] == 2 and clean["serious"] is True and clean["expected"] is False


def test_it_accepts_the_boundaries_consent_day_today_and_end_on_onset():
    assert check(payload(onset="2025-03-01", end_date="2025-03-01"))["onset"] == "2025-03-01"
    assert check(payload(onset="2025-03-29", end_date="2025-03-29"))["end_date"] == "2025-03-29"


def test_it_accepts_a_fatal_grade_5_sae():
    clean = check(payload(**SERIOUS_FATAL))
    assert clean["outcome"] == "fatal" and clean["seriousness"] == ["death"]


def test_it_reads_an_onset_datetime_as_the_sites_local_date_and_time():
    clean = check(payload(onset="2025-03-10T23:30:00+00:00"))  # 00:30 on 11 March in Berlin
    assert (clean["onset"], clean["onset_time"]) == ("2025-03-11", "00:30")
    clean = check(payload(onset="2025-03-11T07:15"))  # no offset: local time at the site
    assert (clean["onset"], clean["onset_time"]) == ("2025-03-11", "07:15")


def test_it_orders_seriousness_criteria_and_drops_repeats():
    clean = check(payload(serious=True, seriousness=["hospitalization", "life_threatening", "hospitalization"]))
    assert clean["seriousness"] == ["life_threatening", "hospitalization"]


# --------------------------------------------------------------------------------------------- every rule

@pytest.mark.parametrize("changes,field,why", [
    ({"term": None}, "term", "required"),
    ({"term": "Blood pee"}, "term", "not a CTCAE v5.0 term"),
    ({"verbatim": None}, "verbatim", "required"),
    ({"verbatim": "   "}, "verbatim", "required"),
    ({"verbatim": "x" * 201}, "verbatim", "200"),
    ({"grade": None}, "grade", "required"),
    ({"grade": 0}, "grade", "1 to 5"),
    ({"grade": 6}, "grade", "1 to 5"),
    ({"grade": "two"}, "grade", "1 to 5"),
    ({"grade": True}, "grade", "1 to 5"),
    ({"grade": 2.5}, "grade", "1 to 5"),
    ({"term": "Nausea", "grade": 4}, "grade", "does not exist for Nausea"),
    ({"term": "Acute kidney injury", "grade": 2}, "grade", "does not exist for Acute kidney injury"),
    ({"onset": None}, "onset", "required"),
    ({"onset": "11/03/2025"}, "onset", "ISO 8601"),
    ({"onset": "2025-02-30"}, "onset", "not a calendar date"),
    ({"onset": "2025-02-28", "end_date": "2025-03-01"}, "onset", "before informed consent"),
    ({"onset": "2025-03-30", "end_date": None, "outcome": "recovering"}, "onset", "in the future"),
    ({"onset": "2025-03-29T11:00", "end_date": None, "outcome": "recovering"}, "onset", "in the future"),
    ({"onset_time": "25:00"}, "onset_time", "HH:MM"),
    ({"onset": "2025-03-11T07:15", "onset_time": "08:00"}, "onset_time", "differs"),
    ({"end_date": "2025-03-10"}, "end_date", "before the onset"),
    ({"end_date": "2025-03-30"}, "end_date", "in the future"),
    ({"end_date": "March 14"}, "end_date", "YYYY-MM-DD"),
    ({"serious": True}, "seriousness", "at least one"),
    ({"seriousness": ["hospitalization"]}, "serious", "must be true"),
    ({"serious": "maybe"}, "serious", "true or false"),
    ({"serious": True, "seriousness": ["hospitalisation"]}, "seriousness", "unknown criterion hospitalisation"),
    ({"serious": True, "seriousness": "hospitalization"}, "seriousness", "list"),
    ({"relatedness_product": None}, "relatedness_product", "required"),
    ({"relatedness_product": "likely"}, "relatedness_product", "one of"),
    ({"relatedness_procedure": None}, "relatedness_procedure", "required"),
    ({"relatedness_procedure": "yes"}, "relatedness_procedure", "one of"),
    ({"expected": "perhaps"}, "expected", "true or false"),
    ({"action_taken": "stopped"}, "action_taken", "one of"),
    ({"other_action": "y" * 201}, "other_action", "200"),
    ({"outcome": None}, "outcome", "required"),
    ({"outcome": "resolved"}, "outcome", "one of"),
    ({"description": "z" * 4001}, "description", "4000"),
    ({"grade": 5, "serious": True, "seriousness": ["death"], "outcome": "recovered"}, "outcome", "must be fatal"),
    ({"grade": 3, "outcome": "fatal"}, "outcome", "grade 5 or the seriousness criterion death"),
    ({**SERIOUS_FATAL, "seriousness": ["hospitalization"]}, "seriousness", "death must be"),
    ({"serious": True, "seriousness": ["death"], "grade": 3, "outcome": "recovered"}, "outcome", "must be fatal"),
    ({"outcome": "recovered", "end_date": None}, "end_date", "required when the outcome is recovered"),
    ({"outcome": "recovered_with_sequelae", "end_date": None}, "end_date", "required"),
    ({"outcome": "recovering"}, "end_date", "must be empty"),
    ({"outcome": "not_recovered"}, "end_date", "must be empty"),
    ({"awareness_at": "2025-03-29T09:00:01+00:00"}, "awareness_at", "in the future"),
    ({"awareness_at": "2025-03-10T22:00:00+00:00"}, "awareness_at", "before the onset"),
    ({"onset": "2025-03-11T07:15", "awareness_at": "2025-03-11T07:00"}, "awareness_at", "before the onset"),
    ({"awareness_at": "2025-03-12"}, "awareness_at", "time"),
    ({"awareness_at": "soon"}, "awareness_at", "ISO 8601"),
    ({"phase": "late"}, "phase", "derived"),
    ({"report_due_at": "2025-04-01T00:00:00+00:00"}, "report_due_at", "derived"),
    ({"meddra_code": "10019450"}, "meddra_code", "derived"),
    ({"gradee": 2}, "gradee", "unknown field"),
])
def test_it_refuses_bad_input_naming_the_field(changes, field, why):
    fields = errors_of(payload(**changes))
    assert field in fields, fields
    assert why in fields[field]


def test_it_names_every_bad_field_at_once():
    fields = errors_of({"term": "Nausea", "grade": 5, "onset": "2025-04-01", "relatedness_product": "x",
                        "serious": True, "phase": "early"})
    assert {"grade", "onset", "relatedness_product", "relatedness_procedure", "verbatim", "outcome",
            "seriousness", "phase"} <= set(fields)


# --------------------------------------------------------------------------------------------- study day

def test_it_counts_the_injection_day_as_day_1_and_the_day_before_as_minus_1():
    assert evaluate(payload(onset="2025-03-10", end_date="2025-03-10"), catalogue=CAT, subject=SUBJECT,
                    tz=BERLIN, now=NOW, boundary_days=30)["onset_day"] == 1
    assert evaluate(payload(onset="2025-03-09", end_date="2025-03-11"), catalogue=CAT, subject=SUBJECT,
                    tz=BERLIN, now=NOW, boundary_days=30)["onset_day"] == -1
    out = evaluate(payload(onset="2025-03-09", end_date="2025-03-11"), catalogue=CAT, subject=SUBJECT,
                   tz=BERLIN, now=NOW, boundary_days=30)
    assert out["end_day"] == 2


def test_it_takes_the_injection_day_from_the_sites_calendar_across_the_utc_day_boundary():
    # 23:30 UTC on 9 March is 00:30 on 10 March in Berlin: day 1 is 10 March, not 9 March.
    late_injection = Subject(consent_on=date(2025, 3, 1), injection_at=datetime(2025, 3, 9, 23, 30, tzinfo=UTC))
    ae = check(payload(onset="2025-03-10", end_date="2025-03-10"))
    assert derive(ae, subject=late_injection, tz=BERLIN, boundary_days=30)["onset_day"] == 1
    ae = check(payload(onset="2025-03-09", end_date="2025-03-10"))
    assert derive(ae, subject=late_injection, tz=BERLIN, boundary_days=30)["onset_day"] == -1
    # The same instant in UTC would give a different study day: the zone matters.
    ae = check(payload(onset="2025-03-10", end_date="2025-03-10"))
    assert derive(ae, subject=late_injection, tz="UTC", boundary_days=30)["onset_day"] == 2


@given(st.integers(min_value=-400, max_value=400))
def test_it_never_gives_study_day_zero(offset):
    onset = date(2025, 3, 10) + timedelta(days=offset)
    day = ae_rules.study_day(onset, date(2025, 3, 10))
    assert day != 0
    assert day == (offset + 1 if offset >= 0 else offset)


# --------------------------------------------------------------------------------------------- phase

@pytest.mark.parametrize("onset,phase,day", [("2025-03-10", "early", 1), ("2025-04-08", "early", 30),
                                             ("2025-04-09", "late", 31), ("2025-03-05", "early", -5)])
def test_it_puts_the_boundary_day_in_the_early_phase(onset, phase, day):
    subj = Subject(consent_on=date(2025, 3, 1), injection_at=SUBJECT.injection_at)
    later_now = datetime(2025, 6, 1, 12, tzinfo=UTC)
    ae = check(payload(onset=onset, end_date=None, outcome="recovering"), now=later_now, subject=subj)
    out = derive(ae, subject=subj, tz=BERLIN, boundary_days=30)
    assert (out["onset_day"], out["phase"]) == (day, phase)


def test_it_takes_the_boundary_from_the_study_rules():
    assert phase_of(7, 7) == "early" and phase_of(8, 7) == "late"
    assert phase_of(None, 30) is None


# --------------------------------------------------------------------------------------------- treatment-emergent

def test_it_marks_an_event_before_the_injection_time_as_not_treatment_emergent():
    before = check(payload(onset="2025-03-10T08:30", end_date="2025-03-10"))  # injection at 09:00 local
    after = check(payload(onset="2025-03-10T09:30", end_date="2025-03-10"))
    undated = check(payload(onset="2025-03-10", end_date="2025-03-10"))
    pre = check(payload(onset="2025-03-05", end_date="2025-03-06"))
    te = {k: derive(v, subject=SUBJECT, tz=BERLIN, boundary_days=30)["treatment_emergent"]
          for k, v in dict(before=before, after=after, undated=undated, pre=pre).items()}
    assert te == {"before": False, "after": True, "undated": True, "pre": False}


def test_it_derives_no_study_day_before_the_injection_is_given():
    not_injected = Subject(consent_on=date(2025, 3, 1), injection_at=None)
    out = derive(check(payload()), subject=not_injected, tz=BERLIN, boundary_days=30)
    assert (out["onset_day"], out["phase"], out["treatment_emergent"]) == (None, None, False)


# --------------------------------------------------------------------------------------------- SAE clocks

def sae(**changes) -> dict:
    base = dict(serious=True, seriousness=["hospitalization"], grade=3, relatedness_product="possible",
                expected=False, outcome="recovering", end_date=None)
    return evaluate(payload(**{**base, **changes}), catalogue=CAT, subject=SUBJECT, tz=BERLIN, now=NOW,
                    boundary_days=30)


def test_it_sets_no_clock_for_a_non_serious_ae():
    out = evaluate(payload(), catalogue=CAT, subject=SUBJECT, tz=BERLIN, now=NOW, boundary_days=30)
    assert out["report_due_at"] is None and out["expedited_due_at"] is None and out["susar"] is False


def test_it_gives_an_sae_24_hours_from_awareness_across_the_utc_day_boundary():
    out = sae(awareness_at="2025-03-12T22:30:00+00:00")
    assert out["report_due_at"] == "2025-03-13T22:30:00+00:00"


def test_it_counts_24_elapsed_hours_over_the_spring_dst_change():
    # Aware 10:00 CET on 29 March; clocks jump 02:00 -> 03:00 on 30 March: due 11:00 CEST = 24 h later.
    out = sae(awareness_at="2025-03-29T10:00")
    assert out["awareness_at"] == "2025-03-29T09:00:00+00:00"
    assert out["report_due_at"] == "2025-03-30T09:00:00+00:00"
    assert datetime.fromisoformat(out["report_due_at"]).astimezone(BERLIN).hour == 11


def test_it_counts_calendar_days_for_a_susar_over_the_spring_dst_change():
    # Hospitalization, related, unexpected: 15 calendar days, same local clock time (10:00) on 13 April (CEST).
    out = sae(awareness_at="2025-03-29T10:00")
    assert out["susar"] is True
    assert out["expedited_due_at"] == "2025-04-13T08:00:00+00:00"
    assert datetime.fromisoformat(out["expedited_due_at"]).astimezone(BERLIN).strftime("%d %H:%M") == "13 10:00"


def test_it_gives_7_days_to_a_life_threatening_or_fatal_susar():
    out = sae(seriousness=["life_threatening", "hospitalization"], awareness_at="2025-03-29T10:00")
    assert out["expedited_due_at"] == "2025-04-05T08:00:00+00:00"  # 10:00 CEST on 5 April
    fatal = sae(**SERIOUS_FATAL, awareness_at="2025-03-29T10:00")
    assert fatal["expedited_due_at"] == "2025-04-05T08:00:00+00:00"


def test_it_counts_calendar_days_over_the_autumn_dst_change():
    aware = datetime(2025, 10, 20, 8, 0, tzinfo=UTC)  # 10:00 CEST; clocks go back on 26 October
    due = expedited_due(aware, fatal_or_life_threatening=False, tz=BERLIN)
    assert due == datetime(2025, 11, 4, 9, 0, tzinfo=UTC)  # 10:00 CET
    assert report_due(aware) == datetime(2025, 10, 21, 8, 0, tzinfo=UTC)
    assert expedited_due(datetime(2025, 10, 25, 8, 0, tzinfo=UTC), True, BERLIN) == datetime(2025, 11, 1, 9, 0,
                                                                                             tzinfo=UTC)


@pytest.mark.parametrize("changes,susar,clock_runs", [
    ({}, True, True),
    ({"expected": True}, False, False),
    # not yet assessed: a possible SUSAR, never a settled one, but the clock runs until it is assessed
    ({"expected": None}, False, True),
    ({"relatedness_product": "unlikely", "relatedness_procedure": "not_related"}, False, False),
    ({"relatedness_product": "not_related", "relatedness_procedure": "definite"}, True, True),
])
def test_it_flags_a_susar_only_when_serious_related_and_not_expected(changes, susar, clock_runs):
    out = sae(**changes)
    assert out["susar"] is susar
    assert (out["expedited_due_at"] is not None) is clock_runs
    assert out["report_due_at"] is not None  # every SAE has the 24 h clock


def test_it_derives_related_from_either_relatedness():
    assert sae(relatedness_product="not_related", relatedness_procedure="possible")["related"] is True
    assert sae(relatedness_product="unlikely", relatedness_procedure="unlikely")["related"] is False
