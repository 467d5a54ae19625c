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
from ..domain import adverse_events, alerts
from ..domain.stopping import position
from ..domain.signals import find_clusters
from ..reports import datacut
from .scheduler import JOBS, Job

log = logging.getLogger(__name__)
def _criteria(rule) -> str:
    return f"P(rate > {rule.unacceptable_rate:.0%}) > {rule.threshold}"


def check_signals(db: Database, rulebook, config: dict, now: datetime) -> int:
    """Raise the stopping alert for each crossed rule and a review alert for each new cluster; returns how many
    alerts were raised now (0 when everything was already raised)."""
    tz = config["TIMEZONE"]
    cut = datacut.load(db, rulebook.study, as_of=now, cutoff=local_date(now, tz), tz=tz, with_labs=False)
    raised = 0
    for rule in rulebook.stopping.rules:
        pos = position(rule, cut.participants, cut.aes, now, tz)
        if not pos.crossed:
            continue
        c = pos.crossing
        message = (f"Stopping boundary crossed: {rule.title}. {c.x} of {c.n} participants evaluated had a counted "
                   f"event; {_criteria(rule)} reached {c.posterior:.3f} with AE {c.ae_id} of {c.subject_id} "
                   f"(onset {c.on}). Pause injections and refer to the DSMB. Now: {pos.x} of {pos.n}, "
                   f"posterior {pos.posterior:.3f}.")
        site = next((p["site"] for p in cut.participants if p["subject_id"] == c.subject_id), None)
        # critical: the highest priority (alerts.SEVERITIES); mail is queued by the alerts' ON_RAISED hooks
        if alerts.raise_alert(db, key=f"stopping:{rule.id}", kind="stopping_rule", severity="critical",
                              message=message, now=now, subject_id=c.subject_id, site=site, rule=rule.id,
                              ref_entity="adverse_event", ref_id=c.ae_id):
            raised += 1
    for cl in find_clusters(rulebook.stopping.clusters, cut.participants, cut.aes, now, tz):
        message = (f"Cluster for review: {cl.term} in {len(cl.participants)} participants with onsets "
                   f"{cl.first_onset} to {cl.last_onset} ({', '.join(cl.participants)}).")
        if alerts.raise_alert(db, key=cl.key, kind="cluster", severity="medium", message=message, now=now,
                              rule="clusters", ref_entity="adverse_event", ref_id=cl.ae_ids[0]):
            raised += 1
    return raised


def _on_ae_changed(db: Database, ae: dict, now: datetime) -> None:
    """Recompute at once when a saved AE could count (serious or grade >= 3), inside that save's transaction.

    Needs the app (rules, time zone), so it runs for saves made through the web app and API; the scheduled job
    and `safety check` cover the rest. A failure here is logged and left to the next scheduled run: it must never
    undo the AE save that triggered it (the savepoint drops whatever the failed recompute wrote).
    """
    if not (ae.get("serious") or (ae.get("grade") or 0) >= 3):
        return
    from flask import current_app, has_app_context  # only here: jobs run without Flask

    if not has_app_context():
        return
    try:
        with atomic(db):
            check_signals(db, current_app.extensions["rulebook"], current_app.config, now)
    except Exception:  # noqa: BLE001 - see the docstring: the AE save must stand; the job retries
        log.exception("stopping-rule recompute after AE %s failed", ae.get("id"))


adverse_events.ON_CHANGED.append(_on_ae_changed)
JOBS.append(Job("signals", check_signals, "interval", {"minutes": 15}))
