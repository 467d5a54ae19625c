"""One data cut: participants, visit schedules, AEs and lab results as the database held them at a cut-off.

Everything the signal pages, the stopping check and the DSMB report compute starts from a ``DataCut``, so they
agree with each other and a past cut-off gives the same numbers again (rows created, visits recorded and labs
collected after the cut-off are left out).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from ..clock import local_date, parse_datetime, to_utc
from ..domain.errors import InvalidInput
from ..domain.study import Study, schedule


@dataclass
class DataCut:
    as_of: datetime                 # aware UTC: the instant of the cut-off
    cutoff: date                    # the local calendar date it belongs to
    tz: str
    participants: list[dict]
    schedules: dict[str, list[dict]]
    aes: list[dict]
    labs: list[dict]
    missing_sources: list[str] = field(default_factory=list)  # "adverse events" / "lab results" not installed yet


def cutoff_instant(text: str | None, now: datetime, tz: str) -> tuple[datetime, date]:
    """The cut-off as (instant, local date): the end of the given local day, or ``now`` for today or no date.

    Raises InvalidInput naming ``cutoff`` for a malformed or future date.
    """
    today = local_date(now, tz)
    if not text:
        return to_utc(now), today
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput({"cutoff": "must be a date YYYY-MM-DD"}) from None
    if day > today:
        raise InvalidInput({"cutoff": f"is after today ({today.isoformat()}): a cut-off cannot be in the future"})
    if day == today:
        return to_utc(now), today
    # the last second of that local day (a DST-safe way: midnight of the next local day, minus one second)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(tz)) - timedelta(seconds=1)
    return to_utc(end), day


def _created_by(row: dict, as_of: datetime) -> bool:
    created = row.get("created_at")
    return not created or parse_datetime(created) <= as_of


def _participants(db: Database, as_of: datetime) -> list[dict]:
    rows = db.query("SELECT * FROM participants ORDER BY subject_id")
    return [p for p in rows if _created_by(p, as_of)]


def _schedules(db: Database, people: list[dict], study: Study, tz: str, as_of: datetime) -> dict[str, list[dict]]:
    """Each participant's schedule as it stood at the cut-off: only visits recorded by then count as done."""
    today = local_date(as_of, tz)
    out = {}
    for p in people:
        done = {}
        for v in db.query("SELECT visit, visit_date, recorded_at FROM visits WHERE participant_id = ?", [p["id"]]):
            if parse_datetime(v["recorded_at"]) <= as_of:
                done[v["visit"]] = date.fromisoformat(v["visit_date"])
        injection = local_date(parse_datetime(p["injection_at"]), tz) if p["injection_at"] else None
        if injection and injection > today:
            injection = None
        out[p["subject_id"]] = [v.as_dict() for v in schedule(study, injection, done, today)]
    return out


def _load_aes(db: Database, as_of: datetime) -> list[dict] | None:
    """Every AE as it stood at ``as_of`` (entered-in-error ones included: the analyses filter on ``status``).

    Each AE's content is its last version saved by then (ae_versions, written by domain/adverse_events.py with
    every create and amendment), so a later amendment does not change a past cut-off. None before the AE
    tables exist.
    """
    if not db["ae_versions"].exists():
        return None
    latest: dict[int, dict] = {}
    for v in db.query("SELECT ae_id, version, data, changed_at FROM ae_versions ORDER BY ae_id, version"):
        if parse_datetime(v["changed_at"]) <= as_of:
            latest[v["ae_id"]] = json.loads(v["data"])
    return [latest[k] for k in sorted(latest)]


def _load_labs(db: Database, as_of: datetime) -> list[dict] | None:
    """Lab results collected and entered by ``as_of`` as dicts (id, subject_id, analyte, value_si, collected_at,
    visit), plus one "egfr" row per creatinine with its derived CKD-EPI 2021 eGFR (unless an eGFR was entered
    for the same sample). None before the labs table exists.
    """
    if not db["labs"].exists():
        return None
    out, direct = [], set()
    found = [r for r in db.query("SELECT id, subject_id, analyte, value_si, egfr, collected_at, visit, entered_at "
                                 "FROM labs ORDER BY collected_at, id")
             if parse_datetime(r["collected_at"]) <= as_of and parse_datetime(r["entered_at"]) <= as_of]
    for r in found:
        if r["analyte"] == "egfr":
            direct.add((r["subject_id"], r["collected_at"]))
    for r in found:
        out.append({k: r[k] for k in ("id", "subject_id", "analyte", "value_si", "collected_at", "visit")})
        if r["analyte"] == "creatinine" and r["egfr"] is not None and (r["subject_id"], r["collected_at"]) not in direct:
            out.append({"id": r["id"], "subject_id": r["subject_id"], "analyte": "egfr", "value_si": r["egfr"],
                        "collected_at": r["collected_at"], "visit": r["visit"]})
    return out


# The sources, replaceable in one place.
AE_SOURCE: Callable[[Database, datetime], list[dict] | None] = _load_aes
LAB_SOURCE: Callable[[Database, datetime], list[dict] | None] = _load_labs


def load(db: Database, study: Study, *, as_of: datetime, cutoff: date, tz: str) -> DataCut:
    """The data cut at ``as_of``: what the database held then (AEs as their version of that moment)."""
    as_of = to_utc(as_of)
    people = _participants(db, as_of)
    missing = []
    aes = AE_SOURCE(db, as_of)
    if aes is None:
        missing.append("adverse events")
        aes = []
    labs = LAB_SOURCE(db, as_of)
    if labs is None:
        missing.append("lab results")
        labs = []
    known = {p["subject_id"] for p in people}
    aes = [a for a in aes if a["subject_id"] in known]
    labs = [r for r in labs if r["subject_id"] in known]
    return DataCut(as_of, cutoff, tz, people, _schedules(db, people, study, tz, as_of), aes, labs, missing)
