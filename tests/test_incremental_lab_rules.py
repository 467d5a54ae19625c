"""The lab rules' scheduled sweep evaluates only what changed (issue 18), and raises exactly what a full sweep raises.

Stories: results entered without their alerts (the CSV import's way), results entered in error, baselines entered
late, participants leaving the study, the rules file changed, the check's ``now`` moving on (and once back):
after each round of random changes the incremental run raises the same alerts, with the same messages, as a full
evaluation of every participant on a copy of the same database. A check run twice raises once.
"""
from __future__ import annotations

import random
import sqlite3
from datetime import timedelta

import pytest

from safety_service.db import connect
from safety_service.domain import labs
from safety_service.domain.corrections import lab_error, status
from safety_service.domain.incremental import lab_sweep, versions
from safety_service.jobs.checks import check_once

from conftest import NOW

INJECTED = NOW - timedelta(days=60)
ANALYTES = (("creatinine", "mg/dL", 0.9, 3.4), ("hemoglobin", "g/dL", 6.5, 13.5), ("alt", "U/L", 15, 140),
            ("platelets", "10^3/uL", 60, 300))


def lab_alerts(db) -> dict[str, tuple]:
    return {r["key"]: (r["severity"], r["message"], r["ref_id"])
            for r in db.query("SELECT * FROM alerts WHERE kind = ?", [labs.ALERT_KIND])}


def full_run_on_a_copy(app, db, tmp_path, rules, now, n: int) -> dict[str, tuple]:
    """Every participant evaluated (the reference), on a copy of the database as it is now."""
    path = tmp_path / f"copy-{n}.db"
    target = sqlite3.connect(path)
    db.conn.backup(target)
    target.close()
    copy = connect(str(path))
    try:
        lab_sweep.sweep(copy, rules, now, full=True)
        return lab_alerts(copy)
    finally:
        copy.conn.close()


class Study:
    """A small cohort and the nurse's hands: results in, results marked in error, participants leaving."""

    def __init__(self, app, db, people, enrol, rng):
        self.app, self.db, self.people, self.rng = app, db, people, rng
        self.rb, self.tz = app.extensions["rulebook"], app.config["TIMEZONE"]
        self.subjects = [f"S0{1 + i % 2}-{i + 1:03d}" for i in range(8)]
        for sid in self.subjects:
            enrol(sid, injection_at=INJECTED.isoformat())

    def nurse(self, sid):
        return self.people["nurse_nina" if sid.startswith("S01") else "nurse_noah"]

    def enter(self, sid, collected, entered_at, analyte=None):
        name, unit, low, high = self.rng.choice(ANALYTES) if analyte is None else analyte
        p = self.db.execute("SELECT * FROM participants WHERE subject_id = ?", [sid])
        p = dict(zip([c[0] for c in p.description], p.fetchone()))
        rec = labs.validate({"analyte": name, "value": round(self.rng.uniform(low, high), 1), "unit": unit,
                             "collected_at": collected.isoformat()}, p, self.rb.study, self.tz, entered_at)
        # The import's path: stored now, alerts left to the check (raise_alerts=False), so the sweep has work.
        labs.store(self.db, rec, p, rules=self.rb.lab_rules, study=self.rb.study, tz=self.tz,
                   actor=self.nurse(sid)["email"], source="csv", now=entered_at, raise_alerts=False)

    def mark_in_error(self, now):
        valid = [r[0] for r in self.db.execute("SELECT id FROM labs WHERE status = 'valid' ORDER BY id")]
        lab_id = self.rng.choice(valid)
        sid = self.db.execute("SELECT subject_id FROM labs WHERE id = ?", [lab_id]).fetchone()[0]
        lab_error.mark_entered_in_error(self.db, lab_id, reason="typed into the wrong participant",
                                        user=self.nurse(sid), rules=self.rb.lab_rules, study=self.rb.study,
                                        tz=self.tz, now=now)

    def withdraw(self, sid, now):
        status.set_status(self.db, sid, {"status": "withdrawn", "on": (now - timedelta(days=3)).date().isoformat(),
                                         "reason": "moved away"}, user=self.nurse(sid), study=self.rb.study,
                          tz=self.tz, now=now)


@pytest.fixture
def cohort(app, db, people, enrol):
    rng = random.Random(18)
    study = Study(app, db, people, enrol, rng)
    for sid in study.subjects:  # screening and day-0 values (the baseline), then a few follow-up results
        for name in ("creatinine", "hemoglobin"):
            analyte = next(a for a in ANALYTES if a[0] == name)
            for days in (14, 1):
                study.enter(sid, INJECTED - timedelta(days=days), INJECTED - timedelta(days=days) + timedelta(hours=2),
                            analyte)
        for days in (3, 10, 20):
            study.enter(sid, INJECTED + timedelta(days=days), INJECTED + timedelta(days=days, hours=3))
    return study


def test_it_raises_incrementally_exactly_what_a_full_run_raises_after_random_changes(app, db, tmp_path, cohort):
    rng, rules = cohort.rng, cohort.rb.lab_rules
    now = INJECTED + timedelta(days=25)
    expected = full_run_on_a_copy(app, db, tmp_path, rules, now, 0)
    lab_sweep.sweep(db, rules, now)  # the first run evaluates everyone
    assert lab_alerts(db) == expected and expected  # the cohort breaches somewhere: the comparison means something
    left: set[str] = set()
    late = None
    for n in range(1, 13):
        previous, now = now, now + timedelta(days=rng.choice((1, 2, 3)))
        change = n % 6
        if change == 0:  # the rules file changed: a lower hemoglobin limit breaches on results already stored
            changed = [r.model_copy(update={"threshold": rng.choice((9.5, 10.5, 11.5))})
                       if r.id == "hemoglobin_below_8" else r for r in rules.rules]
            rules = rules.model_copy(update={"rules": changed})
        elif change == 1:  # entered in error
            cohort.mark_in_error(now)
        elif change == 2:  # a baseline entered late (the participant's day-0 value found in the lab's system)
            sid = rng.choice(cohort.subjects)
            cohort.enter(sid, INJECTED - timedelta(hours=rng.randint(2, 40)), now,
                         next(a for a in ANALYTES if a[0] == "creatinine"))
        elif change == 3:  # a participant leaves the study
            stay = [s for s in cohort.subjects if s not in left]
            sid = rng.choice(stay)
            cohort.withdraw(sid, now)
            left.add(sid)
        elif change == 4:  # a breaching result collected after this check's now: only the next run sees it, and
            # nothing else of that participant changes before then (the time window alone must bring it in)
            late = next(s for s in cohort.subjects[n % 3:] if s not in left)
            cohort.enter(late, now + timedelta(hours=6), now + timedelta(hours=7), ("hba1c", "%", 12.0, 12.5))
        for _ in range(rng.randint(1, 4)):  # and results come in, as every day
            sid = rng.choice([s for s in cohort.subjects if s != late])
            collected = previous + timedelta(hours=rng.randint(1, int((now - previous).total_seconds() // 3600)))
            cohort.enter(sid, collected, collected + timedelta(minutes=30))
        if change == 5:
            late = None
        if n == 9:  # a check run with --now before the last run's: everyone is evaluated as of that instant
            now = previous - timedelta(days=1)
        expected = full_run_on_a_copy(app, db, tmp_path, rules, now, n)
        lab_sweep.sweep(db, rules, now)
        assert lab_alerts(db) == expected, f"round {n} (change {change})"
    assert left  # the rounds did what they say


def test_it_evaluates_only_the_participants_whose_results_changed(db, cohort, monkeypatch):
    rules = cohort.rb.lab_rules
    now = INJECTED + timedelta(days=25)
    lab_sweep.sweep(db, rules, now)
    seen = []
    real = labs.raise_breaches
    monkeypatch.setattr(labs, "raise_breaches",
                        lambda db_, p, *a, **kw: seen.append(p["subject_id"]) or real(db_, p, *a, **kw))
    lab_sweep.sweep(db, rules, now + timedelta(minutes=5))
    assert seen == []  # nothing changed: nobody evaluated
    cohort.enter("S02-004", now + timedelta(hours=1), now + timedelta(hours=2))
    lab_sweep.sweep(db, rules, now + timedelta(hours=3))
    assert seen == ["S02-004"]
    seen.clear()
    lab_sweep.sweep(db, rules.model_copy(update={"baseline": rules.baseline.model_copy(update={"method": "last"})}),
                    now + timedelta(hours=4))
    assert seen == sorted(cohort.subjects)  # the rules changed: everyone


def test_a_check_run_twice_raises_once(app, db, cohort):
    now = INJECTED + timedelta(days=25)
    first = check_once(app, now)
    assert f"{len(lab_alerts(db))} alert" in first[0] or len(lab_alerts(db)) > 0
    again = check_once(app, now)
    assert again[0].endswith(": 0 alerts raised")
    assert lab_sweep.sweep(db, cohort.rb.lab_rules, now, full=True) == 0


def test_a_run_that_stops_half_way_keeps_the_old_watermark_and_the_next_run_finishes(db, cohort, monkeypatch):
    rules, now = cohort.rb.lab_rules, INJECTED + timedelta(days=25)
    monkeypatch.setattr(lab_sweep, "CHUNK", 3)
    real, calls = labs.raise_breaches, []

    def failing(db_, p, *a, **kw):
        calls.append(p["subject_id"])
        if len(calls) == 5:
            raise RuntimeError("the machine went down")
        return real(db_, p, *a, **kw)

    monkeypatch.setattr(labs, "raise_breaches", failing)
    with pytest.raises(RuntimeError):
        lab_sweep.sweep(db, rules, now)
    assert versions.watermark(db, lab_sweep.CHECK) is None  # the run did not complete
    partial = lab_alerts(db)
    monkeypatch.setattr(labs, "raise_breaches", real)
    lab_sweep.sweep(db, rules, now)
    assert set(partial) < set(lab_alerts(db))
    assert versions.watermark(db, lab_sweep.CHECK).as_of == now.isoformat()
    assert lab_sweep.sweep(db, rules, now) == 0
