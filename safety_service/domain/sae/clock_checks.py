"""The SAE clock check: a warning, then a miss, for each report still due; each alert once (unique keys).

Run by ``safety check`` and the scheduler through domain/checks.run_all. The AEs come from a query on the
stored deadlines (report_due_at, expedited_due_at); each clock is then re-checked against ``now``. An alert whose
clock no longer applies (the report was sent, or an amendment assessed the AE expected or not serious) is
resolved with that reason, so the inbox follows the truth.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from ...db import rows
from .. import adverse_events, alerts
from . import clocks, susar

DUE_KIND = "sae_report_due"
MISSED_KIND = "sae_report_missed"


def _hours(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    days, minutes = divmod(minutes, 24 * 60)
    text = f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{days} d {text}" if days else text


def _candidates(db: Database) -> list[dict]:
    """Active SAEs with a clock that may still run: initial report not sent, or an expedited clock."""
    found = rows(db, "SELECT * FROM adverse_events WHERE status = 'active' AND serious = 1 AND "
                     "(report_sent_at IS NULL OR expedited_due_at IS NOT NULL) ORDER BY id")
    return [adverse_events._to_dict(r) for r in found]


def _sent(db: Database) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for r in db.query("SELECT ae_id, number, expedited FROM sae_reports ORDER BY ae_id, number"):
        out.setdefault(r["ae_id"], []).append(r)
    return out


def raise_report_clocks(db: Database, tz: str, now: datetime, warning_hours: float) -> list[dict]:
    """Warn when a report is due within its warning time, alert again (critical) once it is missed; resolve the
    alerts of clocks that no longer run. Returns the alerts raised now."""
    zone = ZoneInfo(tz)
    sent = _sent(db)
    raised, live_keys = [], set()
    for ae in _candidates(db):
        what = f"SAE {adverse_events.display_id(ae)} ({ae['term']}, grade {ae['grade']})"
        if susar.status(ae) == "possible":
            what += ", a possible SUSAR (expectedness not yet assessed)"
        for c in clocks.pending(ae, sent.get(ae["id"], []), zone):
            due_key, missed_key = clocks.alert_keys(ae["id"], c)
            live_keys.update((due_key, missed_key))
            shown = c.due_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
            report = "initial report (0)" if c.number == 0 else f"report {c.number}"
            common = dict(subject_id=ae["subject_id"], site=ae["site"], rule=c.name, ref_entity="adverse_event",
                          ref_id=ae["id"], now=now)
            # At the due instant the report is not yet late: "within 24 hours" includes the 24th hour's end.
            if now > c.due_at:
                alert = alerts.raise_alert(
                    db, key=missed_key, kind=MISSED_KIND, severity="critical", **common,
                    message=(f"{what}: the {report}, {c.title} ({c.citation}), was due {shown} and is not recorded "
                             f"as sent ({_hours(now - c.due_at)} late)."))
            elif now >= c.due_at - clocks.warning_for(c, warning_hours):
                alert = alerts.raise_alert(
                    db, key=due_key, kind=DUE_KIND, severity="high", **common,
                    message=f"{what}: the {report}, {c.title} ({c.citation}), is due {shown}, in {_hours(c.due_at - now)}.")
            else:
                alert = None
            if alert:
                raised.append(alert)
    _resolve_stale(db, live_keys, now)
    return raised


def _resolve_stale(db: Database, live_keys: set[str], now: datetime) -> None:
    """Open clock alerts whose clock no longer runs (report sent by another path, AE amended or withdrawn)."""
    for a in rows(db, "SELECT id, key FROM alerts WHERE kind IN (?, ?) AND status != 'resolved'",
                  [DUE_KIND, MISSED_KIND]):
        if a["key"] not in live_keys:
            alerts.resolve(db, a["id"], user=susar.SYSTEM, now=now,
                           comment="the report is recorded as sent, or the clock no longer applies to this AE")
