"""The stopping rule: its file, which AEs count, and the trial's position as of a data cut-off."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from scipy.stats import beta

from safety_service.domain import stats, stopping
from safety_service.rulefiles import RulesError

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
RULES_FILE = Path(__file__).resolve().parents[1] / "rules" / "stopping.toml"


@pytest.fixture
def rule():
    return stopping.load_safety_rules(RULES_FILE).rules[0]


def participant(n: int, injected: str | None = "2026-01-05T08:00:00+00:00") -> dict:
    return {"subject_id": f"S01-{n:03d}", "site": "S01", "injection_at": injected, "status": "active"}


_ids = iter(range(1, 10_000))


def ae(subject: int, onset: str = "2026-01-20", **kw) -> dict:
    row = {"id": next(_ids), "subject_id": f"S01-{subject:03d}", "term": "Flank pain", "grade": 2,
           "serious": False, "relatedness_product": "not_related", "relatedness_procedure": "not_related",
           "phase": "early", "treatment_emergent": True, "status": "active", "onset": onset,
           "created_at": "2026-01-21T10:00:00+00:00"}
    row.update(kw)
    return row


def related_sae(subject: int, onset: str = "2026-01-20", **kw) -> dict:
    return ae(subject, onset, serious=True, grade=3, relatedness_procedure="possible",
              term="Renal hemorrhage", **kw)


# --- the rules file ----------------------------------------------------------------------------

def test_it_loads_the_shipped_rule_with_the_agreed_numbers(rule):
    assert (rule.unacceptable_rate, rule.threshold, rule.prior_a, rule.prior_b) == (0.20, 0.90, 1.0, 1.0)
    assert rule.denominator == "injected"


def test_it_builds_the_boundary_table_of_the_shipped_rule(rule):
    table = stopping.boundary(rule)
    assert len(table) == rule.boundary_up_to
    assert table == stats.boundary_table(range(1, 31), 0.20, 0.90, 1.0, 1.0)
    assert [(r.n, r.x) for r in table[:5]] == [(1, 1), (2, 2), (3, 2), (4, 2), (5, 2)]


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "stopping.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = RULES_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize("old,new,key", [
    ("threshold = 0.90", "threshold = 1.5", "rules.0.threshold"),
    ("unacceptable_rate = 0.20", "unacceptable_rate = 0", "rules.0.unacceptable_rate"),
    ('min_relatedness = "possible"\n\n[[rules.counts]]', 'min_relatedness = "maybe"\n\n[[rules.counts]]',
     "rules.0.counts.0.min_relatedness"),
    ("threshold = 0.90", "threshold = 0.90\nthreshhold = 0.8", "rules.0.threshhold"),
    ("window_days = 30", "window_days = -1", "clusters.window_days"),
    ('phase = "early"', 'phase = "soon"', "rules.0.counts.1.phase"),
])
def test_it_refuses_a_bad_rules_file_naming_the_key(tmp_path, old, new, key):
    assert old in GOOD
    with pytest.raises(RulesError) as e:
        stopping.load_safety_rules(_write(tmp_path, GOOD.replace(old, new, 1)))
    assert e.value.key == key


def test_it_refuses_a_criterion_that_restricts_nothing(tmp_path):
    text = GOOD + "\n"
    text = text.replace("[[rules.counts]]\nserious = true\nmin_relatedness = \"possible\"\n",
                        "[[rules.counts]]\n", 1)
    with pytest.raises(RulesError, match="at least one of"):
        stopping.load_safety_rules(_write(tmp_path, text))


def test_it_refuses_a_prior_that_would_cross_with_no_data(tmp_path):
    # Beta(1, 1): P(rate > 0.2) = 0.8 before any participant; a 0.75 threshold would be crossed at once
    with pytest.raises(RulesError, match="prior alone"):
        stopping.load_safety_rules(_write(tmp_path, GOOD.replace("threshold = 0.90", "threshold = 0.75")))


def test_it_refuses_two_rules_with_the_same_id(tmp_path):
    start = GOOD.index("[[rules]]")
    end = GOOD.index("[clusters]")
    with pytest.raises(RulesError, match="ids repeat"):
        stopping.load_safety_rules(_write(tmp_path, GOOD[:end] + GOOD[start:end] + GOOD[end:]))


def test_it_says_which_file_is_missing(tmp_path):
    with pytest.raises(RulesError, match="file not found"):
        stopping.load_safety_rules(tmp_path / "nope.toml")


# --- which AEs count ---------------------------------------------------------------------------

@pytest.mark.parametrize("changes,expected", [
    (dict(serious=True, relatedness_product="possible"), True),
    (dict(serious=True, relatedness_procedure="definite"), True),
    (dict(serious=True, relatedness_product="unlikely", relatedness_procedure="unlikely"), False),
    (dict(serious=True, phase="late", relatedness_product="probable"), True),     # serious counts early or late
    (dict(grade=3, relatedness_procedure="possible"), True),                     # severe, early, related
    (dict(grade=3, relatedness_procedure="possible", phase="late"), False),      # severe but late, not serious
    (dict(grade=2, relatedness_procedure="definite"), False),                    # early but only moderate
    (dict(grade=4, relatedness_product="unlikely"), False),                      # severe early but unlikely related
    (dict(serious=True, relatedness_product="possible", status="entered_in_error"), False),
    (dict(serious=True, relatedness_product="possible", treatment_emergent=False), False),
    (dict(serious=True, relatedness_product=None, relatedness_procedure=None), True),  # unassessed: conservative
])
def test_it_counts_exactly_the_events_the_rule_names(rule, changes, expected):
    assert stopping.counts(rule, ae(1, **changes)) is expected


def test_it_names_the_field_an_ae_lacks(rule):
    row = ae(1, serious=True)
    del row["relatedness_procedure"]
    with pytest.raises(ValueError, match="relatedness_procedure"):
        stopping.counts(rule, row)


def test_it_refuses_an_unknown_relatedness_naming_the_ae(rule):
    row = ae(1, serious=True, relatedness_product="likely")
    with pytest.raises(ValueError, match=f"AE {row['id']}.*likely"):
        stopping.counts(rule, row)


# --- the position ------------------------------------------------------------------------------

def test_it_counts_injected_participants_only_as_evaluated(rule):
    people = [participant(1), participant(2), participant(3, injected=None),
              participant(4, injected="2026-06-02T08:00:00+00:00")]  # the last is injected after the cut-off
    pos = stopping.position(rule, people, [], NOW)
    assert (pos.n, pos.x, pos.crossed, pos.crossing) == (2, 0, False, None)
    assert pos.posterior == pytest.approx(0.8 ** 3)


def test_it_counts_a_participant_once_however_many_events_they_have(rule):
    people = [participant(i) for i in range(1, 11)]
    first, second = related_sae(1, "2026-01-10"), related_sae(1, "2026-02-10")
    pos = stopping.position(rule, people, [second, first], NOW)
    assert (pos.n, pos.x) == (10, 1)
    assert pos.counted == [{"subject_id": "S01-001", "ae_id": first["id"], "onset": "2026-01-10",
                            "term": "Renal hemorrhage", "grade": 3, "serious": True}]


def test_it_crosses_exactly_at_the_event_that_crosses(rule):
    # five injected; with Beta(1,1) the boundary at n = 5 is 2 events (P = 0.90112 > 0.90; 1 event: 0.672)
    people = [participant(i, f"2026-01-0{i}T08:00:00+00:00") for i in range(1, 6)]
    e1, e2 = related_sae(1, "2026-01-20"), related_sae(2, "2026-02-03")
    pos = stopping.position(rule, people, [e1, e2], NOW)
    assert (pos.n, pos.x, pos.crossed, pos.above) == (5, 2, True, True)
    assert pos.crossing.ae_id == e2["id"] and pos.crossing.on == "2026-02-03"
    assert pos.crossing.posterior == pytest.approx(0.90112)
    before = [p for p in pos.trajectory if p.kind == "event" and p.ae_id == e1["id"]][0]
    assert before.above is False and before.posterior == pytest.approx(beta.sf(0.2, 2, 5))


def test_it_does_not_cross_one_event_short_of_the_boundary(rule):
    people = [participant(i) for i in range(1, 7)]  # at n = 6 the boundary is 3 events
    pos = stopping.position(rule, people, [related_sae(1), related_sae(2)], NOW)
    assert (pos.n, pos.x, pos.crossed, pos.crossing) == (6, 2, False, None)


def test_it_orders_an_injection_before_an_event_on_the_same_day(rule):
    # participant 6 injected the day participant 2's event starts: the event is judged against n = 6, not 5
    people = [participant(i, f"2026-01-0{i}T08:00:00+00:00") for i in range(1, 6)]
    people.append(participant(6, "2026-02-03T08:00:00+00:00"))
    pos = stopping.position(rule, people, [related_sae(1, "2026-01-20"), related_sae(2, "2026-02-03")], NOW)
    assert pos.crossed is False
    assert [(p.kind, p.n, p.x) for p in pos.trajectory[-2:]] == [("injected", 6, 1), ("event", 6, 2)]


def test_it_keeps_a_crossing_as_a_fact_when_later_injections_lower_the_posterior(rule):
    people = [participant(1, "2026-01-01T08:00:00+00:00")]
    people += [participant(i, f"2026-03-0{i}T08:00:00+00:00") for i in range(2, 8)]
    first = related_sae(1, "2026-01-02")
    pos = stopping.position(rule, people, [first], NOW)
    assert pos.crossed is True and pos.above is False
    assert pos.crossing.ae_id == first["id"] and pos.crossing.posterior == pytest.approx(0.96)
    assert pos.posterior == pytest.approx(stats.posterior_prob_above(1, 7, 0.2))


def test_it_does_not_cross_when_the_posterior_equals_the_threshold(rule):
    exact = rule.model_copy(update={"threshold": stats.posterior_prob_above(1, 1, 0.2)})  # 0.96 exactly
    pos = stopping.position(exact, [participant(1)], [related_sae(1)], NOW)
    assert pos.posterior == exact.threshold and pos.crossed is False and pos.above is False


def test_it_ignores_events_that_start_after_the_cut_off(rule):
    people = [participant(1)]
    later_onset = related_sae(1, "2026-06-02")
    pos = stopping.position(rule, people, [later_onset], NOW)
    assert (pos.x, pos.crossed) == (0, False)
    # the same data with a later cut-off counts it
    later = stopping.position(rule, people, [later_onset], datetime(2026, 6, 3, tzinfo=timezone.utc))
    assert later.x == 1 and later.crossing.ae_id == later_onset["id"]


def test_it_refuses_an_ae_of_an_unknown_participant(rule):
    with pytest.raises(ValueError, match="S01-099"):
        stopping.position(rule, [participant(1)], [related_sae(99)], NOW)


def test_it_refuses_a_naive_now(rule):
    with pytest.raises(ValueError, match="offset"):
        stopping.position(rule, [], [], datetime(2026, 6, 1))


def test_it_gives_the_prior_as_the_position_before_anyone_is_injected(rule):
    pos = stopping.position(rule, [participant(1, None)], [], NOW)
    assert (pos.n, pos.x, pos.trajectory) == (0, 0, [])
    assert pos.posterior == pytest.approx(0.8)


def test_it_serialises_the_position_for_the_page_and_the_report(rule):
    pos = stopping.position(rule, [participant(1)], [related_sae(1)], NOW)
    d = pos.as_dict()
    assert d["rule_id"] == "serious-related" and d["as_of"] == "2026-06-01T09:00:00+00:00"
    assert d["crossing"]["kind"] == "event" and len(d["trajectory"]) == 2


# --- in the running service: recompute after each save, raise the alert once ----------------------------

from safety_service.db import rows as db_rows  # noqa: E402
from safety_service.domain import adverse_events  # noqa: E402
from safety_service.jobs.signals import check_signals  # noqa: E402


def record_ae(app, db, nurse, subject_id: str, onset: str, *, procedure: str = "probable", serious: bool = True,
              term: str = "Renal hemorrhage", grade: int = 3, now=None) -> dict:
    """An AE saved as the nurse would save it, inside the app (so the after-save recompute runs)."""
    from conftest import NOW as SERVICE_NOW
    rb = app.extensions["rulebook"]
    data = {"subject_id": subject_id, "term": term, "verbatim": "bleeding after the puncture", "grade": grade,
            "onset": onset, "serious": serious, "seriousness": ["hospitalization"] if serious else [],
            "relatedness_product": "not_related", "relatedness_procedure": procedure, "expected": False,
            "action_taken": "not_applicable", "outcome": "recovering", "awareness_at": f"{onset}T12:00:00+00:00",
            "description": "Perirenal haematoma on ultrasound, managed conservatively."}
    with app.app_context():
        return adverse_events.create(db, data, catalogue=rb.ctcae, study=rb.study, tz=app.config["TIMEZONE"],
                                     actor=nurse, now=now or SERVICE_NOW)


def stopping_alerts(db) -> list[dict]:
    return db_rows(db, "SELECT * FROM alerts WHERE kind = 'stopping_rule'")


@pytest.fixture
def five_injected(enrol):
    return [enrol(f"S01-00{i}", injection_at=f"2026-01-1{i}T09:30:00+00:00") for i in range(1, 6)]


def test_it_raises_the_critical_alert_at_the_save_of_the_event_that_crosses(app, db, people, five_injected):
    nina = people["nurse_nina"]
    record_ae(app, db, nina, "S01-001", "2026-01-21")
    assert stopping_alerts(db) == []  # 1 of 5: posterior 0.672, below 0.90
    second = record_ae(app, db, nina, "S01-002", "2026-01-22")
    (alert,) = stopping_alerts(db)
    assert alert["key"] == "stopping:serious-related" and alert["severity"] == "critical"
    assert alert["ref_id"] == str(second["id"]) and alert["subject_id"] == "S01-002" and alert["site"] == "S01"
    assert "2 of 5" in alert["message"] and "0.901" in alert["message"]


def test_it_raises_the_alert_once_however_often_it_is_checked(app, db, people, five_injected):
    nina = people["nurse_nina"]
    for sid, day in (("S01-001", "2026-01-21"), ("S01-002", "2026-01-22"), ("S01-003", "2026-01-23")):
        record_ae(app, db, nina, sid, day)
    rb, cfg = app.extensions["rulebook"], app.config
    assert len(stopping_alerts(db)) == 1  # at the save that crossed
    assert check_signals(db, rb, cfg, NOW_SERVICE) == 1  # the three events' cluster, left to the job by the saves
    assert check_signals(db, rb, cfg, NOW_SERVICE) == 0
    assert len(stopping_alerts(db)) == 1
    audit = db_rows(db, "SELECT * FROM audit_log WHERE action = 'alert_raised' AND new_value = 'stopping:serious-related'")
    assert len(audit) == 1  # raised, and audited, once


def test_it_does_not_raise_for_events_the_rule_does_not_count(app, db, people, five_injected):
    nina = people["nurse_nina"]
    record_ae(app, db, nina, "S01-001", "2026-01-21", procedure="unlikely")
    record_ae(app, db, nina, "S01-002", "2026-01-22", procedure="unlikely")
    assert check_signals(db, app.extensions["rulebook"], app.config, NOW_SERVICE) == 0
    assert stopping_alerts(db) == []


def test_it_raises_at_the_relatedness_amendment_that_crosses(app, db, people, five_injected):
    nina, rb = people["nurse_nina"], app.extensions["rulebook"]
    record_ae(app, db, nina, "S01-001", "2026-01-21")
    doubtful = record_ae(app, db, nina, "S01-002", "2026-01-22", procedure="unlikely")
    assert stopping_alerts(db) == []
    with app.app_context():
        adverse_events.amend(db, doubtful["id"], {"relatedness_procedure": "possible"}, reason="biopsy track on CT",
                             catalogue=rb.ctcae, study=rb.study, tz=app.config["TIMEZONE"], actor=nina,
                             now=NOW_SERVICE)
    # raised inside the amendment's transaction (adverse_events.ON_CHANGED), so the next check finds it raised
    assert len(stopping_alerts(db)) == 1 and stopping_alerts(db)[0]["ref_id"] == str(doubtful["id"])
    assert check_signals(db, rb, app.config, NOW_SERVICE) == 0


def test_it_raises_a_review_alert_for_a_cluster_once(app, db, people, five_injected):
    nina, rb = people["nurse_nina"], app.extensions["rulebook"]
    for sid, day in (("S01-001", "2026-02-01"), ("S01-002", "2026-02-10"), ("S01-003", "2026-02-20")):
        record_ae(app, db, nina, sid, day, term="Flank pain", serious=False, grade=1, procedure="possible")
    assert check_signals(db, rb, app.config, NOW_SERVICE) == 1
    assert check_signals(db, rb, app.config, NOW_SERVICE) == 0
    (alert,) = db_rows(db, "SELECT * FROM alerts WHERE kind = 'cluster'")
    assert alert["key"] == "cluster:Flank pain:2026-02-01" and alert["severity"] == "medium"


from conftest import NOW as NOW_SERVICE  # noqa: E402  the service's fixed clock (conftest), not this file's NOW
