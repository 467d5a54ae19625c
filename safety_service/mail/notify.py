"""Immediate alert mail: queued by an ON_RAISED hook inside the transaction that raises the alert.

So an alert and its mails commit together or not at all, whichever code raised it (AE save, lab entry, a
check, the stopping rule). Which alerts mail at once, and to whom, is rules/notifications.toml; the others wait
for the digest. ``install(app)`` binds the hook to one app's rules and settings (the last app created wins,
which is what a process with one app, or a test suite creating one app per test, needs).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from ..clock import parse_datetime
from ..domain import alerts as alerts_domain
from ..domain import outbox
from .render import render
from .routing import Notifications, alert_grade, recipients

# How each alert kind is named to people (mail subjects, the inbox); an unknown kind shows its own name.
KIND_LABELS = {
    "sae": "Serious adverse event",
    "ae_severe": "Severe adverse event (grade ≥ 3)",
    "sae_report_due": "SAE report due soon",
    "sae_report_missed": "SAE report overdue",
    "visit_overdue": "Follow-up visit overdue",
    "lab_rule": "Lab safety rule",
    "stopping_rule": "Stopping rule crossed",
    "cluster": "Cluster for review",
    "mail_failed": "Mail not delivered",
    "query_overdue": "Query waiting for the site's answer",
    "rules_file": "Rules file",
}


@dataclass(frozen=True)
class MailContext:
    """What a mail needs beyond the database: the routing rules and a few settings."""

    notifications: Notifications
    study_id: str
    base_url: str
    mail_from: str
    timezone: str
    lab_rule_roles: dict[str, tuple[str, ...]] = None  # lab rule id -> roles told (safety_rules.toml `notify`)

    @classmethod
    def from_app(cls, app) -> "MailContext":
        rulebook = app.extensions["rulebook"]
        return cls(notifications=rulebook.notifications, study_id=rulebook.study.study_id,
                   base_url=str(app.config["BASE_URL"]).rstrip("/"), mail_from=app.config["MAIL_FROM"],
                   timezone=app.config["TIMEZONE"],
                   lab_rule_roles={r.id: tuple(r.notify) for r in rulebook.lab_rules.rules})

    def local(self, stamp: str | datetime | None) -> str:
        """A stored UTC instant as the study's local time, e.g. '2026-06-15 12:00 CEST'."""
        if not stamp:
            return ""
        dt = parse_datetime(stamp) if isinstance(stamp, str) else stamp
        return dt.astimezone(ZoneInfo(self.timezone)).strftime("%Y-%m-%d %H:%M %Z")


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def alert_view(alert: dict, ctx: MailContext) -> dict:
    """The alert as mails show it: only the subject ID identifies a participant."""
    return {"id": alert["id"], "kind": alert["kind"], "kind_label": kind_label(alert["kind"]),
            "severity": alert["severity"], "subject_id": alert.get("subject_id"), "site": alert.get("site"),
            "rule": alert.get("rule"), "message": alert["message"], "raised_at": ctx.local(alert["raised_at"]),
            "link": f"{ctx.base_url}/alerts/{alert['id']}"}


def queue_alert_mail(db: Database, alert: dict, now: datetime, *, ctx: MailContext) -> list[int]:
    """Queue one mail per recipient if the alert's route says immediate. Returns the outbox ids queued."""
    route = ctx.notifications.route_for(alert, alert_grade(db, alert))
    if route is None or not route.immediate:
        return []
    queued = []
    view = alert_view(alert, ctx)
    # A lab rule names who is told of its breach (rules/safety_rules.toml); the route decides only when.
    roles = (ctx.lab_rule_roles or {}).get(alert.get("rule") or "") if alert["kind"] == "lab_rule" else None
    for user in recipients(db, list(roles or route.roles), alert.get("site")):
        mail = render("alert", {"alert": view, "recipient": {"name": user["name"], "role": user["role"]},
                                "study_id": ctx.study_id, "base_url": ctx.base_url, "timezone": ctx.timezone})
        outbox_id = outbox.enqueue(db, key=f"alert:{alert['id']}:{user['email'].lower()}", kind="alert",
                                   template="alert", recipient=user["email"], subject=mail.subject, text=mail.text,
                                   html=mail.html, mail_from=ctx.mail_from, now=now, alert_id=alert["id"])
        if outbox_id is not None:
            queued.append(outbox_id)
    return queued


def install(app) -> None:
    """Register the immediate-mail hook for this app (replacing one installed by an earlier app)."""
    hook = partial(queue_alert_mail, ctx=MailContext.from_app(app))
    hook.safety_mail_hook = True
    alerts_domain.ON_RAISED[:] = [h for h in alerts_domain.ON_RAISED if not getattr(h, "safety_mail_hook", False)]
    alerts_domain.ON_RAISED.append(hook)
