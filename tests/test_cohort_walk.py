"""Thirteen months of a demo-like cohort, day by day with a fixed clock: exactly the overdue alerts the protocol's
visit windows imply, each raised once, on the first check after its window closed.

Story: 24 participants at three sites, injected a week apart from 15 May 2025. The site nurses record most
visits inside their window, some late, some never. Every morning the nurses enter yesterday's visits, then the
10:00 UTC check runs (11:00 or 12:00 in Berlin, across both daylight-saving changes).
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone

from safety_service.clock import FixedClock
from safety_service.db import rows
from safety_service.domain import checks, participants

FIRST_INJECTION = date(2025, 5, 15)
DAYS = 396  # 13 months
SITES = ("S01", "S02", "S03")


def plan_cohort(study, rng: random.Random):
    """Per participant: injection day, and per visit a plan: ("in_window", day), ("late", day) or ("never", None)."""
    cohort = []
    for i in range(24):
        injected = FIRST_INJECTION + timedelta(days=7 * i)
        visits = {}
        for v in study.visits:
            # The protocol's windows (rules/study.toml): target = injection day + day, window -before/+after.
            start = injected + timedelta(days=v.day - v.window_before)
            end = injected + timedelta(days=v.day + v.window_after)
            roll = rng.random()
            if roll < 0.7:
                visits[v.code] = ("in_window", start + timedelta(days=rng.randint(0, (end - start).days)), end)
            elif roll < 0.85:
                # At least two days late: entered after the morning the check first sees the window closed.
                visits[v.code] = ("late", end + timedelta(days=rng.randint(2, 20)), end)
            else:
                visits[v.code] = ("never", None, end)
        cohort.append({"subject_id": f"{SITES[i % 3]}-{i // 3 + 1:03d}", "injected": injected, "visits": visits})
    return cohort


def test_it_raises_exactly_the_overdue_alerts_of_thirteen_months_each_once(app, db, people, enrol):
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    cohort = plan_cohort(rb.study, random.Random(20261125))
    for p in cohort:
        injected_at = datetime.combine(p["injected"], time(9, 0), tzinfo=timezone.utc)  # 10:00 or 11:00 local
        enrol(p["subject_id"], injection_at=injected_at.isoformat(),
              consent_on=(p["injected"] - timedelta(days=10)).isoformat(),
              enrolled_on=(p["injected"] - timedelta(days=8)).isoformat())
    nurse = {"S01": people["nurse_nina"], "S02": people["nurse_noah"], "S03": people["admin_alex"]}
    entries: dict[date, list[tuple[str, str]]] = {}
    for p in cohort:
        for code, (kind, day, _end) in p["visits"].items():
            if day is not None:
                entries.setdefault(day + timedelta(days=1), []).append((p["subject_id"], code))

    clock = FixedClock(datetime.combine(FIRST_INJECTION, time(10, 0), tzinfo=timezone.utc))
    raised_on: dict[str, list[date]] = {}
    last_day = FIRST_INJECTION + timedelta(days=DAYS)
    today = FIRST_INJECTION
    while today <= last_day:
        for sid, code in entries.get(today, []):  # yesterday's visits, entered this morning
            visit_day = next(p for p in cohort if p["subject_id"] == sid)["visits"][code][1]
            participants.record_visit(db, sid, code, visit_day.isoformat(), study=rb.study, tz=tz,
                                      actor=nurse[sid[:3]], now=clock.now())
        for alert in checks.run_all(db, rb, tz, clock.now()).raised:
            raised_on.setdefault(alert["key"], []).append(today)
        clock.advance(days=1)
        today += timedelta(days=1)

    # Expected: every visit not entered by the morning after its window's last day, whose window closed in the walk.
    expected = {}
    for p in cohort:
        for code, (kind, day, end) in p["visits"].items():
            entered_on = day + timedelta(days=1) if day else None
            first_overdue_morning = end + timedelta(days=1)
            if first_overdue_morning <= last_day and (entered_on is None or entered_on > first_overdue_morning):
                expected[f"overdue:{p['subject_id']}:{code}"] = first_overdue_morning
    assert {k: days for k, days in raised_on.items()} == {k: [d] for k, d in expected.items()}
    late = sum(kind == "late" for p in cohort for kind, _d, _e in p["visits"].values())
    assert late and len(expected) > late  # the plan has late visits and never-done ones: the test is not vacuous
    stored = rows(db, "SELECT key, raised_at FROM alerts WHERE kind = 'visit_overdue'")
    assert sorted(r["key"] for r in stored) == sorted(expected)
    assert all(r["raised_at"].startswith(expected[r["key"]].isoformat()) for r in stored)
