"""The lab-rules check: every injected participant's series against the rules, as of ``now``.

Alerts are raised when a result is entered; this job is the safety net for a rules file edited since (a lowered
threshold breaches on stored results) and for `safety check`. Keys (participant, rule, result) make a second
run raise nothing twice. Incremental (issue 18): only participants whose results, row or rules changed since the
last run are evaluated again (domain/incremental/lab_sweep.py); ``labs.check_all`` stays the full reference.
"""
from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from ..domain.incremental import lab_sweep
from .scheduler import JOBS, Job


def check_lab_rules(db: Database, rulebook, config: dict, now: datetime) -> int:
    """Returns the number of alerts raised now."""
    return lab_sweep.sweep(db, rulebook.lab_rules, now)


JOBS.append(Job("lab_rules", check_lab_rules, "interval", {"minutes": 60}))
