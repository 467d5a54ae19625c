"""The site is alerted when a query has waited for its answer more than N days (rules/notifications.toml
[queries] overdue_days): one alert per wait (key ``query_overdue:<id>:<waiting since>``, so a reopened query that
waits again is alerted again, a check that runs twice alerts once). Answering or closing resolves it."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlite_utils import Database

from ...clock import iso, parse_datetime
from ...db import rows
from .. import alerts

KIND = "query_overdue"


def waiting_days(q: dict, now: datetime) -> float:
    """Days the query has waited for the site since it was raised or last reopened."""
    return (now - parse_datetime(q["waiting_since"])).total_seconds() / 86400


def overdue(db: Database, now: datetime, days: int, site: str | None = None) -> list[dict]:
    """Open queries waiting more than ``days`` days (exactly ``days`` is not more), longest waiting first."""
    # The index narrows by status; "more than" is then re-checked against now in Python.
    cutoff = now - timedelta(days=days)
    found = rows(db, "SELECT * FROM queries WHERE status = 'open' AND waiting_since < ?"
                     + (" AND site = ?" if site else "") + " ORDER BY waiting_since, id",
                 [iso(cutoff), *([site] if site else [])])
    return [q for q in found if waiting_days(q, now) > days]


def raise_overdue(db: Database, now: datetime, days: int) -> list[dict]:
    """One alert per query and wait past ``days`` days; returns the alerts raised now."""
    raised = []
    for q in overdue(db, now, days):
        field = f" ({q['field'].replace('_', ' ')})" if q["field"] else ""
        alert = alerts.raise_alert(
            db, key=f"{KIND}:{q['id']}:{q['waiting_since']}", kind=KIND, severity="medium", now=now,
            subject_id=q["subject_id"], site=q["site"], rule="queries.overdue_days", ref_entity="query",
            ref_id=q["id"], message=(f"Query Q{q['id']} on {q['label']}{field} has waited {int(waiting_days(q, now))}"
                                     f" days for the site's answer (more than {days}): /queries/{q['id']}"))
        if alert:
            raised.append(alert)
    return raised
