"""The mail sender (every minute) and `safety mail send`: deliver what is due in the outbox, outside any transaction.

One message at a time (claim, send, mark): a crash between two leaves at most one message in 'sending', claimed
again after the claim timeout. With no SMTP host configured nothing is sent and the outbox is read in the UI.
"""
from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from ..domain import outbox
from ..mail import smtp
from .scheduler import JOBS, Job


def handle_one(db: Database, settings: smtp.SmtpSettings, delivery, now: datetime) -> tuple[str, bool] | None:
    """Claim and try to deliver one due message. Returns (outcome, server_reachable), or None if nothing is due."""
    msg = outbox.claim(db, now, delivery.claim_timeout_seconds)
    if msg is None:
        return None
    try:
        smtp.send(msg, settings, now)
    except smtp.PermanentError as e:
        return outbox.mark_failed(db, msg, now, str(e)), True
    except smtp.RetryableError as e:
        outcome = outbox.mark_retry(db, msg, now, str(e), max_attempts=delivery.max_attempts,
                                    backoff_seconds=delivery.backoff_seconds(msg["attempts"]))
        return outcome, not e.connection
    return ("sent" if outbox.mark_sent(db, msg, now) else "lost"), True


def send_due(db: Database, rulebook, config, now: datetime) -> int:
    """Deliver the due messages (at most the batch size); returns how many were sent."""
    settings = smtp.SmtpSettings.from_config(config)
    if not settings.host:
        return 0
    delivery = rulebook.notifications.delivery
    sent = 0
    for _ in range(delivery.batch_size):
        result = handle_one(db, settings, delivery, now)
        if result is None:
            break
        outcome, reachable = result
        sent += outcome == "sent"
        if not reachable:
            break  # the server is down: the others wait for their turn instead of failing one by one
    return sent


JOBS.append(Job("mail", send_due, "interval", {"minutes": 1}))
