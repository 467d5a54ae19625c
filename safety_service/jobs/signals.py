"""The stopping-rule and cluster check: recompute from the data as of ``now`` and raise what crossed, once.

Called by the scheduler, by `safety check`, and (through adverse_events.ON_CHANGED) right after an AE is saved, so a
crossing is raised at the save that causes it. Alerts have natural keys (``stopping:<rule id>``,
``cluster:<term>:<first onset>``), so running the check again, or in two processes, raises nothing twice.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlite_utils import Database

from ..clock import local_date
from ..db import atomic
from ..domain import adverse_events, alerts, stopping_counts
from ..domain.stopping import counts, position
from ..domain.signals import find_clusters
from ..reports import datacut
from .scheduler import JOBS, Job

log = logging.getLogger(__name__)
def _criteria(rule) -> str:
    return f"P(rate > {rule.unacceptable_rate:.0%}) > {rule.threshold}"


def _stopping_message(rule, c_x, c_n, c_post, ae_id, subject_id, on, x, n, post) -> str:
    return (f"Stopping boundary crossed: {rule.title}. {c_x} of {c_n} participants evaluated had a counted "
            f"event; {_criteria(rule)} reached {c_post:.3f} with AE {ae_id} of {subject_id} "
            f"(onset {on}). Pause injections and refer to the DSMB. Now: {x} of {n}, posterior {post:.3f}.")


def _site_of(db: Database, subject_id: str) -> str | None:
    found = db.execute("SELECT site FROM participants WHERE subject_id = ?", [subject_id]).fetchone()
    return found[0] if found else None


def _raise_stopping(db: Database, rule, message: str, now: datetime, subject_id: str, ae_id) -> bool:
    # critical: the highest priority (alerts.SEVERITIES); mail is queued by the alerts' ON_RAISED hooks
    return bool(alerts.raise_alert(db, key=f"stopping:{rule.id}", kind="stopping_rule", severity="critical",
                                   message=message, now=now, subject_id=subject_id, site=_site_of(db, subject_id),
                                   rule=rule.id, ref_entity="adverse_event", ref_id=ae_id))


def _raise_clusters(db: Database, found, now: datetime) -> int:
    raised = 0
    for cl in found:
        message = (f"Cluster for review: {cl.term} in {len(cl.participants)} participants with onsets "
                   f"{cl.first_onset} to {cl.last_onset} ({', '.join(cl.participants)}).")
        if alerts.raise_alert(db, key=cl.key, kind="cluster", severity="medium", message=message, now=now,
                              rule="clusters", ref_entity="adverse_event", ref_id=cl.ae_ids[0]):
            raised += 1
    return raised


def check_signals(db: Database, rulebook, config: dict, now: datetime) -> int:
    """Raise the stopping alert for each crossed rule and a review alert for each new cluster; returns how many
    alerts were raised now (0 when everything was already raised).

    The full replay (``stopping.position``) is the reference: it also finds a crossing in the past that a later
    injection has since diluted, and it rebuilds the running counts the AE saves use, reporting any drift.
    """
    tz = config["TIMEZONE"]
    cut = datacut.load(db, rulebook.study, as_of=now, cutoff=local_date(now, tz), tz=tz, with_labs=False)
    raised = 0
    for rule in rulebook.stopping.rules:
        pos = position(rule, cut.participants, cut.aes, now, tz)
        if not pos.crossed:
            continue
        c = pos.crossing
        message = _stopping_message(rule, c.x, c.n, c.posterior, c.ae_id, c.subject_id, c.on, pos.x, pos.n,
                                    pos.posterior)
        if _raise_stopping(db, rule, message, now, c.subject_id, c.ae_id):
            raised += 1
    raised += _raise_clusters(db, find_clusters(rulebook.stopping.clusters, cut.participants, cut.aes, now, tz), now)
    drift = stopping_counts.rebuild(db, rulebook.stopping.rules, cut.aes)
    if drift:
        log.warning("stopping-rule running counts differed from a full recount in %d rows; rebuilt", drift)
    return raised


def check_at_save(db: Database, rulebook, tz: str, ae: dict, now: datetime) -> int:
    """The stopping rule at a serious or grade >= 3 save, from the running counts, so the save costs the same with
    20 AEs or 10,000 (issue 18). Returns how many alerts were raised.

    Clusters are not looked for here but by the signals job (every 15 minutes): a cluster is one span of every
    chained onset of a term, which in a long trial of a common term is most of its AEs; a review alert a quarter
    of an hour later is worth a save that does not grow with the trial.
    """
    raised, today = 0, local_date(now, tz).isoformat()
    for rule in rulebook.stopping.rules:
        if not counts(rule, ae) or db.execute("SELECT 1 FROM alerts WHERE key = ?", [f"stopping:{rule.id}"]).fetchone():
            continue
        now_ = stopping_counts.standing(db, rule, now, today)
        if now_.above:
            message = _stopping_message(rule, now_.x, now_.n, now_.posterior, ae["id"], ae["subject_id"],
                                        str(ae["onset"])[:10], now_.x, now_.n, now_.posterior)
            raised += _raise_stopping(db, rule, message, now, ae["subject_id"], ae["id"])
    return raised


def _on_ae_changed(db: Database, ae: dict, now: datetime) -> None:
    """Keep the running counts current, and check at once when the saved AE could count (serious or grade >= 3),
    inside that save's transaction.

    Needs the app (rules, time zone), so it runs for saves made through the web app and API; the scheduled job
    and `safety check` cover the rest (and rebuild the counts). A failure here is logged and left to the next
    scheduled run: it must never undo the AE save that triggered it (the savepoint drops what the failed check wrote).
    """
    from flask import current_app, has_app_context  # only here: jobs run without Flask

    if not has_app_context():
        return
    rulebook = current_app.extensions["rulebook"]
    try:
        with atomic(db):
            stopping_counts.update_subject(db, rulebook.stopping.rules, ae["subject_id"])
            if ae.get("serious") or (ae.get("grade") or 0) >= 3:
                check_at_save(db, rulebook, current_app.config["TIMEZONE"], ae, now)
    except Exception:  # noqa: BLE001 - see the docstring: the AE save must stand; the job retries
        log.exception("stopping-rule check after AE %s failed", ae.get("id"))


adverse_events.ON_CHANGED.append(_on_ae_changed)
JOBS.append(Job("signals", check_signals, "interval", {"minutes": 15}))
