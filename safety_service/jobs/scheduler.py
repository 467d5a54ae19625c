"""APScheduler wiring, in one place: in-process for run.py, or its own process (`safety scheduler`) beside gunicorn.

The job store is the default in-memory one: a job store must never be shared between schedulers (APScheduler
FAQ), so jobs are re-added at every start with replace_existing=True. Jobs are idempotent (unique keys in the
database), so a second scheduler by mistake raises nothing twice.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..db import connect

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable  # func(db, rulebook, config, now) -> int
    trigger: str  # "interval" or "cron"
    trigger_args: dict


# Each area registers its jobs here (see jobs/*.py).
JOBS: list[Job] = []


def run_job(app, job: Job) -> int:
    """Run one job with a fresh connection and the app's clock; a failure is logged, never crash-loops."""
    db = connect(app.config["DATABASE"])
    try:
        return job.func(db, app.extensions["rulebook"], app.config, app.extensions["clock"].now())
    except Exception:  # noqa: BLE001 - a failing job must not stop the scheduler; the next run retries
        log.exception("job %s failed", job.id)
        return 0
    finally:
        db.conn.close()


def configure(scheduler, app) -> None:
    for job in JOBS:
        scheduler.add_job(run_job, job.trigger, args=[app, job], id=job.id, replace_existing=True,
                          coalesce=True, max_instances=1, misfire_grace_time=300, **job.trigger_args)


def start_in_process(app) -> BackgroundScheduler:
    from apscheduler.schedulers.background import BackgroundScheduler  # here: `safety check` never runs one

    scheduler = BackgroundScheduler(timezone=app.config["TIMEZONE"])
    configure(scheduler, app)
    scheduler.start()
    return scheduler


def run_forever(app) -> None:
    """`safety scheduler`: the jobs in this process only, for deployments with several web workers."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone=app.config["TIMEZONE"])
    configure(scheduler, app)
    log.info("scheduler running %d jobs", len(JOBS))
    scheduler.start()
