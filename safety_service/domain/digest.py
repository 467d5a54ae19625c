"""The daily digest: per recipient, what happened since their previous digest, rendered and queued once a day.

Each role's digest time (rules/notifications.toml) is a local time in the study's zone; the job runs every few
minutes and queues a digest for each person whose time has come today and who has none for today yet (the
outbox key ``digest:<email>:<local date>`` is UNIQUE, so two runs or two processes queue one). The content is
scoped like the person's pages: a site-bound role sees its site, and alert sections need ``alert.view``.
No participant identity beyond the subject ID.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from ..clock import iso, local_date, parse_datetime
from ..db import row, rows
from . import alerts, audit, lab_rules, outbox
from .checks import overdue_visits, visit_rows, visits_opening_soon
from .permissions import allowed, site_scope
from .queries.summary import for_digest as queries_for_digest

# Levey et al., AJKD 2014 (NKF-FDA-EMA): a 30 % eGFR decline from baseline is a surrogate of kidney failure risk.
EGFR_DECLINE_PERCENT = 30
FIRST_PERIOD = timedelta(days=1)
LIST_LIMIT = 25


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    role: str
    site: str | None

    @property
    def user(self) -> dict:
        return {"email": self.email, "name": self.name, "role": self.role, "site": self.site}


def recipients(db: Database, notifications, now: datetime, tz: str, *, force: bool = False) -> list[Recipient]:
    """Active users whose role has a digest time that has come today (all of them with ``force``), by e-mail."""
    local_now = now.astimezone(ZoneInfo(tz))
    out = []
    for u in rows(db, "SELECT email, name, role, site FROM users WHERE active = 1 ORDER BY email"):
        at = notifications.digest_time(u["role"])
        if at is None or (not force and local_now.time() < at):
            continue
        out.append(Recipient(u["email"], u["name"], u["role"], u["site"]))
    return out


def period_start(db: Database, email: str, now: datetime) -> datetime:
    """The end of the recipient's previous digest, or a day before ``now`` for a first digest."""
    last = row(db, "SELECT max(period_end) AS end_at FROM outbox WHERE recipient = ? AND kind = 'digest'", (email,))
    if last and last["end_at"]:
        return min(parse_datetime(last["end_at"]), now)
    return now - FIRST_PERIOD


def _in_period(stamp: str | None, start: datetime, end: datetime) -> bool:
    return bool(stamp) and start < parse_datetime(stamp) <= end


def _clock(due_at: str | None, now: datetime) -> dict:
    """An SAE report clock as shown: derived from the stored due time and now, never stored."""
    if not due_at:
        return {"state": "none", "text": "no report clock"}
    due = parse_datetime(due_at)
    minutes = int(abs((due - now).total_seconds()) // 60)
    span = f"{minutes // 60} h {minutes % 60:02d} min"
    if now > due:  # as the SAE clock check: at the due instant the report is not yet late
        return {"state": "overdue", "text": f"report overdue by {span}"}
    return {"state": "running", "text": f"report due in {span}"}


def egfr_decline_figure(db: Database, lab_rules_set, user: dict, now: datetime) -> dict:
    """Participants (visible to the user) whose latest post-injection eGFR is >= 30 % below their baseline.

    Baseline as the lab rules file defines it (lab_rules.baseline_values); eGFR derived from each creatinine by
    CKD-EPI 2021 as stored by the labs area. Returns {"declined": k, "evaluable": n, "subjects": [...]}.
    """
    scope = site_scope(user)
    people = rows(db, "SELECT id, subject_id, injection_at FROM participants WHERE injection_at IS NOT NULL"
                      + (" AND site = ?" if scope else "") + " ORDER BY subject_id", [scope] if scope else [])
    if not people or not db["labs"].exists():
        return {"declined": 0, "evaluable": 0, "subjects": []}
    by_participant: dict[int, list[lab_rules.LabResult]] = {}
    for r in db.query("SELECT id, participant_id, analyte, value_si, collected_at, uln, lln, egfr FROM labs"
                      " WHERE analyte IN ('creatinine', 'egfr') AND status = 'valid'"):
        by_participant.setdefault(r["participant_id"], []).append(lab_rules.LabResult(
            r["id"], r["analyte"], r["value_si"], parse_datetime(r["collected_at"]), r["uln"], r["lln"], r["egfr"]))
    declined, evaluable = [], 0
    for p in people:
        injected = parse_datetime(p["injection_at"])
        series = lab_rules.series_by_analyte(by_participant.get(p["id"], []), now).get("egfr", [])
        baseline = lab_rules.baseline_values(lab_rules_set.baseline, {"egfr": series}, injected).get("egfr")
        after = [r for r in series if r.collected_at > injected]
        if baseline is None or baseline <= 0 or not after:
            continue
        evaluable += 1
        # >= 30 % decline: latest <= 0.70 x baseline (compared by multiplication, no rounding division).
        if after[-1].value_si * 100 <= baseline * (100 - EGFR_DECLINE_PERCENT):
            declined.append(p["subject_id"])
    return {"declined": len(declined), "evaluable": evaluable, "subjects": declined}


def build(db: Database, rulebook, recipient: Recipient, *, since: datetime, now: datetime, tz: str,
          base_url: str) -> dict:
    """The digest's content for one recipient over (since, now]: the template context, also what tests assert."""
    from . import adverse_events  # the AE area's list function, scoped like the recipient's pages

    user = recipient.user
    scope = site_scope(user)
    zone = ZoneInfo(tz)
    shown = (lambda dt: dt.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"))
    study = rulebook.study
    aes = adverse_events.list_aes(db, user)
    new_aes = [ae for ae in aes if _in_period(ae["created_at"], since, now)]
    by_grade_phase = Counter((ae["grade"], ae["phase"] or "pre-injection") for ae in new_aes)
    phases = ["early", "late", "pre-injection"]
    grade_table = [{"grade": g, **{ph: by_grade_phase.get((g, ph), 0) for ph in phases},
                    "total": sum(by_grade_phase.get((g, ph), 0) for ph in phases)} for g in range(1, 6)]
    open_saes = [_open_sae(ae, now, shown, base_url) for ae in aes if _is_open_sae(ae)]
    schedule_rows = visit_rows(db, study, tz, now, site=scope)
    overdue = overdue_visits(db, study, tz, now, schedule_rows=schedule_rows)
    upcoming = visits_opening_soon(db, study, tz, now, schedule_rows=schedule_rows)
    context = {
        "recipient": {"name": recipient.name, "role": recipient.role, "site": recipient.site},
        "study_id": study.study_id, "base_url": base_url, "timezone": tz,
        "period": {"start": shown(since), "end": shown(now)},
        "new_aes": {"count": len(new_aes), "by_grade": grade_table, "phases": phases,
                    "rows": [{"subject_id": ae["subject_id"], "seq": ae["seq"], "term": ae["term"],
                              "display_id": adverse_events.display_id(ae),
                               "grade": ae["grade"], "phase": ae["phase"] or "pre-injection",
                               "serious": ae["serious"], "link": f"{base_url}/ae/{ae['id']}"}
                              for ae in new_aes[:LIST_LIMIT]]},
        "open_saes": open_saes,
        "visits": {"overdue": [_visit(v, base_url) for v in overdue[:LIST_LIMIT]], "overdue_count": len(overdue),
                   "upcoming": [_visit(v, base_url) for v in upcoming[:LIST_LIMIT]],
                   "upcoming_count": len(upcoming), "opening_soon_days": study.opening_soon_days},
        "egfr": egfr_decline_figure(db, rulebook.lab_rules, user, now),
        "egfr_decline_percent": EGFR_DECLINE_PERCENT,
        "alerts": None,
        "queries": queries_for_digest(db, user, now=now, base_url=base_url,
                                      overdue_days=rulebook.notifications.queries.overdue_days),
        "links": {"alerts": f"{base_url}/alerts", "home": f"{base_url}/"},
        # The audit chain's head when the digest was built: kept in the mailbox, outside the database, it lets an
        # auditor prove later that the trail was not cut short or rebuilt (`safety audit verify --anchor`).
        "audit_anchor": audit.anchor(db),
    }
    if allowed(recipient.role, "alert.view"):
        open_by_severity = alerts.counts(db, user)  # counted in SQL: a list would stop at its limit
        breaches = _raised_between(db, user, "lab_rule", since, now)
        context["alerts"] = {
            "open_count": sum(open_by_severity.values()),
            "open_by_severity": {s: open_by_severity.get(s, 0) for s in alerts.SEVERITIES},
            "open": [_alert(a, base_url, shown) for a in alerts.list_alerts(db, user, status="open", limit=LIST_LIMIT)],
            "new_breaches": [_alert(a, base_url, shown) for a in breaches[:LIST_LIMIT]],
            "new_breach_count": len(breaches),
        }
    return context


def _raised_between(db: Database, user: dict, kind: str, since: datetime, until: datetime) -> list[dict]:
    """Alerts of a kind raised in (since, until] that the user may see, most severe then newest first."""
    scope = site_scope(user)
    return rows(db, "SELECT * FROM alerts WHERE kind = ? AND raised_at > ? AND raised_at <= ?"
                    + (" AND site = ?" if scope else "")
                    + " ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2"
                      " ELSE 3 END, raised_at DESC", [kind, iso(since), iso(until), *([scope] if scope else [])])


def _is_open_sae(ae: dict) -> bool:
    """Serious and still needing someone: report not sent, not signed off, or the outcome not yet final."""
    return ae["serious"] and (not ae["report_sent_at"] or not ae["signed_off_at"]
                              or ae["outcome"] in ("recovering", "not_recovered", "unknown"))


def _open_sae(ae: dict, now: datetime, shown, base_url: str) -> dict:
    if ae["report_sent_at"]:
        clock = {"state": "sent", "text": f"report sent {shown(parse_datetime(ae['report_sent_at']))}"}
    else:
        clock = _clock(ae["report_due_at"], now)
    from .adverse_events import display_id

    return {"id": ae["id"], "subject_id": ae["subject_id"], "seq": ae["seq"], "term": ae["term"],
            "display_id": display_id(ae), "grade": ae["grade"], "outcome": ae["outcome"].replace("_", " "), "clock": clock,
            "signed_off": bool(ae["signed_off_at"]), "link": f"{base_url}/ae/{ae['id']}"}


def _visit(v, base_url: str) -> dict:
    return {"subject_id": v.subject_id, "site": v.site, "visit": v.visit, "label": v.label,
            "window_start": v.window_start.isoformat(), "window_end": v.window_end.isoformat(),
            "status": v.status, "days_overdue": v.days_overdue, "opens_in_days": v.opens_in_days,
            "link": f"{base_url}/participants/{v.subject_id}"}


def _alert(a: dict, base_url: str, shown) -> dict:
    return {"id": a["id"], "kind": a["kind"], "severity": a["severity"], "subject_id": a["subject_id"],
            "message": a["message"], "raised_at": shown(parse_datetime(a["raised_at"])),
            "link": f"{base_url}/alerts/{a['id']}"}


def queue_digests(db: Database, rulebook, *, now: datetime, tz: str, base_url: str, mail_from: str,
                  force: bool = False) -> list[int]:
    """Build and queue today's digest for each recipient whose time has come (everyone with ``force``).

    Returns the outbox ids queued now; a recipient who already has today's digest gets nothing new.
    """
    from ..mail.render import render

    today = local_date(now, tz).isoformat()
    queued = []
    for r in recipients(db, rulebook.notifications, now, tz, force=force):
        key = f"digest:{r.email.lower()}:{today}"
        if row(db, "SELECT id FROM outbox WHERE key = ?", (key,)):
            continue  # a shortcut; the UNIQUE key is the guard when two runs race
        since = period_start(db, r.email, now)
        mail = render("digest", build(db, rulebook, r, since=since, now=now, tz=tz, base_url=base_url))
        outbox_id = outbox.enqueue(db, key=key, kind="digest", template="digest", recipient=r.email,
                                   subject=mail.subject, text=mail.text, html=mail.html, mail_from=mail_from,
                                   now=now, period_start=since, period_end=now)
        if outbox_id is not None:
            queued.append(outbox_id)
    return queued
