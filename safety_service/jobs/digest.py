"""The digest job (every 5 minutes, on the study's wall clock) and `safety digest`.

The job queues each person's digest once their role's local time has come (rules/notifications.toml); the
command builds one for every recipient now, then delivers. Either way one digest per person per local day.
"""
from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from ..domain import digest
from .scheduler import JOBS, Job


def queue_due_digests(db: Database, rulebook, config, now: datetime, *, force: bool = False) -> int:
    """Queue today's digest for each recipient whose time has come (everyone with ``force``); returns how many."""
    return len(digest.queue_digests(db, rulebook, now=now, tz=config["TIMEZONE"],
                                    base_url=str(config["BASE_URL"]).rstrip("/"), mail_from=config["MAIL_FROM"],
                                    force=force))


# cron in the scheduler's zone (SAFETY_TIMEZONE): a role's 07:00 is caught at 07:00 local, summer or winter.
JOBS.append(Job("digest", queue_due_digests, "cron", {"minute": "*/5"}))
