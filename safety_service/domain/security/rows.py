"""Current rows against their audit trail: an AE or lab row edited around the service (``UPDATE adverse_events
SET grade=5`` in SQLite) no longer matches the last value the trail recorded for it (21 CFR 11.10(e)).

Compared: the fields the service audits when it creates and changes the row (adverse_events.create/amend,
entered in error, e-signature, report sent; labs.store's one "result" entry and a lab's status). A field not
audited at creation was empty then (create audits only non-empty values), or holds its column default.
"""
from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from .. import audit

# signed_off_by is left out: an amendment clears it together with signed_off_at but audits only the latter.
AE_FIELDS = ("subject_id", "seq", "term", "meddra_code", "soc", "verbatim", "grade", "onset", "onset_time",
             "end_date", "serious", "seriousness", "relatedness_product", "relatedness_procedure", "expected",
             "action_taken", "other_action", "outcome", "description", "awareness_at", "onset_day", "end_day",
             "phase", "treatment_emergent", "related", "report_due_at", "susar", "expedited_due_at",
             "ctcae_version", "status", "version", "signed_off_at", "signed_off_version", "report_sent_at")
AE_DEFAULTS = {"status": "active", "version": 1}
# The lab corrections' columns, when the table has them: status always (default valid), its reason once audited.
LAB_STATUS_FIELDS = ("status",)
LAB_OPTIONAL = ("error_reason",)
LAB_DEFAULTS = {"status": "valid"}


def _empty(text: str | None) -> bool:
    return text in (None, "", "[]")


def _same(audited: str | None, current: Any) -> bool:
    now_text = audit.as_text(current)
    if _empty(audited) and _empty(now_text):
        return True
    if audited == now_text:
        return True
    try:  # 2 and 2.0 are the same stored number
        a, b = json.loads(audited), json.loads(now_text)
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and float(a) == float(b)
    except (TypeError, ValueError):
        return False


def _folded(db: Database, entity: str) -> dict[str, dict[str, str | None]]:
    """{entity_id: {field: last audited new value}}, lab "result" entries spread into their fields."""
    out: dict[str, dict[str, str | None]] = {}
    for entity_id, field, new in db.execute(
            "SELECT entity_id, field, new_value FROM audit_log WHERE entity = ? AND field IS NOT NULL ORDER BY id",
            [entity]):
        fields = out.setdefault(entity_id, {})
        if entity == "lab" and field == "result" and new:
            fields.update({k: audit.as_text(v) for k, v in json.loads(new).items()})
        else:
            fields[field] = new
    return out


def _difference(kind: str, name: str, fields, audited: dict | None, current: dict, defaults: dict,
                optional=()) -> str | None:
    if audited is None:
        return f"{kind} {name} has no audit entry (written around the service)"
    for f in (*fields, *(o for o in optional if o in audited)):
        if f not in current:
            continue
        expected = audited.get(f, audit.as_text(defaults.get(f)))
        if not _same(expected, current[f]):
            return (f"{kind} {name}: {f} is {audit.as_text(current[f])!r} in the table but {expected!r} in its last "
                    "audited version (changed around the service)")
    return None


def first_difference(db: Database) -> str | None:
    """The first AE or lab row (by id) that differs from its last audited version, described; None if none."""
    from ..adverse_events import _to_dict, display_id  # the AE as create/amend audited it (bools, lists)

    folded = _folded(db, "adverse_event")
    for r in db.query("SELECT * FROM adverse_events ORDER BY id"):
        found = _difference("adverse event", f"{display_id(r)} (id {r['id']})", AE_FIELDS,
                            folded.get(str(r["id"])), _to_dict(r), AE_DEFAULTS)
        if found:
            return found
    folded = _folded(db, "lab")
    from ..labs import AUDITED
    for r in db.query("SELECT * FROM labs ORDER BY id"):
        found = _difference("lab result", f"{r['subject_id']} {r['analyte']} (id {r['id']})",
                            (*AUDITED, *LAB_STATUS_FIELDS), folded.get(str(r["id"])), r, LAB_DEFAULTS,
                            LAB_OPTIONAL)
        if found:
            return found
    return None
