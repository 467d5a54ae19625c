"""The checks job (every 5 minutes) and `safety check`: overdue visits, SAE clocks, the AE sweep.

`safety check` also runs the other areas' check jobs (lab rules, stopping rule and clusters, rules guard), so one
command runs every scheduled check once. Alerts have unique keys: a run that overlaps another, or repeats it, raises nothing twice.
"""
from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from ..db import connect
from ..domain import checks
from .scheduler import JOBS, Job

# The jobs `safety check` runs: this module's, the lab rules', the stopping rule and clusters', the rules guard,
# the queries' (automatic queries, queries waiting too long).
CHECK_JOB_IDS = ("checks", "lab_rules", "signals", "rules_guard", "queries")


def run_checks(db: Database, rulebook, config, now: datetime) -> int:
    """Run this area's checks as of ``now``; returns the number of alerts raised now."""
    return checks.run_all(db, rulebook, config["TIMEZONE"], now).total


def check_once(app, now: datetime) -> list[str]:
    """Every check job once as of ``now`` (the CLI); returns the lines to print, one per alert raised."""
    from ..domain.queries import auto as auto_queries

    db = connect(app.config["DATABASE"])
    try:
        with checks.collect_raised() as raised, auto_queries.collect() as queried:
            for job in JOBS:
                if job.id in CHECK_JOB_IDS:
                    job.func(db, app.extensions["rulebook"], app.config, now)
    finally:
        db.conn.close()
    lines = [f"checks as of {now.isoformat()}: {len(raised)} alert{'s' if len(raised) != 1 else ''} raised"]
    lines += [f"  [{a['severity']}] {a['kind']} {a['key']}: {a['message']}" for a in raised]
    # automatic data clarification queries (rules/queries.toml), opened or closed by this run
    lines += [f"  query Q{q['id']} {step} ({q['rule']}) on {q['label']}" for step, q in queried]
    return lines


JOBS.append(Job("checks", run_checks, "interval", {"minutes": 5}))
