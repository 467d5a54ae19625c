"""The correction notice: one short mail to each person who was mailed about alerts that a correction resolved.

Queued by a domain/corrections/resolution.ON_CORRECTED hook inside the correcting transaction, through the outbox
(key ``correction:<what>:<recipient>``: one notice per correction and person, however often it is retried).
"""
from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlite_utils import Database

from ..db import rows
from ..domain import outbox
from ..domain.corrections import resolution
from .notify import MailContext, alert_view
from .render import render


def queue_notice(db: Database, notice: dict, now: datetime, *, ctx: MailContext) -> list[int]:
    """One correction mail per person mailed about any of the notice's alerts. Returns the outbox ids queued."""
    ids = [a["id"] for a in notice["alerts"]]
    marks = ",".join("?" for _ in ids)
    people = rows(db, f"SELECT DISTINCT o.recipient, u.name, u.role FROM outbox o LEFT JOIN users u "
                      f"ON u.email = o.recipient COLLATE NOCASE WHERE o.kind = 'alert' AND o.alert_id IN ({marks}) "
                      f"ORDER BY o.recipient", ids)
    queued = []
    for person in people:
        mail = render("correction", {
            "notice": notice, "alerts": [alert_view(a, ctx) for a in notice["alerts"]],
            "recipient": {"name": person["name"] or "", "role": person["role"] or "recipient"},
            "study_id": ctx.study_id, "base_url": ctx.base_url})
        key = f"correction:{notice['key']}:{person['recipient'].lower()}"
        outbox_id = outbox.enqueue(db, key=key, kind="correction", template="correction",
                                   recipient=person["recipient"], subject=mail.subject, text=mail.text,
                                   html=mail.html, mail_from=ctx.mail_from, now=now)
        if outbox_id is not None:
            queued.append(outbox_id)
    return queued


def install(app) -> None:
    """Register the notice hook for this app (replacing one installed by an earlier app)."""
    hook = partial(queue_notice, ctx=MailContext.from_app(app))
    hook.safety_correction_hook = True
    resolution.ON_CORRECTED[:] = [h for h in resolution.ON_CORRECTED
                                  if not getattr(h, "safety_correction_hook", False)]
    resolution.ON_CORRECTED.append(hook)
