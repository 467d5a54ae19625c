"""The lab-rules check: every injected participant's series against the rules, as of ``now``.

Alerts are raised when a result is entered; this job is the safety net for a rules file edited since (a lowered
threshold breaches on stored results) and for `safety check`. Keys (participant, rule, result) make a second
run raise nothing twice.
"""
from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from ..domain import labs
from .scheduler import JOBS, Job


def check_lab_rules(db: Database, rulebook, config: dict, now: datetime) -> int:
    """Returns the number of alerts raised now."""
    return labs.check_all(db, rulebook.lab_rules, now)


JOBS.append(Job("lab_rules", check_lab_rules, "interval", {"minutes": 60}))
