"""The audit trail as people read it: one row per change (its fields together), the record named as on its page.

The trail stores one entry per field (ICH E6(R2) 4.9.0 / 21 CFR 11.10(e): who, when, old and new value, why);
an amendment of five fields is five entries with the same instant, actor, action, record and reason. The browser
shows them as one change, names the record the way every page does (an AE is S01-003-AE2, never its row id) and
links to it. ``resolve_record`` reads that name back, so the filter accepts what people see.
"""
from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Iterable
from urllib.parse import urlencode

from sqlite_utils import Database

from ..db import row
from .adverse_events import display_id
from .units import ANALYTES

AE_NAME = re.compile(r"^\s*(S\d{2}-\d{3})-AE(\d+)\s*$", re.IGNORECASE)
SAME_CHANGE = ("at", "actor", "action", "entity", "entity_id", "reason")


def group_changes(entries: Iterable[dict]) -> list[dict]:
    """Consecutive entries of one change -> one dict with ``fields``: [{"field", "old_value", "new_value"}]."""
    out: list[dict] = []
    for e in entries:
        last = out[-1] if out else None
        if last and all(last[k] == e[k] for k in SAME_CHANGE):
            last["ids"].append(e["id"])
        else:
            last = {**{k: e[k] for k in SAME_CHANGE}, "id": e["id"], "ids": [e["id"]], "fields": []}
            out.append(last)
        if e.get("field"):
            last["fields"].append({"field": e["field"], "old_value": e["old_value"], "new_value": e["new_value"]})
    return out


def resolve_record(db: Database, text: str | None) -> tuple[str, str] | None:
    """"S01-003-AE2" -> ("adverse_event", "46"); None when the text is not an AE name or names no AE."""
    m = AE_NAME.match(text or "")
    if not m:
        return None
    found = row(db, "SELECT id FROM adverse_events WHERE subject_id = ? AND seq = ?", (m.group(1).upper(), int(m.group(2))))
    return ("adverse_event", str(found["id"])) if found else None


def record_names(db: Database, changes: list[dict]) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(entity, entity_id) -> (name people read, path of its page or None), for the records in ``changes``."""
    wanted = {(c["entity"], str(c["entity_id"])) for c in changes if c["entity_id"] is not None}
    out: dict[tuple[str, str], tuple[str, str | None]] = {}
    ae_ids = [int(i) for e, i in wanted if e == "adverse_event" and i.isdigit()]
    if ae_ids:
        marks = ",".join("?" * len(ae_ids))
        for ae in db.query(f"SELECT id, subject_id, seq FROM adverse_events WHERE id IN ({marks})", ae_ids):
            out[("adverse_event", str(ae["id"]))] = (display_id(ae), f"/ae/{ae['id']}")
    lab_ids = [int(i) for e, i in wanted if e == "lab" and i.isdigit()]
    if lab_ids:
        marks = ",".join("?" * len(lab_ids))
        for lab in db.query(f"SELECT l.id, l.analyte, l.collected_at, p.subject_id FROM labs l"
                            f" JOIN participants p ON p.id = l.participant_id WHERE l.id IN ({marks})", lab_ids):
            # the participant's lab list filtered to that analyte around that day (a day either side: local dates)
            day = date.fromisoformat(lab["collected_at"][:10])
            query = urlencode({"lab_analyte": lab["analyte"], "lab_from": (day - timedelta(days=1)).isoformat(),
                               "lab_to": (day + timedelta(days=1)).isoformat()})
            out[("lab", str(lab["id"]))] = (f"{lab['subject_id']} {ANALYTES[lab['analyte']].label} of {day.isoformat()}"
                                            if lab["analyte"] in ANALYTES else f"{lab['subject_id']} lab result {lab['id']}",
                                            f"/participants/{lab['subject_id']}?{query}#labs")
    for entity, i in wanted:
        if (entity, i) in out:
            continue
        if entity == "participant":
            out[(entity, i)] = (i, f"/participants/{i}")
        elif entity == "alert":
            out[(entity, i)] = (f"Alert {i}", f"/alerts/{i}")
        elif entity == "outbox":
            out[(entity, i)] = (f"Mail {i}", f"/outbox/{i}")
        else:
            out[(entity, i)] = (i, None)
    return out


def alert_targets(db: Database, alerts: list[dict]) -> dict[int, tuple[str, str]]:
    """alert id -> (name, path) of the AE, lab result or visit behind it (alerts carry ref_entity/ref_id).

    An overdue-visit alert refers to its participant; the visit is the last part of its key (overdue:S01-003:M1).
    """
    refs = [{"entity": a["ref_entity"], "entity_id": a["ref_id"]} for a in alerts if a.get("ref_entity") and a.get("ref_id")]
    names = record_names(db, refs)
    out = {}
    for a in alerts:
        target = names.get((a.get("ref_entity"), str(a.get("ref_id"))))
        if not target or not target[1]:
            continue
        if a["ref_entity"] == "participant" and a["kind"] == "visit_overdue" and a["key"].count(":") >= 2:
            visit = a["key"].rsplit(":", 1)[1]
            target = (f"{a['ref_id']} visit {visit}", f"/participants/{a['ref_id']}#visit-{visit}")
        out[a["id"]] = target
    return out
