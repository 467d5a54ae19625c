"""The scheduler wiring: the jobs, their triggers in the study's zone, run_job with the app's clock, the commands.

Story: the service runs unattended through 15-16 June 2026; the fixed clock stands in for the wall clock.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler

from safety_service.db import rows
from safety_service.jobs import scheduler
from safety_service.jobs.scheduler import JOBS, Job, configure, run_job

from conftest import NOW
from test_mail import smtp_server  # noqa: F401  (the loopback SMTP server fixture)


def job(job_id: str) -> Job:
    return next(j for j in JOBS if j.id == job_id)


def test_it_registers_the_checks_the_sender_and_the_digest_with_their_triggers():
    assert (job("checks").trigger, job("checks").trigger_args) == ("interval", {"minutes": 5})
    assert (job("mail").trigger, job("mail").trigger_args) == ("interval", {"minutes": 1})
    assert (job("digest").trigger, job("digest").trigger_args) == ("cron", {"minute": "*/5"})
    assert len({j.id for j in JOBS}) == len(JOBS)


def test_it_adds_every_job_once_to_a_scheduler_in_the_studys_time_zone(app):
    sched = BackgroundScheduler(timezone=app.config["TIMEZONE"])
    configure(sched, app)
    configure(sched, app)  # a restart re-adds with replace_existing: no doubles
    added = {j.id: j for j in sched.get_jobs()}
    assert set(added) == {j.id for j in JOBS}
    digest = added["digest"].trigger
    berlin = ZoneInfo("Europe/Berlin")
    # 06:58 local on a summer day: the next run is 07:00 local (05:00 UTC), when the 07:00 digests fall due.
    after = digest.get_next_fire_time(None, datetime(2026, 6, 15, 6, 58, tzinfo=berlin))
    assert after.astimezone(timezone.utc) == datetime(2026, 6, 15, 5, 0, tzinfo=timezone.utc)
    assert added["checks"].max_instances == 1 and added["checks"].coalesce


def test_it_runs_a_job_with_a_fresh_connection_and_the_apps_clock(app, db, people, enrol):
    enrol("S01-001")
    assert run_job(app, job("checks")) == 2  # Month 1 and Month 3 overdue as of the app's fixed clock
    assert run_job(app, job("checks")) == 0
    assert [r["raised_at"] for r in rows(db, "SELECT raised_at FROM alerts")] == ["2026-06-15T10:00:00+00:00"] * 2


def test_it_logs_a_failing_job_and_carries_on(app, caplog):
    def broken(db, rulebook, config, now):
        raise RuntimeError("disk on fire")

    with caplog.at_level(logging.ERROR, logger="safety_service.jobs.scheduler"):
        assert run_job(app, Job("broken", broken, "interval", {"minutes": 1})) == 0
    assert "job broken failed" in caplog.text and "disk on fire" in caplog.text


def test_it_walks_an_sae_from_save_to_mail_and_digest_through_the_scheduled_jobs(app, db, people, enrol, clock,
                                                                                  smtp_server):
    from safety_service.domain import adverse_events
    rb = app.extensions["rulebook"]
    enrol("S01-001", injection_at="2026-06-01T09:30:00+00:00", consent_on="2026-05-20", enrolled_on="2026-05-21")
    adverse_events.create(db, {
        "subject_id": "S01-001", "term": "Hematuria", "verbatim": "gross hematuria", "grade": 3,
        "onset": "2026-06-14", "relatedness_product": "possible", "relatedness_procedure": "probable",
        "expected": False, "outcome": "recovering", "serious": True, "seriousness": ["hospitalization"],
        "awareness_at": "2026-06-15T08:00:00+00:00"}, catalogue=rb.ctcae, study=rb.study,
        tz=app.config["TIMEZONE"], actor=people["nurse_nina"], now=NOW)
    assert run_job(app, job("mail")) == 2  # the SAE mails queued on save
    clock.set("2026-06-16T02:30:00+00:00")  # 5 h 30 min before the 24-hour report is due
    assert run_job(app, job("checks")) == 1
    assert run_job(app, job("mail")) == 2
    clock.set("2026-06-16T05:00:00+00:00")  # 07:00 in Berlin: the safety officer's and nurses' digest time
    assert run_job(app, job("digest")) == 3
    assert run_job(app, job("digest")) == 0
    assert run_job(app, job("mail")) == 3
    subjects = [m["Subject"] for m in smtp_server.inbox.messages]
    assert subjects.count("[NCT07396155] HIGH: SAE report due soon · S01-001") == 2
    assert sum("Safety digest 2026-06-16" in s for s in subjects) == 3 and len(subjects) == 7


def test_it_runs_the_jobs_in_their_own_process_with_safety_scheduler(app, monkeypatch):
    started = []
    monkeypatch.setattr(scheduler, "run_forever", lambda a: started.append(a))
    r = app.test_cli_runner().invoke(args=["scheduler"])
    assert r.exit_code == 0, r.output
    assert started == [app] and "checks" in r.output and "digest" in r.output


def test_it_sends_due_mail_from_the_command_line(app, db, people, smtp_server):
    from safety_service.domain import alerts
    alerts.raise_alert(db, key="sae:5", kind="sae", severity="critical", message="SAE", now=NOW,
                       subject_id="S01-001", site="S01")
    r = app.test_cli_runner().invoke(args=["mail", "send", "--now", "2026-06-15T10:00:00+00:00"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0] == "2 sent"
    assert "0 pending, 0 sending, 2 sent, 0 failed" in r.output
    later = (NOW + timedelta(minutes=1)).isoformat()
    assert app.test_cli_runner().invoke(args=["mail", "send", "--now", later]).output.startswith("0 sent")
