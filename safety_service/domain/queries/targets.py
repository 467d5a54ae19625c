"""What a query can be raised on: an AE, a lab result, a visit or a participant, and the fields of each.

``resolve`` turns (entity, entity_id, field) into the record's subject, site and one readable name, or says
which part is wrong. A record outside the user's site is NotFound, as everywhere (no hint that it exists).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from ...db import row
from ..errors import NotFound
from ..permissions import may_see_site

ENTITIES = ("ae", "lab", "visit", "participant")
# The fields a query may name, per record kind ("any field" of the AE: what is entered and what is derived).
FIELDS: dict[str, tuple[str, ...]] = {
    "ae": ("term", "verbatim", "grade", "onset", "onset_time", "end_date", "serious", "seriousness",
           "relatedness_product", "relatedness_procedure", "expected", "action_taken", "other_action", "outcome",
           "description", "awareness_at", "onset_day", "end_day", "phase", "treatment_emergent", "related"),
    "lab": ("analyte", "value", "unit", "collected_at", "visit", "uln", "lln"),
    "visit": ("visit_date",),
    "participant": ("sex", "birth_date", "weight_kg", "consent_on", "enrolled_on", "injection_at", "status"),
}


@dataclass(frozen=True)
class Target:
    entity: str
    entity_id: str
    subject_id: str
    site: str
    label: str  # what people read: S01-003-AE2, S01-003 creatinine result 12, S01-003 visit M3, S01-003

    @property
    def path(self) -> str:
        """The page that shows the record (relative to the service's base URL)."""
        if self.entity == "ae":
            return f"/ae/{self.entity_id}"
        if self.entity == "lab":
            return f"/labs/{self.entity_id}"
        return f"/participants/{self.subject_id}#queries"


def _ae(db: Database, entity_id: str) -> Target | None:
    from ..adverse_events import display_id

    if not entity_id.isascii() or not entity_id.isdigit():
        return None
    r = row(db, "SELECT id, subject_id, site, seq FROM adverse_events WHERE id = ?", (int(entity_id),))
    return r and Target("ae", str(r["id"]), r["subject_id"], r["site"], display_id(r))


def _lab(db: Database, entity_id: str) -> Target | None:
    if not entity_id.isascii() or not entity_id.isdigit():
        return None
    r = row(db, "SELECT id, subject_id, site, analyte FROM labs WHERE id = ?", (int(entity_id),))
    # named by its id (as on the lab page), not by a date: a stored UTC date could be the wrong local day
    return r and Target("lab", str(r["id"]), r["subject_id"], r["site"],
                        f"{r['subject_id']} {r['analyte']} result {r['id']}")


def _visit(db: Database, entity_id: str, visit_codes: tuple[str, ...]) -> Target | None:
    subject_id, _, code = entity_id.rpartition(":")
    if code not in visit_codes:
        return None
    p = row(db, "SELECT subject_id, site FROM participants WHERE subject_id = ?", (subject_id,))
    return p and Target("visit", f"{p['subject_id']}:{code}", p["subject_id"], p["site"],
                        f"{p['subject_id']} visit {code}")


def _participant(db: Database, entity_id: str) -> Target | None:
    p = row(db, "SELECT subject_id, site FROM participants WHERE subject_id = ?", (entity_id,))
    return p and Target("participant", p["subject_id"], p["subject_id"], p["site"], p["subject_id"])


def find(db: Database, entity: str, entity_id, *, visit_codes: tuple[str, ...], user: dict | None) -> Target:
    """The record a query is on. Raises NotFound when it does not exist or is at a site the user may not see.

    ``entity_id``: the AE or lab id, the subject ID, or ``<subject_id>:<visit code>`` for a visit.
    """
    text = str(entity_id if entity_id is not None else "").strip()
    found = None
    if entity == "ae":
        found = _ae(db, text)
    elif entity == "lab":
        found = _lab(db, text)
    elif entity == "visit":
        found = _visit(db, text, visit_codes)
    elif entity == "participant":
        found = _participant(db, text)
    if not found or (user is not None and not may_see_site(user, found.site)):
        raise NotFound(f"no {entity} {text}")
    return found
