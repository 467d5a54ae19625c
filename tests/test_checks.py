"""The scheduled checks: overdue visits, visits opening soon, SAE report clocks, the AE sweep, and `safety check`.

Story: S01-001 was injected on 12 Jan 2026 at 10:30 Berlin time (09:30 UTC). Month 1 is due on 11 Feb, window
4-18 Feb; Month 3 is due on 13 Apr, window 30 Mar - 27 Apr. nurse_nina records what she can.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from safety_service.clock import iso
from safety_service.db import rows
from safety_service.domain import adverse_events, checks, participants

from conftest import NOW


def run(app, db, now):
    return checks.run_all(db, app.extensions["rulebook"], app.config["TIMEZONE"], now)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def alert_keys(db, kind=None) -> list[str]:
    sql = "SELECT key FROM alerts" + (" WHERE kind = ?" if kind else "") + " ORDER BY key"
    return [r["key"] for r in db.query(sql, [kind] if kind else [])]


def raised_in_audit(db) -> int:
    return rows(db, "SELECT count(DISTINCT entity_id) AS n FROM audit_log WHERE action = 'alert_raised'")[0]["n"]


# ----------------------------------------------------------------------------------------------- overdue visits

def test_it_raises_each_overdue_visit_once_however_often_it_runs(app, db, enrol):
    enrol("S01-001")
    first = run(app, db, NOW)
    assert sorted(a["key"] for a in first.raised) == ["overdue:S01-001:M1", "overdue:S01-001:M3"]
    assert first.counts["overdue_visits"] == 2
    assert run(app, db, NOW).total == 0 and run(app, db, NOW + timedelta(minutes=5)).total == 0
    alert = rows(db, "SELECT * FROM alerts WHERE key = 'overdue:S01-001:M1'")[0]
    assert alert["kind"] == "visit_overdue" and alert["site"] == "S01" and alert["subject_id"] == "S01-001"
    assert alert["message"] == ("Month 1 visit of S01-001 is overdue: its window 2026-02-04 to 2026-02-18 "
                                "closed with no visit recorded.")
    assert raised_in_audit(db) == 2


def test_it_counts_the_windows_last_local_day_as_open_and_raises_on_the_next_local_day(app, db, enrol):
    enrol("S01-001")
    # 18 Feb 23:30 in Berlin (CET, UTC+1) is still the window's last day; 00:30 on 19 Feb is past it.
    assert run(app, db, utc("2026-02-18T22:30:00")).total == 0
    assert [a["key"] for a in run(app, db, utc("2026-02-18T23:30:00")).raised] == ["overdue:S01-001:M1"]


def test_it_raises_nothing_for_a_visit_recorded_in_its_window_nor_for_one_not_injected(app, db, enrol, people):
    enrol("S01-001")
    enrol("S01-002", injection_at="")
    rb = app.extensions["rulebook"]
    participants.record_visit(db, "S01-001", "M1", "2026-02-18", study=rb.study, tz=app.config["TIMEZONE"],
                              actor=people["nurse_nina"], now=NOW)
    assert alert_keys(db) == [] and [a["key"] for a in run(app, db, NOW).raised] == ["overdue:S01-001:M3"]


def test_it_lists_visits_opening_within_the_studys_days_soonest_first_for_a_site(app, db, enrol):
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    # Month 1 opens 23 days after the injection (day 30 - 7): opens in 7 days, in 8 days.
    enrol("S01-001", injection_at=iso(NOW - timedelta(days=16)), consent_on="2026-05-01", enrolled_on="2026-05-02")
    enrol("S01-002", injection_at=iso(NOW - timedelta(days=15)), consent_on="2026-05-01", enrolled_on="2026-05-02")
    enrol("S02-001", injection_at=iso(NOW - timedelta(days=20)), consent_on="2026-05-01", enrolled_on="2026-05-02")
    soon = checks.visits_opening_soon(db, rb.study, tz, NOW)
    assert [(v.subject_id, v.visit, v.opens_in_days) for v in soon] == [("S02-001", "M1", 3), ("S01-001", "M1", 7)]
    assert [v.subject_id for v in checks.visits_opening_soon(db, rb.study, tz, NOW, site="S01")] == ["S01-001"]
    assert run(app, db, NOW).total == 0  # opening soon is a list for the coordinator, not an alert


# ---------------------------------------------------------------------------------------------- SAE report clocks

@pytest.fixture
def sae(app, db, people, enrol):
    """An SAE the site learned of at 08:00 UTC on 15 June: its report to the sponsor is due at 08:00 on 16 June."""
    rb = app.extensions["rulebook"]
    enrol("S01-001", injection_at="2026-06-01T09:30:00+00:00", consent_on="2026-05-20", enrolled_on="2026-05-21")
    return adverse_events.create(db, {
        "subject_id": "S01-001", "term": "Hematuria", "verbatim": "gross hematuria", "grade": 3,
        "onset": "2026-06-14", "relatedness_product": "possible", "relatedness_procedure": "probable",
        "expected": False, "outcome": "recovering", "serious": True, "seriousness": ["hospitalization"],
        "awareness_at": "2026-06-15T08:00:00+00:00"}, catalogue=rb.ctcae, study=rb.study,
        tz=app.config["TIMEZONE"], actor=people["nurse_nina"], now=NOW)


def test_it_warns_six_hours_before_an_sae_report_falls_due_and_not_a_minute_earlier(app, db, sae):
    assert sae["report_due_at"] == "2026-06-16T08:00:00+00:00"  # ICH E6(R2) 4.11.1 / protocol: 24 h from awareness
    assert run(app, db, utc("2026-06-16T01:59:00")).counts["sae_clocks"] == 0
    warned = run(app, db, utc("2026-06-16T02:00:00")).raised
    assert [a["key"] for a in warned] == [f"sae_report_due:{sae['id']}"]
    assert warned[0]["severity"] == "high" and "in 6 h 00 min" in warned[0]["message"]
    assert "2026-06-16 10:00 CEST" in warned[0]["message"]  # shown in the study's zone


def test_it_raises_a_missed_sae_report_after_the_due_instant_not_at_it(app, db, sae):
    assert [a["kind"] for a in run(app, db, utc("2026-06-16T08:00:00")).raised] == ["sae_report_due"]
    missed = run(app, db, utc("2026-06-16T08:00:01")).raised
    assert [(a["key"], a["severity"]) for a in missed] == [(f"sae_report_missed:{sae['id']}", "critical")]
    assert run(app, db, utc("2026-06-17T08:00:00")).total == 0


def test_it_mails_the_sae_clock_alerts_at_once(app, db, sae):
    before = rows(db, "SELECT count(*) AS n FROM outbox")[0]["n"]
    run(app, db, utc("2026-06-16T09:00:00"))
    queued = rows(db, "SELECT o.recipient FROM outbox o JOIN alerts a ON a.id = o.alert_id"
                      " WHERE a.kind = 'sae_report_missed' ORDER BY o.recipient")
    assert [q["recipient"] for q in queued] == ["investigator_ivan@example.org", "safety_sam@example.org"]
    assert rows(db, "SELECT count(*) AS n FROM outbox")[0]["n"] == before + 2


def test_it_stops_the_clock_once_the_report_is_recorded_as_sent(app, db, people, sae):
    adverse_events.record_report_sent(db, sae["id"], actor=people["investigator_ivan"], now=NOW,
                                      tz=app.config["TIMEZONE"])
    assert run(app, db, utc("2026-06-17T00:00:00")).counts["sae_clocks"] == 0


# -------------------------------------------------------------------------------------------------- AE sweep

def test_it_raises_again_an_sae_alert_the_save_did_not_leave_behind_and_only_once(app, db, sae):
    assert alert_keys(db, "sae") == [f"sae:{sae['id']}"]  # raised on save, by the AE area
    db.execute("DELETE FROM outbox")
    db.execute("DELETE FROM alerts")  # as if the AE had come in by a path that raised nothing
    swept = run(app, db, NOW)
    assert [a["key"] for a in swept.raised if a["kind"] == "sae"] == [f"sae:{sae['id']}"]
    assert swept.counts["adverse_events"] == 1 and run(app, db, NOW).counts["adverse_events"] == 0


# ------------------------------------------------------------------------------------------------ safety check

def test_it_prints_what_safety_check_raised_as_of_now(app, enrol):
    enrol("S01-001")
    r = app.test_cli_runner().invoke(args=["check", "--now", "2026-06-15T10:00:00+00:00"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == "checks as of 2026-06-15T10:00:00+00:00: 2 alerts raised"
    assert "  [medium] visit_overdue overdue:S01-001:M1: Month 1 visit of S01-001 is overdue" in r.output
    again = app.test_cli_runner().invoke(args=["check", "--now", "2026-06-15T10:00:00+00:00"])
    assert again.exit_code == 0 and again.output.splitlines()[0].endswith(": 0 alerts raised")


def test_it_refuses_a_now_without_an_offset_in_one_line(app):
    r = app.test_cli_runner().invoke(args=["check", "--now", "2026-06-15T10:00"])
    assert r.exit_code != 0 and "--now" in r.output


# Each process builds its app, says it is ready, then waits for the go, so both run their checks together (the
# CLI's create_app is looked up on the package when the command runs, so the starter can wrap it).
STARTER = """
import os, sys, time
import safety_service
from safety_service.cli import main
ready, go = sys.argv.pop(1), sys.argv.pop(1)
build = safety_service.create_app
def create_app_then_wait(*args, **kwargs):
    app = build(*args, **kwargs)
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.001)
    return app
safety_service.create_app = create_app_then_wait
main()
"""


def test_it_raises_each_alert_once_when_two_safety_checks_run_at_the_same_time(app, db, enrol, tmp_path):
    subjects = [f"{site}-{n:03d}" for site in ("S01", "S02") for n in range(1, 16)]
    for sid in subjects:
        enrol(sid)
    env = {**os.environ, "SAFETY_DATABASE": app.config["DATABASE"], "SAFETY_SECRET_KEY": "test-secret",
           "SAFETY_INSTANCE_PATH": str(tmp_path / "instance"), "SAFETY_SMTP_HOST": ""}
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", STARTER, str(tmp_path / f"ready{i}"), str(go), "check",
                               "--now", iso(NOW)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=str(Path(__file__).resolve().parent.parent)) for i in range(2)]
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)) and all(p.poll() is None for p in procs):
        time.sleep(0.01)
    go.touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    expected = sorted(f"overdue:{sid}:{v}" for sid in subjects for v in ("M1", "M3"))
    assert alert_keys(db) == expected
    printed = [line.split()[2].rstrip(":") for out, _ in outputs for line in out.splitlines() if line.startswith("  [")]
    assert sorted(printed) == expected  # each alert reported by the one process that raised it
    assert raised_in_audit(db) == len(expected) == 60


def test_it_finds_overdue_visits_set_based_exactly_as_the_schedule_does_day_by_day(app, db, enrol, people):
    """Issue 18: one query picks the participants with a visit to alert; the alerts are the schedule's, whatever
    the hour of the injection (23:30 UTC is already the next day in Berlin) and the visits recorded."""
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    for n, at in enumerate(("2026-01-12T22:59:00+00:00", "2026-01-12T23:00:00+00:00", "2026-01-13T00:30:00+00:00",
                            "2026-01-13T12:00:00+00:00", "2026-05-31T22:30:00+00:00"), 1):
        enrol(f"S01-{n:03d}", injection_at=at)
    participants.record_visit(db, "S01-002", "M1", "2026-02-12", study=rb.study, tz=tz, actor=people["nurse_nina"],
                              now=utc("2026-02-12T12:00:00"))
    day, cumulative = utc("2026-01-20T07:00:00"), set()
    while day < utc("2027-08-01T00:00:00"):
        cumulative |= {f"overdue:{v.subject_id}:{v.visit}" for v in checks.overdue_visits(db, rb.study, tz, day)}
        checks.raise_overdue_visits(db, rb.study, tz, day)
        assert {r["key"] for r in rows(db, "SELECT key FROM alerts WHERE kind = 'visit_overdue'")} == cumulative, day
        day += timedelta(hours=11)
    assert len(cumulative) == 5 * 5 - 1  # every visit of every participant but S01-002's Month 1
