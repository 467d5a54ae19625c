"""The scheduled checks: find what needs someone's attention as of ``now`` and raise each alert once.

- overdue visits: a follow-up visit whose window has closed with no visit recorded (study.toml windows);
- visits opening soon: the coordinator's list (not alerts: the home page and the nurses' digest show them);
- SAE report clocks: each report of a serious AE's series due within its warning time, or missed (sae/);
- grade >= 3 and serious AEs: a sweep behind the alert the AE area raises on save.
The lab rules' sweep (jobs/labs.py) and the stopping rule's (jobs/signals.py) are their areas' own jobs.

Every alert has a natural key, so running the checks again, or in two processes at once, raises nothing twice.
A status shown to users is derived here from stored dates and ``now``; nothing is written but alerts.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Iterator

from sqlite_utils import Database

from ..clock import iso, local_date, parse_datetime
from ..db import rows
from . import alerts
from .study import Study, schedule

OVERDUE_KIND = "visit_overdue"
SAE_DUE_KIND = "sae_report_due"
SAE_MISSED_KIND = "sae_report_missed"


@dataclass(frozen=True)
class VisitRow:
    """One scheduled visit of one participant, its status derived from the dates and today's local date."""

    subject_id: str
    site: str
    visit: str
    label: str
    due_on: date
    window_start: date
    window_end: date
    status: str
    today: date

    @property
    def days_overdue(self) -> int:
        return max((self.today - self.window_end).days, 0)

    @property
    def opens_in_days(self) -> int:
        return (self.window_start - self.today).days


def visit_rows(db: Database, study: Study, tz: str, now: datetime, site: str | None = None) -> list[VisitRow]:
    """Every scheduled visit of the active, injected participants (of one site if given), by subject and day.

    Two queries for the whole cohort (participants, recorded visits); the schedule is the foundation's.
    """
    today = local_date(now, tz)
    params: list = []
    where = "status = 'active' AND injection_at IS NOT NULL"
    if site:
        where += " AND site = ?"
        params.append(site)
    people = rows(db, f"SELECT id, subject_id, site, injection_at FROM participants WHERE {where} ORDER BY subject_id",
                  params)
    done: dict[int, dict[str, date]] = {}
    for r in db.query("SELECT participant_id, visit, visit_date FROM visits"):
        done.setdefault(r["participant_id"], {})[r["visit"]] = date.fromisoformat(r["visit_date"])
    out = []
    for p in people:
        injected = local_date(parse_datetime(p["injection_at"]), tz)
        for v in schedule(study, injected, done.get(p["id"], {}), today):
            out.append(VisitRow(p["subject_id"], p["site"], v.visit, v.label, v.due_on, v.window_start,
                                v.window_end, v.status, today))
    return out


def overdue_visits(db: Database, study: Study, tz: str, now: datetime, site: str | None = None,
                   schedule_rows: list[VisitRow] | None = None) -> list[VisitRow]:
    """Visits past their window with none recorded (status overdue, or missed once long past).

    ``schedule_rows``: the result of ``visit_rows`` when the caller has it already (the digest needs both lists).
    """
    found = visit_rows(db, study, tz, now, site) if schedule_rows is None else schedule_rows
    return [v for v in found if v.status in ("overdue", "missed")]


def visits_opening_soon(db: Database, study: Study, tz: str, now: datetime, site: str | None = None,
                        schedule_rows: list[VisitRow] | None = None) -> list[VisitRow]:
    """The coordinator's list: windows opening within ``opening_soon_days`` (study.toml), soonest first."""
    found = visit_rows(db, study, tz, now, site) if schedule_rows is None else schedule_rows
    soon = [v for v in found if v.status == "upcoming" and v.opens_in_days <= study.opening_soon_days]
    return sorted(soon, key=lambda v: (v.window_start, v.subject_id))


def _overdue_candidates(db: Database, study: Study, today: date) -> list[dict]:
    """Active participants with a visit that may be past its window, not recorded and not yet alerted: one query.

    The window's end is a local date; the injection's UTC date is at most a day from its local one, so a window
    ending a day later than the UTC reckoning is the widest it can be (no participant is missed; the schedule below
    decides exactly). Already alerted visits drop out on the alerts' UNIQUE key: a steady run finds none.
    """
    if not study.visits:
        return []
    pairs = ", ".join("(?, ?)" for _ in study.visits)
    params: list = [x for v in study.visits for x in (v.code, v.day + v.window_after - 1)]
    return rows(db, f"WITH due (visit, last_day) AS (VALUES {pairs}) "
                    "SELECT * FROM participants p WHERE p.status = 'active' AND p.injection_at IS NOT NULL AND EXISTS ("
                    " SELECT 1 FROM due WHERE date(p.injection_at, '+' || due.last_day || ' days') < ?"
                    " AND NOT EXISTS (SELECT 1 FROM visits x WHERE x.participant_id = p.id AND x.visit = due.visit)"
                    " AND NOT EXISTS (SELECT 1 FROM alerts a"
                    "  WHERE a.key = 'overdue:' || p.subject_id || ':' || due.visit)"
                    ") ORDER BY p.subject_id", [*params, today.isoformat()])


def raise_overdue_visits(db: Database, study: Study, tz: str, now: datetime) -> list[dict]:
    """One alert per participant and visit whose window closed without a visit. Returns the alerts raised now.

    Set-based (issue 18): one query finds the participants that may have a visit to alert; only their schedules
    are computed (the same ``schedule`` as every page), so a run with nothing new costs one query.
    """
    today, raised = local_date(now, tz), []
    found = []
    for p in _overdue_candidates(db, study, today):
        injected = local_date(parse_datetime(p["injection_at"]), tz)
        done = {r["visit"]: date.fromisoformat(r["visit_date"])
                for r in db.query("SELECT visit, visit_date FROM visits WHERE participant_id = ?", [p["id"]])}
        for v in schedule(study, injected, done, today):
            if v.status in ("overdue", "missed"):
                found.append(VisitRow(p["subject_id"], p["site"], v.visit, v.label, v.due_on, v.window_start,
                                      v.window_end, v.status, today))
    # A shortcut past INSERT OR IGNORE for alerts raised on earlier runs; the UNIQUE key stays the real guard.
    subjects = json.dumps(sorted({v.subject_id for v in found}))
    known = {r["key"] for r in db.query("SELECT key FROM alerts WHERE kind = ? AND subject_id IN "
                                        "(SELECT value FROM json_each(?))", [OVERDUE_KIND, subjects])}
    for v in found:
        key = f"overdue:{v.subject_id}:{v.visit}"
        if key in known:
            continue
        alert = alerts.raise_alert(
            db, key=key, kind=OVERDUE_KIND, severity="medium", now=now, subject_id=v.subject_id, site=v.site,
            rule=f"visit window {v.visit}", ref_entity="participant", ref_id=v.subject_id,
            message=(f"{v.label} visit of {v.subject_id} is overdue: its window "
                     f"{v.window_start.isoformat()} to {v.window_end.isoformat()} closed with no visit recorded."))
        if alert:
            raised.append(alert)
    return raised


def open_sae_clocks(db: Database, horizon: datetime | None = None) -> list[dict]:
    """Active SAEs whose 24-hour report is not yet sent, soonest due first; with ``horizon`` only those due by then.

    Found through the AE table's partial index on report_due_at (ISO UTC text sorts as time).
    """
    if not db["adverse_events"].exists():
        return []
    sql = ("SELECT id, subject_id, site, term, grade, awareness_at, report_due_at, signed_off_at FROM adverse_events"
           " WHERE report_due_at IS NOT NULL AND report_sent_at IS NULL AND status = 'active' AND serious = 1")
    params: list = []
    if horizon is not None:
        sql += " AND report_due_at <= ?"
        params.append(iso(horizon))
    return rows(db, sql + " ORDER BY report_due_at", params)


def raise_sae_clocks(db: Database, tz: str, now: datetime, warning_hours: float) -> list[dict]:
    """Warn when an SAE report is due within its warning time; alert again, critical, once it is missed: for each
    report of the series still due (the 24-hour initial report, ICH E6(R2) 4.11.1; a SUSAR's 7/15-day reports,
    ICH E2A III.A). The SAE area's check (domain/sae/clock_checks.py). Returns the alerts raised now.
    """
    from .sae import clock_checks  # imports adverse_events, which imports this module's neighbours

    return clock_checks.raise_report_clocks(db, tz, now, warning_hours)


def raise_ae_sweep(db: Database, rulebook, tz: str, now: datetime) -> int:
    """Serious and grade >= 3 AEs: the alert the AE area raises on save, raised again here if it is missing
    (an AE imported or amended by a path that did not raise). Same keys as on save, so never twice."""
    from . import adverse_events  # the AE area's module: its alert rule and keys, not a copy of them

    severe = {ae["id"]: ae for ae in adverse_events.list_aes(db, None, {"serious": True})}
    severe.update({ae["id"]: ae for ae in adverse_events.list_aes(db, None, {"min_grade": 3})})
    raised = 0
    for ae_id in sorted(severe):
        # before=None: "as if just saved"; the key (per AE, per grade reached) makes a second raise a no-op.
        raised += len(adverse_events._raise_alerts(db, severe[ae_id], None, actor="system", tz=tz, now=now))
    return raised


@dataclass
class CheckRun:
    """What one run of the checks raised, by check."""

    raised: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.raised)


@contextmanager
def collect_raised() -> Iterator[list[dict]]:
    """Every alert raised in this process while the block runs (an ON_RAISED hook), so a run can print them."""
    seen: list[dict] = []

    def hook(_db, alert, _now):
        seen.append(alert)

    alerts.ON_RAISED.append(hook)
    try:
        yield seen
    finally:
        alerts.ON_RAISED.remove(hook)


def run_all(db: Database, rulebook, tz: str, now: datetime) -> CheckRun:
    """Run every check of this module as of ``now``. Returns the alerts raised now, by check."""
    run = CheckRun()
    warning = rulebook.notifications.checks.sae_report_warning_hours
    steps = [
        ("overdue_visits", lambda: raise_overdue_visits(db, rulebook.study, tz, now)),
        ("sae_clocks", lambda: raise_sae_clocks(db, tz, now, warning)),
        ("adverse_events", lambda: raise_ae_sweep(db, rulebook, tz, now)),
    ]
    for name, step in steps:
        with collect_raised() as seen:
            step()
        run.counts[name] = len(seen)
        run.raised.extend(seen)
    return run
