"""Demo step: run the scheduled checks and build today's digests once, so the inbox and the outbox are not empty.

Runs last (after labs and AEs). With no SMTP host the demo's mails stay in the outbox, readable by the admin.
"""
from __future__ import annotations

from datetime import datetime

from ..domain import checks, digest
from . import STEPS


def run_checks_and_digests(db, rulebook, config, now: datetime, rng, actors) -> None:
    checks.run_all(db, rulebook, config["TIMEZONE"], now)
    digest.queue_digests(db, rulebook, now=now, tz=config["TIMEZONE"], base_url=str(config["BASE_URL"]).rstrip("/"),
                         mail_from=config["MAIL_FROM"], force=True)


STEPS.append(run_checks_and_digests)
