"""The stopping rule's running counts (domain/stopping_counts.py): kept by every save, equal to a full recount.

The AE save decides "crossed?" from these counts; the scheduled check replays everything (stopping.position) and
rebuilds them. These tests hold the two to the same answer after many random changes.
"""
from __future__ import annotations

import random

import pytest
from conftest import NOW

from safety_service.clock import local_date
from safety_service.db import rows
from safety_service.domain import adverse_events, stopping_counts
from safety_service.domain.stopping import position
from safety_service.jobs.signals import check_signals
from safety_service.reports import datacut

RELATEDNESS = ("not_related", "unlikely", "possible", "probable", "definite")


@pytest.fixture
def cohort(enrol):
    return [enrol(f"S01-{i:03d}", injection_at=f"2026-01-{10 + i:02d}T09:30:00+00:00") for i in range(1, 13)]


def _save(app, db, nurse, subject_id, rng) -> dict:
    rb = app.extensions["rulebook"]
    serious = rng.random() < 0.4
    onset = f"2026-0{rng.randint(2, 5)}-{rng.randint(10, 28)}"
    data = {"subject_id": subject_id, "term": rng.choice(["Flank pain", "Renal hemorrhage", "Fever"]),
            "verbatim": "as described", "grade": rng.randint(1, 3), "onset": onset, "serious": serious,
            "seriousness": ["hospitalization"] if serious else [], "relatedness_product": rng.choice(RELATEDNESS),
            "relatedness_procedure": rng.choice(RELATEDNESS), "expected": False, "action_taken": "not_applicable",
            "outcome": "recovering", "awareness_at": f"{onset}T12:00:00+00:00"}
    with app.app_context():
        return adverse_events.create(db, data, catalogue=rb.ctcae, study=rb.study, tz=app.config["TIMEZONE"],
                                     actor=nurse, now=NOW)


def _change(app, db, nurse, ae, rng) -> None:
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    current = rows(db, "SELECT version, status, grade FROM adverse_events WHERE id = ?", (ae["id"],))[0]
    if current["status"] != "active":
        return
    with app.app_context():
        if rng.random() < 0.25:
            adverse_events.mark_entered_in_error(db, ae["id"], reason="duplicate entry", actor=nurse, now=NOW)
        else:
            changes = {"relatedness_procedure": rng.choice(RELATEDNESS), "grade": current["grade"] % 3 + 1}
            adverse_events.amend(db, ae["id"], changes, reason="source verified", catalogue=rb.ctcae,
                                 study=rb.study, tz=tz, actor=nurse, now=NOW, expected_version=current["version"])


def _full_recount(app, db):
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    cut = datacut.load(db, rb.study, as_of=NOW, cutoff=local_date(NOW, tz), tz=tz, with_labs=False)
    return {rule.id: position(rule, cut.participants, cut.aes, NOW, tz) for rule in rb.stopping.rules}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_it_keeps_the_running_counts_equal_to_a_full_recount_after_random_changes(app, db, people, cohort, seed):
    rng, nina = random.Random(seed), people["nurse_nina"]
    saved = []
    for _ in range(30):
        if saved and rng.random() < 0.35:
            _change(app, db, nina, rng.choice(saved), rng)
        else:
            saved.append(_save(app, db, nina, rng.choice(cohort)["subject_id"], rng))
    rb, today = app.extensions["rulebook"], local_date(NOW, app.config["TIMEZONE"]).isoformat()
    full = _full_recount(app, db)
    for rule in rb.stopping.rules:
        now = stopping_counts.standing(db, rule, NOW, today)
        assert (now.x, now.n) == (full[rule.id].x, full[rule.id].n)
        assert now.posterior == pytest.approx(full[rule.id].posterior, abs=1e-12)
    assert stopping_counts.rebuild(db, rb.stopping.rules, adverse_events.all_for_analysis(db)) == 0


def test_it_rebuilds_counts_a_write_outside_the_app_left_wrong(app, db, people, cohort):
    rng, nina = random.Random(7), people["nurse_nina"]
    for subject in cohort[:4]:
        _save(app, db, nina, subject["subject_id"], rng)
    db.execute("DELETE FROM stopping_firsts")  # as if the rows had been written by a tool that bypassed the app
    check_signals(db, app.extensions["rulebook"], app.config, NOW)
    rb = app.extensions["rulebook"]
    assert stopping_counts.rebuild(db, rb.stopping.rules, adverse_events.all_for_analysis(db)) == 0
    full = _full_recount(app, db)
    stored = {r["subject_id"] for r in rows(db, "SELECT subject_id FROM stopping_firsts WHERE rule_id = ?",
                                            (rb.stopping.rules[0].id,))}
    assert stored == {c["subject_id"] for c in full[rb.stopping.rules[0].id].counted}


def test_a_serious_save_leaves_clusters_to_the_signals_job_which_raises_them_once(app, db, people, cohort):
    """Three participants' serious flank pain within the window: the saves raise no cluster alert (their cost must
    not grow with the trial); the next signals run raises it, once."""
    rb, nurse = app.extensions["rulebook"], people["nurse_nina"]
    for p, day in zip(cohort[:3], ("2026-03-01", "2026-03-05", "2026-03-09")):
        data = {"subject_id": p["subject_id"], "term": "Flank pain", "verbatim": "flank pain", "grade": 3,
                "onset": day, "serious": True, "seriousness": ["hospitalization"], "relatedness_product": "unlikely",
                "relatedness_procedure": "unlikely", "expected": False, "action_taken": "not_applicable",
                "outcome": "recovering", "awareness_at": f"{day}T12:00:00+00:00"}
        with app.app_context():
            adverse_events.create(db, data, catalogue=rb.ctcae, study=rb.study, tz=app.config["TIMEZONE"],
                                  actor=nurse, now=NOW)
    assert rows(db, "SELECT key FROM alerts WHERE kind = 'cluster'") == []
    check_signals(db, rb, app.config, NOW)
    check_signals(db, rb, app.config, NOW)
    assert [r["key"] for r in rows(db, "SELECT key FROM alerts WHERE kind = 'cluster'")] == \
        ["cluster:Flank pain:2026-03-01"]
