"""SUSAR or possible SUSAR: a serious related AE is a SUSAR only once someone has assessed it as unexpected.

Expectedness not yet assessed (``expected`` NULL) is a *possible* SUSAR: shown as "possible SUSAR: assess
expectedness", with the conservative 7/15-day clock running (ICH E2A III.A; clocks.py), and listed in the safety
officer's inbox as an alert until it is assessed. It is never shown or exported as a settled SUSAR.
"""
from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from .. import alerts

POSSIBLE_KIND = "possible_susar"
SYSTEM = {"email": "system", "role": "system"}


def status(ae: dict) -> str | None:
    """'susar' (serious, related, assessed unexpected), 'possible' (expectedness not yet assessed) or None.

    ICH E2A II.A/III.A: expedited reporting concerns serious, unexpected adverse drug reactions.
    """
    if not (ae.get("serious") and ae.get("related")) or ae.get("status", "active") != "active":
        return None
    if ae.get("expected") is False:
        return "susar"
    return "possible" if ae.get("expected") is None else None


def label(ae: dict) -> str | None:
    """The words the pages use."""
    return {"susar": "SUSAR", "possible": "possible SUSAR: assess expectedness"}.get(status(ae) or "")


def key(ae_id: int) -> str:
    return f"{POSSIBLE_KIND}:{ae_id}"


def follow(db: Database, ae: dict, now: datetime, *, actor: str = "system") -> dict | None:
    """Raise the "assess expectedness" alert for a possible SUSAR (once: unique key), or resolve it once the AE is
    assessed, withdrawn or no longer serious and related. Call inside the AE change's transaction."""
    if status(ae) == "possible":
        return alerts.raise_alert(
            db, key=key(ae["id"]), kind=POSSIBLE_KIND, severity="high", now=now, subject_id=ae["subject_id"],
            site=ae["site"], rule="possible_susar", ref_entity="adverse_event", ref_id=ae["id"], actor=actor,
            message=(f"Possible SUSAR {ae['subject_id']}-AE{ae['seq']}: {ae['term']} grade {ae['grade']}, serious and "
                     "related, expectedness not yet assessed. Assess expectedness (the 7/15-day expedited clock "
                     "runs until then, ICH E2A)."))
    for a in db.query("SELECT id FROM alerts WHERE key = ? AND status != 'resolved'", [key(ae["id"])]):
        outcome = {"susar": "assessed as unexpected: a SUSAR", None: "no longer a possible SUSAR"}[status(ae)]
        alerts.resolve(db, a["id"], user=SYSTEM, now=now,
                       comment=f"expectedness assessed or event changed ({outcome}; version {ae['version']})")
    return None
