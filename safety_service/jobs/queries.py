"""The queries check (every 5 minutes, and part of `safety check`): automatic queries opened and closed
(rules/queries.toml), and the site alerted for a query waiting more than N days (rules/notifications.toml)."""
from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from ..domain.queries import auto, overdue
from .scheduler import JOBS, Job


def run_query_checks(db: Database, rulebook, config, now: datetime) -> int:
    """Run the automatic query rules and the overdue check as of ``now``; returns queries opened or closed plus
    alerts raised."""
    changed = auto.run(db, rulebook.queries, now)
    raised = overdue.raise_overdue(db, now, rulebook.notifications.queries.overdue_days)
    return changed["opened"] + changed["closed"] + len(raised)


JOBS.append(Job("queries", run_query_checks, "interval", {"minutes": 5}))
