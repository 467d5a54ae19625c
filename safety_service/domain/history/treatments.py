""""Treatment given" for an AE: the participant's con-meds linked to it (CIOMS I field 22, SDTM RELREC).

A link is not a record of its own: the AE's audit trail keeps the list before and after each change, so what
was linked when is never lost.
"""
from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from ...db import atomic
from .. import adverse_events, audit
from ..errors import InvalidInput
from . import conmeds, records


def for_ae(db: Database, ae_id: int) -> list[dict]:
    """The active con-meds linked to an AE, by sequence number."""
    return [records.public(conmeds.KIND, r) for r in db.query(
        "SELECT c.* FROM conmeds c JOIN ae_conmeds l ON l.conmed_id = c.id "
        "WHERE l.ae_id = ? AND c.status = 'active' ORDER BY c.seq", [int(ae_id)])]


def ae_ids_by_conmed(db: Database, subject_id: str) -> dict[int, list[int]]:
    """{conmed id: [AE ids]} for a participant (the participant page and the exports show both sides)."""
    out: dict[int, list[int]] = {}
    for r in db.query("SELECT l.conmed_id, l.ae_id FROM ae_conmeds l JOIN conmeds c ON c.id = l.conmed_id "
                      "WHERE c.subject_id = ? ORDER BY l.ae_id", [subject_id]):
        out.setdefault(r["conmed_id"], []).append(r["ae_id"])
    return out


def _ids(values) -> list[int]:
    out = []
    for v in values or []:
        text = str(v).strip()
        if not (text.isascii() and text.isdigit()):
            raise InvalidInput({"treatment_given": f"{v!r} is not a con-med id"})
        out.append(int(text))
    return sorted(set(out))


def set_for_ae(db: Database, ae_id: int, conmed_ids, *, actor: dict, now: datetime,
               reason: str | None = None) -> list[dict]:
    """Make the AE's treatment given exactly these con-meds (of the same participant, not entered in error).

    Returns the linked con-meds. Raises NotFound (AE not visible), InvalidInput (treatment_given), nothing written.
    """
    wanted = _ids(conmed_ids)
    with atomic(db):
        ae = adverse_events.get(db, ae_id, user=actor)
        valid = {r["id"]: r for r in db.query(
            "SELECT * FROM conmeds WHERE subject_id = ? AND status = 'active'", [ae["subject_id"]])}
        bad = [i for i in wanted if i not in valid]
        if bad:
            raise InvalidInput({"treatment_given": f"not an active con-med of {ae['subject_id']}: "
                                                   f"{', '.join(map(str, bad))}"})
        before = [c["id"] for c in for_ae(db, ae["id"])]
        if before == wanted:
            return for_ae(db, ae["id"])
        name = {i: records.display_id(conmeds.KIND, r) for i, r in valid.items()}
        for r in db.query("SELECT c.id, c.subject_id, c.seq FROM conmeds c JOIN ae_conmeds l ON l.conmed_id = c.id "
                          "WHERE l.ae_id = ?", [ae["id"]]):
            name.setdefault(r["id"], records.display_id(conmeds.KIND, r))
        for i in set(before) - set(wanted):
            db.execute("DELETE FROM ae_conmeds WHERE ae_id = ? AND conmed_id = ?", [ae["id"], i])
        for i in set(wanted) - set(before):
            db.execute("INSERT INTO ae_conmeds (ae_id, conmed_id) VALUES (?, ?)", [ae["id"], i])
        audit.record(db, actor=actor["email"], action="treatment_given", entity=adverse_events.ENTITY,
                     entity_id=ae["id"], at=now, reason=reason,
                     changes={"treatment_given": ([name[i] for i in before], [name[i] for i in wanted])})
        return for_ae(db, ae["id"])


def create_ae_with(db: Database, create, conmed_ids, *, actor: dict, now: datetime) -> dict:
    """The AE form's save: ``create()`` (the AE module's create) and the AE's treatment given commit together,
    so an AE is never stored with half of what the nurse ticked. Raises what either raises; nothing written."""
    with atomic(db):
        ae = create()
        if conmed_ids:
            set_for_ae(db, ae["id"], conmed_ids, actor=actor, now=now)
    return ae
