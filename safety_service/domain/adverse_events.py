"""Adverse events stored: create, amend (reason, new version), entered in error, SAE sign-off, report sent, list.

Every change writes the AE row, its version snapshot, its audit entries and any alert in one transaction
(``atomic``): nothing half-saved, nothing unaudited. Validation and derivations are ae_rules'; this module decides
who may change what, keeps the versions and raises the alerts.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from ..clock import iso, local_text, parse_datetime
from ..db import atomic, row, rows
from . import alerts, audit, participants, users
from .ae_rules import DERIVED, ENTERED, Subject, evaluate
from .ctcae import Catalogue
from .errors import Conflict, Forbidden, InvalidInput, NotFound, require
from .permissions import may_see_site, site_scope
from .sae import susar
from .study import Study

ENTITY = "adverse_event"
# 21 CFR 11.50(a)(3): the meaning of the investigator's electronic signature on an SAE.
SIGNATURE_MEANING = "review and approval"
BOOLS = ("serious", "related", "treatment_emergent", "susar")
# Fields an amendment compares and audits (what a person enters plus what follows from it).
CONTENT = ("term", "meddra_code", "soc", "verbatim", "grade", "onset", "onset_time", "end_date", "serious",
           "seriousness", "relatedness_product", "relatedness_procedure", "expected", "action_taken",
           "other_action", "outcome", "description", "awareness_at", "onset_day", "end_day", "phase",
           "treatment_emergent", "related", "report_due_at", "susar", "expedited_due_at")
COLUMNS = ("id", "subject_id", "site", "seq", "term", "meddra_code", "soc", "ctcae_version", "verbatim", "grade",
           "serious", "seriousness", "relatedness_product", "relatedness_procedure", "related", "expected",
           "action_taken", "other_action", "outcome", "onset", "onset_time", "end_date", "onset_day", "end_day",
           "phase", "treatment_emergent", "awareness_at", "report_due_at", "expedited_due_at", "susar", "status",
           "version", "description", "created_at", "created_by", "updated_at", "updated_by", "signed_off_at",
           "signed_off_by", "signed_off_version", "report_sent_at", "report_sent_by")
_SELECTED = ", ".join(COLUMNS)
# Called inside the transaction of every create, amendment and entered-in-error with (db, ae, now), e.g. to
# recompute the stopping rule at the save that may cross it (jobs/signals.py).
ON_CHANGED: list[Callable[[Database, dict, datetime], None]] = []
LIST_FILTERS = ("subject_id", "site", "serious", "min_grade", "phase", "related", "from", "to")


# ---------------------------------------------------------------------------------------------------- reading

def display_id(ae: dict) -> str:
    """The one name people read for an AE, everywhere (pages, mail, audit filter, CIOMS, queries): S01-003-AE2."""
    return f"{ae['subject_id']}-AE{ae['seq']}"


def _to_dict(r: dict) -> dict:
    """A stored row as the AE dict the domain, the API and the exports share."""
    return _shaped({k: r.get(k) for k in COLUMNS}, {})


def _shaped(out: dict, criteria: dict[str, list]) -> dict:
    """The stored columns as the AE dict: booleans, the criteria list (``criteria`` keeps each distinct JSON text
    parsed once for a whole list), the SUSAR status."""
    for k in BOOLS:
        out[k] = bool(out[k])
    out["expected"] = None if out["expected"] is None else bool(out["expected"])
    raw = out["seriousness"] or "[]"
    if raw not in criteria:
        criteria[raw] = json.loads(raw)
    out["seriousness"] = list(criteria[raw])  # each AE its own list
    # A SUSAR is settled only when assessed unexpected (ICH E2A II.A); rows saved before this rule stored
    # susar = 1 for "not yet assessed" too, so it is read from expected, not trusted as stored.
    out["susar"] = out["susar"] and out["expected"] is False
    out["susar_status"] = susar.status(out)
    return out


def _row(db: Database, ae_id) -> dict | None:
    try:
        ae_id = int(ae_id)
    except (TypeError, ValueError):
        return None
    return row(db, "SELECT * FROM adverse_events WHERE id = ?", (ae_id,))


def get(db: Database, ae_id: int, *, user: dict | None) -> dict:
    """One AE the user may see. Raises NotFound otherwise (no hint that another site's AE exists)."""
    r = _row(db, ae_id)
    if r is None or (user is not None and not may_see_site(user, r["site"])):
        raise NotFound(f"no adverse event {ae_id}")
    return _to_dict(r)


def _parse_filters(filters: dict) -> dict:
    """Typed filters, or InvalidInput naming each bad one."""
    errors, out = {}, {}
    unknown = [k for k in filters if k not in LIST_FILTERS]
    for k in unknown:
        errors[k] = "unknown filter; allowed: " + ", ".join(LIST_FILTERS)
    for k in ("subject_id", "site"):
        if filters.get(k) not in (None, ""):
            out[k] = str(filters[k]).strip()
    for k in ("serious", "related"):
        v = filters.get(k)
        if v in (None, ""):
            continue
        low = str(v).strip().lower()
        if isinstance(v, bool) or low in ("true", "false", "1", "0", "yes", "no"):
            out[k] = v if isinstance(v, bool) else low in ("true", "1", "yes")
        else:
            errors[k] = "must be true or false"
    if filters.get("min_grade") not in (None, ""):
        try:
            g = int(str(filters["min_grade"]).strip())
            if not 1 <= g <= 5:
                raise ValueError
            out["min_grade"] = g
        except ValueError:
            errors["min_grade"] = "must be a whole number from 1 to 5"
    if filters.get("phase") not in (None, ""):
        if filters["phase"] not in ("early", "late"):
            errors["phase"] = "must be early or late"
        else:
            out["phase"] = filters["phase"]
    for k in ("from", "to"):
        if filters.get(k) not in (None, ""):
            try:
                out[k] = date.fromisoformat(str(filters[k]).strip()).isoformat()
            except ValueError:
                errors[k] = "must be a date YYYY-MM-DD"
    if "from" in out and "to" in out and out["from"] > out["to"]:
        errors["to"] = "is before from"
    require(errors)
    return out


def list_aes(db: Database, user: dict | None, filters: dict | None = None, *,
             include_entered_in_error: bool = False) -> list[dict]:
    """The AEs the user may see, by subject and sequence number, filtered (``from``/``to`` bound the onset date).

    ``user`` None means no site scope (jobs, exports run by the system). Raises InvalidInput for a bad filter.
    """
    f = _parse_filters(filters or {})
    clauses, params = [], []
    if not include_entered_in_error:
        clauses.append("status = 'active'")
    scope = site_scope(user)
    if scope:
        clauses.append("site = ?")
        params.append(scope)
    for key, sql in (("subject_id", "subject_id = ?"), ("site", "site = ?"), ("serious", "serious = ?"),
                     ("related", "related = ?"), ("min_grade", "grade >= ?"), ("phase", "phase = ?"),
                     ("from", "onset >= ?"), ("to", "onset <= ?")):
        if key in f:
            clauses.append(sql)
            params.append(int(f[key]) if isinstance(f[key], bool) else f[key])
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    criteria: dict[str, list] = {}
    return [_shaped(dict(zip(COLUMNS, values)), criteria)
            for values in db.execute(f"SELECT {_SELECTED} FROM adverse_events {where} ORDER BY subject_id, seq", params)]


def chart_marks(db: Database, user: dict | None) -> list[dict]:
    """The active AEs the user may see, as the five fields a cohort chart draws (subject_id, onset_day, grade,
    serious, term): the dashboard redraws after every AE save, so it does not shape every column of every AE."""
    scope = site_scope(user)
    cur = db.execute("SELECT subject_id, onset_day, grade, serious, term FROM adverse_events WHERE status = 'active'"
                     + (" AND site = ?" if scope else "") + " ORDER BY subject_id, seq", [scope] if scope else [])
    return [{"subject_id": s, "onset_day": d, "grade": g, "serious": bool(x), "term": t} for s, d, g, x, t in cur]


def all_for_analysis(db: Database) -> Iterable[dict]:
    """Every AE, entered-in-error ones included (the analyses filter on ``status``), unscoped."""
    criteria: dict[str, list] = {}
    for values in db.execute(f"SELECT {_SELECTED} FROM adverse_events ORDER BY subject_id, seq"):
        yield _shaped(dict(zip(COLUMNS, values)), criteria)


def versions(db: Database, ae_id: int, *, user: dict | None) -> list[dict]:
    """Every version of an AE, oldest first: {version, data, reason, changed_at, changed_by, changes}.

    ``changes`` lists (field, old, new) against the version before, so the history shows what each amendment did.
    """
    get(db, ae_id, user=user)
    out, prev = [], None
    for v in rows(db, "SELECT * FROM ae_versions WHERE ae_id = ? ORDER BY version", (int(ae_id),)):
        data = json.loads(v["data"])
        changes = [] if prev is None else [
            (k, prev.get(k), data.get(k)) for k in (*CONTENT, "status")
            if audit.as_text(prev.get(k)) != audit.as_text(data.get(k))]
        out.append({**v, "data": data, "changes": changes})
        prev = data
    return out


def workflow(db: Database, ae_id: int, *, user: dict | None) -> list[dict]:
    """The AE's sign-off and report-sent audit entries (the signature's name, date and meaning), oldest first."""
    get(db, ae_id, user=user)
    return [e for e in audit.history(db, ENTITY, ae_id)
            if e["action"] in ("e_signature", "e_signature_failed", "report_sent", "sae_report_sent")]


# ---------------------------------------------------------------------------------------------------- writing

def _subject_for(db: Database, subject_id, actor: dict) -> tuple[dict | None, dict]:
    """The participant the actor may record for, or an error for the subject_id field."""
    sid = str(subject_id or "").strip()
    if not sid:
        return None, {"subject_id": "required"}
    try:
        return participants.get(db, sid, user=actor), {}
    except NotFound:
        return None, {"subject_id": f"no participant {sid} at a site you may record for"}


def _evaluate(db, payload: dict, p: dict | None, errors: dict, *, catalogue, study, tz, now) -> dict:
    """ae_rules.evaluate, with the participant's own errors merged in so every field is named at once."""
    subject = Subject.from_participant(p) if p else Subject(consent_on=date.min, injection_at=None)
    try:
        result = evaluate({k: v for k, v in payload.items() if k != "subject_id"}, catalogue=catalogue,
                          subject=subject, tz=tz, now=now, boundary_days=study.early_late_boundary_days)
    except InvalidInput as e:
        raise InvalidInput({**e.fields, **errors}) from None
    require(errors)
    return result


def _stored(fields: dict) -> dict:
    """AE fields in their column form (JSON list, 0/1)."""
    out = dict(fields)
    out["seriousness"] = json.dumps(fields.get("seriousness") or [])
    for k in BOOLS:
        if k in out:
            out[k] = int(bool(out[k]))
    if out.get("expected") is not None:
        out["expected"] = int(bool(out["expected"]))
    return out


def _snapshot(db: Database, ae_id: int, reason: str | None, actor: str, now: datetime) -> dict:
    ae = _to_dict(_row(db, ae_id))
    db["ae_versions"].insert({"ae_id": ae_id, "version": ae["version"], "data": json.dumps(ae, sort_keys=True),
                              "reason": reason, "changed_at": iso(now), "changed_by": actor})
    return ae


def _local(at: str | None, tz) -> str:
    return local_text(at, tz)


def _raise_alerts(db: Database, ae: dict, before: dict | None, *, actor: str, tz, now: datetime) -> list[dict]:
    """An alert as soon as an AE is saved serious (once per AE) or at grade >= 3 (once per grade reached), and
    the "assess expectedness" alert of a possible SUSAR (raised once, resolved when assessed: sae/susar.py).

    Protocol: an SAE or a severe AE is seen by the safety officer at once, not at the next review.
    """
    raised = [susar.follow(db, ae, now, actor=actor)]
    label = f"{display_id(ae)}: {ae['term']} grade {ae['grade']}"
    if ae["serious"] and not (before and before["serious"]):
        due = f"; report to the sponsor due {_local(ae['report_due_at'], tz)}" if ae["report_due_at"] else ""
        settled = susar.label(ae)
        expedited = f"; {settled}, expedited report due {_local(ae['expedited_due_at'], tz)}" if settled else ""
        raised.append(alerts.raise_alert(
            db, key=f"sae:{ae['id']}", kind="sae", severity="critical", now=now, subject_id=ae["subject_id"],
            site=ae["site"], rule="ae.serious", ref_entity=ENTITY, ref_id=ae["id"], actor=actor,
            message=f"SAE {label} ({', '.join(c.replace('_', ' ') for c in ae['seriousness'])}){due}{expedited}"))
    elif not ae["serious"] and ae["grade"] >= 3 and (before is None or ae["grade"] > before["grade"]):
        raised.append(alerts.raise_alert(
            db, key=f"ae-grade:{ae['id']}:{ae['grade']}", kind="ae_severe",
            severity="critical" if ae["grade"] >= 4 else "high", now=now, subject_id=ae["subject_id"],
            site=ae["site"], rule="ae.grade>=3", ref_entity=ENTITY, ref_id=ae["id"], actor=actor,
            message=f"Severe AE {label} (CTCAE v5.0)"))
    return [a for a in raised if a]


def create(db: Database, data: dict, *, catalogue: Catalogue, study: Study, tz: str, actor: dict,
           now: datetime) -> dict:
    """Record a new AE for a participant of the actor's site.

    Raises InvalidInput naming every bad field (subject_id included); nothing is written unless all pass.
    """
    p, errors = _subject_for(db, data.get("subject_id"), actor)
    fields = _evaluate(db, data, p, errors, catalogue=catalogue, study=study, tz=tz, now=now)
    with atomic(db):
        seq = db.execute("SELECT coalesce(max(seq), 0) + 1 FROM adverse_events WHERE subject_id = ?",
                         [p["subject_id"]]).fetchone()[0]
        record = _stored({**fields, "participant_id": p["id"], "subject_id": p["subject_id"], "site": p["site"],
                          "seq": seq, "ctcae_version": catalogue.version, "status": "active", "version": 1,
                          "created_at": iso(now), "created_by": actor["email"], "updated_at": iso(now),
                          "updated_by": actor["email"]})
        ae_id = db["adverse_events"].insert(record).last_pk
        ae = _snapshot(db, ae_id, None, actor["email"], now)
        audit.record(db, actor=actor["email"], action="create", entity=ENTITY, entity_id=ae_id, at=now,
                     changes={k: (None, ae[k]) for k in ("subject_id", "seq", *CONTENT, "ctcae_version")
                              if ae[k] not in (None, [], "")})
        _raise_alerts(db, ae, None, actor=actor["email"], tz=tz, now=now)
        _changed(db, ae, now)
    return ae


def _changed(db: Database, ae: dict, now: datetime) -> None:
    for hook in ON_CHANGED:
        hook(db, ae, now)


def _editable(db: Database, ae_id, actor: dict) -> dict:
    ae = get(db, ae_id, user=actor)
    if ae["status"] != "active":
        raise Conflict(f"adverse event {ae['id']} was entered in error and can no longer change")
    return ae


def _reason(reason) -> str:
    text = str(reason or "").strip()
    if not text:
        raise InvalidInput({"reason": "required: say why the AE changes (21 CFR 11.10(e))"})
    return text


def _check_version(ae: dict, expected) -> None:
    if expected in (None, ""):
        return
    try:
        expected = int(expected)
    except (TypeError, ValueError):
        raise InvalidInput({"version": "must be a whole number"}) from None
    if expected != ae["version"]:
        raise Conflict(f"adverse event {ae['id']} changed meanwhile (now version {ae['version']}, you edited "
                       f"version {expected}): reload it and amend again")


def amend(db: Database, ae_id: int, changes: dict, *, reason: str, catalogue: Catalogue, study: Study, tz: str,
          actor: dict, now: datetime, expected_version: int | None = None) -> dict:
    """Change an AE: a new version with the reason; the old version stays in ae_versions and the audit trail.

    ``changes`` holds only the fields that change. When the AE becomes serious without a new ``awareness_at``,
    the site learned of its seriousness now, so the 24-hour clock starts now (ICH E6(R2) 4.11.1).
    Raises InvalidInput (fields, reason, nothing changed), NotFound, Conflict (entered in error, stale version).
    """
    errors = {}
    if not str(reason or "").strip():
        errors["reason"] = "required: say why the AE changes (21 CFR 11.10(e))"
    for key in changes:
        if key == "subject_id":
            errors[key] = "cannot change: mark this AE entered in error and record it for the right participant"
        elif key in DERIVED:
            errors[key] = "is derived by the service and cannot be entered"
        elif key not in ENTERED:
            errors[key] = "unknown field"
    with atomic(db):
        ae = _editable(db, ae_id, actor)
        _check_version(ae, expected_version)
        p = participants.get(db, ae["subject_id"], user=None)
        merged = {k: ae[k] for k in ENTERED if k != "subject_id"}
        merged.update({k: v for k, v in changes.items() if k in ENTERED and k != "subject_id"})
        becomes_serious = not ae["serious"] and str(merged.get("serious")).lower() in ("true", "1", "on", "yes")
        if becomes_serious and "awareness_at" not in changes:
            merged["awareness_at"] = iso(now)
        fields = _evaluate(db, merged, p, errors, catalogue=catalogue, study=study, tz=tz, now=now)
        diff = audit.changes_between(ae, fields, CONTENT)
        if not diff:
            raise InvalidInput({"changes": "nothing would change"})
        text = _reason(reason)
        update = _stored({k: fields[k] for k in CONTENT})
        update.update(version=ae["version"] + 1, updated_at=iso(now), updated_by=actor["email"],
                      ctcae_version=catalogue.version)
        if ae["signed_off_at"]:
            # The signature belongs to the version signed; the amended SAE needs the investigator again.
            update.update(signed_off_at=None, signed_off_by=None)
            diff["signed_off_at"] = (ae["signed_off_at"], None)
        db["adverse_events"].update(ae["id"], update)
        new = _snapshot(db, ae["id"], text, actor["email"], now)
        audit.record(db, actor=actor["email"], action="amend", entity=ENTITY, entity_id=ae["id"], at=now,
                     changes={**diff, "version": (ae["version"], new["version"])}, reason=text)
        _raise_alerts(db, new, ae, actor=actor["email"], tz=tz, now=now)
        _changed(db, new, now)
    return new


def mark_entered_in_error(db: Database, ae_id: int, *, reason: str, actor: dict, now: datetime,
                          expected_version: int | None = None) -> dict:
    """Withdraw an AE recorded by mistake: kept, shown struck through, left out of analyses; never deleted.

    Raises InvalidInput (reason), NotFound, Conflict (already entered in error, stale version).
    """
    text = _reason(reason)
    with atomic(db):
        ae = _editable(db, ae_id, actor)
        _check_version(ae, expected_version)
        db["adverse_events"].update(ae["id"], {"status": "entered_in_error", "version": ae["version"] + 1,
                                               "updated_at": iso(now), "updated_by": actor["email"]})
        new = _snapshot(db, ae["id"], text, actor["email"], now)
        audit.record(db, actor=actor["email"], action="entered_in_error", entity=ENTITY, entity_id=ae["id"], at=now,
                     changes={"status": ("active", "entered_in_error"), "version": (ae["version"], new["version"])},
                     reason=text)
        susar.follow(db, new, now, actor=actor["email"])
        _changed(db, new, now)
    return new


def sign_off(db: Database, ae_id: int, *, password: str, actor: dict, now: datetime) -> dict:
    """The investigator's electronic signature on an SAE: password re-entered, recorded with name, date and
    meaning "review and approval" (21 CFR 11.50, 11.200(a)).

    Raises Forbidden (not an investigator), NotFound, Conflict (not serious, entered in error, already signed),
    InvalidInput (password). A wrong password is audited as a failed signature attempt.
    """
    if actor.get("role") != "investigator":
        raise Forbidden("only an investigator signs off an SAE")
    ae = _editable(db, ae_id, actor)
    if not ae["serious"]:
        raise Conflict(f"adverse event {ae['id']} is not serious: only SAEs are signed off")
    if ae["signed_off_at"]:
        raise Conflict(f"version {ae['signed_off_version']} of adverse event {ae['id']} is already signed off")
    account = users.get(db, actor["id"])
    if not password:
        raise InvalidInput({"password": "required: re-enter your password to sign"})
    # verify_signature counts a wrong password toward the account lockout, as a sign-in (21 CFR 11.300(d)).
    signed = account is not None and account["active"] and users.verify_signature(
        db, account["id"], password, now=now, meaning="SAE sign-off")
    if not signed:
        audit.record(db, actor=actor["email"], action="e_signature_failed", entity=ENTITY, entity_id=ae["id"],
                     at=now, reason="password did not match")
        raise InvalidInput({"password": "does not match your account: the SAE is not signed"})
    with atomic(db):
        current = _editable(db, ae_id, actor)
        if current["version"] != ae["version"] or current["signed_off_at"]:
            raise Conflict(f"adverse event {ae['id']} changed while signing: review it again")
        db["adverse_events"].update(ae["id"], {"signed_off_at": iso(now), "signed_off_by": actor["email"],
                                               "signed_off_version": ae["version"]})
        audit.record(db, actor=actor["email"], action="e_signature", entity=ENTITY, entity_id=ae["id"], at=now,
                     changes={"signed_off_at": (None, iso(now)), "signed_off_by": (None, actor["email"]),
                              "signer_name": (None, account["name"]), "signature_meaning": (None, SIGNATURE_MEANING),
                              "signed_off_version": (None, ae["version"])},
                     reason=SIGNATURE_MEANING)
    return get(db, ae["id"], user=actor)


def record_report_sent(db: Database, ae_id: int, *, actor: dict, now: datetime, tz: str,
                       sent_at: str | datetime | None = None) -> dict:
    """Record when the initial SAE report went to the sponsor: report 0 of the series (sae/reports.py), which
    stops the 24-hour clock (ICH E6(R2) 4.11.1).

    ``sent_at`` defaults to now; one without an offset is the site's local time. Raises InvalidInput (sent_at),
    NotFound, Conflict (not serious, entered in error, already recorded).
    """
    from .sae import reports  # the series builds on this module

    reports.record(db, ae_id, {"kind": "initial", "sent_at": sent_at, "recipient": "sponsor"}, actor=actor, tz=tz,
                   now=now)
    return get(db, ae_id, user=actor)


# ---------------------------------------------------------------------------------------------------- timeline

def timeline(db: Database, p: dict, schedule, *, user: dict | None, tz: str) -> list[dict]:
    """The participant's events newest first: the injection, visits done or due, and AEs (entered-in-error ones
    included, marked). Each item: kind, date (YYYY-MM-DD), title, and the AE or visit."""
    items = []
    if p.get("injection_at"):
        local = parse_datetime(p["injection_at"]).astimezone(ZoneInfo(tz))
        items.append({"kind": "injection", "date": local.date().isoformat(), "sort": local.strftime("%Y-%m-%dT%H:%M"),
                      "time": local.strftime("%H:%M"), "title": "UC-MSC intra-renal injection"})
    for v in schedule:
        when = v.visit_date or v.due_on
        items.append({"kind": "visit", "date": when.isoformat(), "sort": when.isoformat(), "title": v.label,
                      "visit": v.as_dict()})
    for ae in list_aes(db, user, {"subject_id": p["subject_id"]}, include_entered_in_error=True):
        items.append({"kind": "ae", "date": ae["onset"], "sort": f"{ae['onset']}T{ae['onset_time'] or '00:00'}",
                      "title": ae["term"], "ae": ae})
    # Newest first; on the same day an AE comes before the visit and the injection it followed.
    rank = {"ae": 2, "visit": 1, "injection": 0}
    items.sort(key=lambda i: (i["sort"][:10], rank[i["kind"]], i["sort"]), reverse=True)
    return items


__all__ = ["create", "amend", "mark_entered_in_error", "sign_off", "record_report_sent", "get", "list_aes",
           "all_for_analysis", "versions", "workflow", "timeline", "SIGNATURE_MEANING"]
