"""Participants, their visit schedule and recorded visits."""
from __future__ import annotations

import re
from datetime import date, datetime

from sqlite_utils import Database

from ..clock import iso, local_date, parse_datetime
from ..db import atomic, row, rows
from . import audit
from .egfr import age_on
from .errors import InvalidInput, NotFound, require
from .permissions import may_see_site, site_scope
from .study import Study, schedule

FIELDS = ("subject_id", "site", "sex", "birth_date", "weight_kg", "consent_on", "enrolled_on", "injection_at")


def _date(value, field: str, errors: dict) -> date | None:
    if value in (None, ""):
        errors[field] = "is required"
        return None
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        errors[field] = "must be a date YYYY-MM-DD"
        return None


def validate(data: dict, study: Study, tz: str, now: datetime) -> dict:
    """The participant as stored, or InvalidInput naming every bad field."""
    errors: dict[str, str] = {}
    sid = str(data.get("subject_id") or "").strip()
    if not sid:
        errors["subject_id"] = "is required"
    elif not re.fullmatch(study.subject_id_pattern, sid):
        errors["subject_id"] = f"must match {study.subject_id_pattern} (e.g. S01-003)"
    site = str(data.get("site") or "").strip()
    if site not in study.site_codes:
        errors["site"] = f"must be one of {', '.join(study.site_codes)}"
    elif sid and not errors.get("subject_id") and not sid.startswith(site + "-"):
        errors["subject_id"] = f"must start with the site code {site}-"
    sex = str(data.get("sex") or "").strip().upper()
    if sex not in ("F", "M"):
        errors["sex"] = "must be F or M"
    birth = _date(data.get("birth_date"), "birth_date", errors)
    enrolled = _date(data.get("enrolled_on"), "enrolled_on", errors)
    consent = _date(data.get("consent_on") or data.get("enrolled_on"), "consent_on", errors)
    try:
        weight = float(data.get("weight_kg"))
        if not 30 <= weight <= 250:
            errors["weight_kg"] = "must be between 30 and 250 kg"
    except (TypeError, ValueError):
        weight = None
        errors["weight_kg"] = "must be a number (kg)"
    injection = None
    if data.get("injection_at") not in (None, ""):
        try:
            raw = data["injection_at"]
            injection = raw if isinstance(raw, datetime) else parse_datetime(str(raw), default_tz=tz)
        except ValueError:
            errors["injection_at"] = "must be a date and time (ISO 8601)"
    today = local_date(now, tz)
    if birth and consent and not errors.get("birth_date"):
        age = age_on(birth, consent) if birth <= consent else -1
        if not study.age_min <= age <= study.age_max:
            errors["birth_date"] = f"age at consent is {age}; the protocol enrols {study.age_min}-{study.age_max}"
    if consent and consent > today:
        errors["consent_on"] = "is in the future"
    if consent and enrolled and enrolled < consent:
        errors["enrolled_on"] = "is before consent"
    if injection and consent and local_date(injection, tz) < consent:
        errors["injection_at"] = "is before consent"
    if injection and injection > now:
        errors["injection_at"] = "is in the future"
    require(errors)
    return {"subject_id": sid, "site": site, "sex": sex, "birth_date": birth.isoformat(),
            "weight_kg": weight, "consent_on": consent.isoformat(), "enrolled_on": enrolled.isoformat(),
            "injection_at": iso(injection) if injection else None,
            # Dose per protocol: 1 x 10^6 cells per kg body weight.
            "dose_cells": weight * study.dose_cells_per_kg if injection else None}


def create(db: Database, data: dict, *, study: Study, tz: str, actor: dict, now: datetime) -> dict:
    """Enrol a participant. Raises InvalidInput (fields named) or Conflict if the subject id exists."""
    record = validate(data, study, tz, now)
    if not may_see_site(actor, record["site"]):
        raise InvalidInput({"site": "you may only enrol participants at your own site"})
    with atomic(db):
        if row(db, "SELECT 1 AS x FROM participants WHERE subject_id = ?", (record["subject_id"],)):
            raise InvalidInput({"subject_id": "already exists"})
        record.update(created_at=iso(now), created_by=actor["email"])
        db["participants"].insert(record)
        audit.record(db, actor=actor["email"], action="create", entity="participant", entity_id=record["subject_id"],
                     at=now, changes={k: (None, record[k]) for k in (*FIELDS, "dose_cells")})
    return get(db, record["subject_id"], user=actor)


def get(db: Database, subject_id: str, *, user: dict | None) -> dict:
    """One participant the user may see. Raises NotFound otherwise (not Forbidden: no hint it exists)."""
    p = row(db, "SELECT * FROM participants WHERE subject_id = ?", (subject_id,))
    if p is None or (user is not None and not may_see_site(user, p["site"])):
        raise NotFound(f"no participant {subject_id}")
    return p


def list_for(db: Database, user: dict | None, site: str | None = None) -> list[dict]:
    """Participants visible to the user, by subject id."""
    scope = site_scope(user)
    clauses, params = [], []
    for value in (scope, site):
        if value:
            clauses.append("site = ?")
            params.append(value)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return rows(db, f"SELECT * FROM participants {where} ORDER BY subject_id", params)


def done_visits(db: Database, participant_id: int) -> dict[str, date]:
    return {r["visit"]: date.fromisoformat(r["visit_date"])
            for r in db.query("SELECT visit, visit_date FROM visits WHERE participant_id = ?", [participant_id])}


def participant_schedule(db: Database, p: dict, study: Study, tz: str, now: datetime):
    injection = local_date(parse_datetime(p["injection_at"]), tz) if p["injection_at"] else None
    return schedule(study, injection, done_visits(db, p["id"]), local_date(now, tz), ended_on(p))


def schedules_for(db: Database, people: list[dict], study: Study, tz: str, now: datetime) -> dict[str, list]:
    """subject_id -> ``participant_schedule`` of each participant given, the recorded visits read in one query
    (a page listing the cohort makes one read, not one per participant)."""
    done: dict[int, dict[str, date]] = {}
    ids = [p["id"] for p in people]
    if len(ids) <= 500:
        found = db.execute(f"SELECT participant_id, visit, visit_date FROM visits WHERE participant_id IN "
                           f"({', '.join('?' * len(ids))})", ids) if ids else []
    else:  # most of the cohort: one scan rather than a long list of parameters
        found = db.execute("SELECT participant_id, visit, visit_date FROM visits")
    for pid, visit, on in found:
        done.setdefault(pid, {})[visit] = date.fromisoformat(on)
    today = local_date(now, tz)
    return {p["subject_id"]: schedule(study, local_date(parse_datetime(p["injection_at"]), tz)
                                      if p["injection_at"] else None, done.get(p["id"], {}), today, ended_on(p))
            for p in people}


def ended_on(p: dict) -> date | None:
    """The day a participant left the study (withdrawn, lost to follow-up, died, completed), or None if active."""
    if p.get("status", "active") == "active" or not p.get("status_on"):
        return None
    return date.fromisoformat(p["status_on"])


def with_schedule(db: Database, p: dict, study: Study, tz: str, now: datetime, sched: list | None = None) -> dict:
    """The participant as the API gives it, with its schedule (``sched`` if the caller read it already)."""
    out = dict(p)
    out.pop("id", None)
    out["schedule"] = [v.as_dict() for v in (participant_schedule(db, p, study, tz, now) if sched is None else sched)]
    return out


def record_visit(db: Database, subject_id: str, visit: str, visit_date, *, study: Study, tz: str, actor: dict,
                 now: datetime) -> dict:
    """Mark a visit done on a date. Raises NotFound, InvalidInput (visit, visit_date)."""
    p = get(db, subject_id, user=actor)
    errors: dict[str, str] = {}
    try:
        study.visit(visit)
    except KeyError:
        errors["visit"] = f"must be one of {', '.join(v.code for v in study.visits)}"
    when = _date(visit_date, "visit_date", errors)
    if when and when > local_date(now, tz):
        errors["visit_date"] = "is in the future"
    if when and p["injection_at"] and when <= local_date(parse_datetime(p["injection_at"]), tz):
        errors["visit_date"] = "is not after the injection"
    if not p["injection_at"]:
        errors["visit"] = "the participant has not been injected"
    require(errors)
    with atomic(db):
        existing = row(db, "SELECT * FROM visits WHERE participant_id = ? AND visit = ?", (p["id"], visit))
        if existing:
            raise InvalidInput({"visit": f"already recorded on {existing['visit_date']}"})
        db["visits"].insert({"participant_id": p["id"], "visit": visit, "visit_date": when.isoformat(),
                             "recorded_at": iso(now), "recorded_by": actor["email"]})
        audit.record(db, actor=actor["email"], action="visit", entity="participant", entity_id=subject_id, at=now,
                     changes={f"visit:{visit}": (None, when.isoformat())})
        # Issue 12: a visit recorded late resolves its overdue alert, with the reason.
        from .corrections import resolution
        resolution.resolve(db, resolution.open_alerts(db, "key = ?", [f"overdue:{subject_id}:{visit}"]), now=now,
                           actor=actor["email"], why=f"visit {visit} recorded late by {actor['email']}: done on "
                                                     f"{when.isoformat()}")
    return with_schedule(db, p, study, tz, now)
