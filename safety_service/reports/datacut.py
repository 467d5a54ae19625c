"""One data cut: participants, visit schedules, AEs and lab results for a data cut-off, from one database snapshot.

Two instants, as in DSMB practice: the *cut-off* (clinical: injections, AE onsets, visits and samples up to the end
of that day count) and the *snapshot* (``held_at``: what the database held then; AEs as their version of that
moment). Data entered late for events before the cut-off is in a later snapshot, never silently in an old one:
the same (cut-off, snapshot) pair always gives the same numbers, which is what makes a report reproducible.
Everything the signal pages, the stopping check and the DSMB report compute starts from a ``DataCut``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from ..clock import iso, local_date, parse_datetime, to_utc
from ..domain.errors import InvalidInput
from ..domain.study import Study, schedule


@dataclass
class DataCut:
    as_of: datetime                 # aware UTC: the end of the cut-off (clinical events up to this instant)
    cutoff: date                    # the local calendar date of the cut-off
    tz: str
    participants: list[dict]
    schedules: dict[str, list[dict]]
    aes: list[dict]
    labs: list[dict]
    missing_sources: list[str] = field(default_factory=list)  # "adverse events" / "lab results" not installed yet
    held_at: datetime | None = None  # the database snapshot (default: as_of)


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


BEFORE_CUTOFF = ("is before the end of the cut-off day: a snapshot taken before the cut-off day ended cannot hold "
                 "that day's data. For a meeting on the cut-off day itself, choose today as the cut-off (data up "
                 "to the moment of the snapshot) or the day before")


def held_at_instant(text: str | None, now: datetime, as_of: datetime) -> datetime:
    """The snapshot instant from ``?held_at=`` (ISO 8601 with offset), default ``now``.

    Raises InvalidInput naming ``held_at`` when malformed, in the future or before the cut-off.
    """
    if not text:
        return to_utc(now)
    try:
        at = parse_datetime(text)
    except ValueError:
        raise InvalidInput({"held_at": "must be a date and time with a UTC offset (ISO 8601)"}) from None
    if at > now:
        raise InvalidInput({"held_at": "is in the future"})
    if at < as_of:
        raise InvalidInput({"held_at": BEFORE_CUTOFF})
    return at


def instants(cutoff_text: str | None, held_text: str | None, now: datetime, tz: str) -> tuple[datetime, date, datetime]:
    """(as_of, cut-off date, snapshot) from ``?cutoff=`` and ``?held_at=``: the pair every signal page is built from.

    A cut-off of today ends at the snapshot, not at ``now``: the link made this morning (cutoff=today,
    held_at=this morning) still reproduces this morning's view, and its PDF, later the same day.
    Raises InvalidInput naming ``cutoff`` or ``held_at``.
    """
    as_of, day = cutoff_instant(cutoff_text, now, tz)
    if held_text and day == local_date(now, tz):
        at = held_at_instant(held_text, now, datetime.min.replace(tzinfo=ZoneInfo("UTC")))
        if local_date(at, tz) < day:
            raise InvalidInput({"held_at": BEFORE_CUTOFF})
        return to_utc(at), day, to_utc(at)
    return as_of, day, held_at_instant(held_text, now, as_of)


def _created_by(row: dict, as_of: datetime) -> bool:
    created = row.get("created_at")
    return not created or parse_datetime(created) <= as_of


def _status_as_held(p: dict, cutoff: date, held_at: datetime, tz: str) -> dict:
    """A participant's status at the cut (issue 12): a status recorded after the snapshot, or dated after the
    cut-off, is not yet known; one that is gives ``off_study_at``, the end of its local day, where exposure ends."""
    on, recorded = p.get("status_on"), p.get("status_recorded_at")
    if p.get("status", "active") == "active" or not on:
        return p
    if date.fromisoformat(on) > cutoff or (recorded and parse_datetime(recorded) > held_at):
        return {**p, "status": "active", "status_on": None, "status_reason": None}
    end = datetime.combine(date.fromisoformat(on) + timedelta(days=1), time(0), tzinfo=ZoneInfo(tz))
    return {**p, "off_study_at": to_utc(end).isoformat()}


def _participants(db: Database, as_of: datetime) -> list[dict]:
    rows = db.query("SELECT * FROM participants ORDER BY subject_id")
    return [p for p in rows if _created_by(p, as_of)]


def _schedules(db: Database, people: list[dict], study: Study, tz: str, as_of: datetime,
               held_at: datetime) -> dict[str, list[dict]]:
    """Each participant's schedule on the cut-off day: visits done by then and recorded by the snapshot."""
    today = local_date(as_of, tz)
    recorded_by_then = _not_after(held_at)
    visits: dict[int, list[tuple]] = {}
    for pid, visit, visit_date, recorded_at in db.execute(  # one query for the cohort, not one per participant
            "SELECT participant_id, visit, visit_date, recorded_at FROM visits ORDER BY rowid"):
        visits.setdefault(pid, []).append((visit, visit_date, recorded_at))
    out = {}
    for p in people:
        done = {}
        for visit, visit_date, recorded_at in visits.get(p["id"], ()):
            if recorded_by_then(recorded_at) and date.fromisoformat(visit_date) <= today:
                done[visit] = date.fromisoformat(visit_date)
        injection = local_date(parse_datetime(p["injection_at"]), tz) if p["injection_at"] else None
        if injection and injection > today:
            injection = None
        ended = date.fromisoformat(p["status_on"]) if p.get("status", "active") != "active" and p.get("status_on") \
            else None
        out[p["subject_id"]] = [v.as_dict() for v in schedule(study, injection, done, today, ended)]
    return out


def _not_after(instant: datetime) -> Callable[[str], bool]:
    """Whether a stored instant (clock.iso: UTC, whole seconds) is at or before ``instant``: its text compared when
    it has the storage form (the same order as the instants: ``instant`` is truncated to its second as the stored
    one was), else parsed. ``instant`` is written out once for a whole table's rows."""
    text = iso(instant)

    def at_or_before(stored: str) -> bool:
        if len(stored) == 25 and stored.endswith("+00:00") and stored[10] == "T":
            return stored <= text
        return parse_datetime(stored) <= instant
    return at_or_before


def _at_or_before(stored: str, instant: datetime) -> bool:
    return _not_after(instant)(stored)


# JSON text of an AE version -> the decoded AE, for the versions of the last load. Content-addressed (a restored
# or rebuilt database can never be answered with another's data); the signal pages reload after every AE save,
# and decoding every AE again was half of their time.
_DECODED: dict[str, tuple[dict, tuple[str, ...]]] = {}
_DECODED_MAX = 50_000  # beyond this many AEs, decode without keeping them (a worker's memory stays bounded)


def _flat(value) -> bool:
    return isinstance(value, list) and all(x is None or isinstance(x, (str, int, float)) for x in value)


def _decoded(texts: list[str]) -> list[dict]:
    """Each text decoded, reusing the last load's decoding; every caller gets its own dicts and lists."""
    global _DECODED
    memo, kept = _DECODED, {}
    out = []
    for text in texts:
        found = memo.get(text)
        if found is None:
            ae = json.loads(text)
            found = (ae, tuple(k for k, v in ae.items() if isinstance(v, (list, dict))))
        kept[text] = found
        ae, nested = found
        copy = dict(ae)
        for k in nested:  # the seriousness criteria (a list of strings) copied, anything deeper decoded again
            copy[k] = list(ae[k]) if _flat(ae[k]) else json.loads(json.dumps(ae[k]))
        out.append(copy)
    _DECODED = kept if len(kept) <= _DECODED_MAX else {}
    return out


def _load_aes(db: Database, as_of: datetime) -> list[dict] | None:
    """Every AE as it stood at ``as_of`` (entered-in-error ones included: the analyses filter on ``status``).

    Each AE's content is its last version saved by then (ae_versions, written by domain/adverse_events.py with
    every create and amendment), so a later amendment does not change a past cut-off. None before the AE
    tables exist.
    """
    if not db["ae_versions"].exists():
        return None
    latest: dict[int, str] = {}
    saved_by_then = _not_after(as_of)
    for ae_id, data, changed_at in db.execute("SELECT ae_id, data, changed_at FROM ae_versions "
                                              "ORDER BY ae_id, version"):
        if saved_by_then(changed_at):
            latest[ae_id] = data
    return _decoded([latest[k] for k in sorted(latest)])


def _load_labs(db: Database, as_of: datetime, held_at: datetime) -> list[dict] | None:
    """Lab results collected by ``as_of`` and entered by ``held_at`` as dicts (id, subject_id, analyte, value_si, collected_at,
    visit), plus one "egfr" row per creatinine with its derived CKD-EPI 2021 eGFR (unless an eGFR was entered
    for the same sample). None before the labs table exists.
    """
    if not db["labs"].exists():
        return None
    out, direct = [], set()
    # A result entered in error is out of every cut made after it was marked (issue 12); a cut held before keeps it.
    found = [r for r in db.query("SELECT id, subject_id, analyte, value_si, egfr, collected_at, visit, entered_at, "
                                 "status, error_at FROM labs ORDER BY collected_at, id")
             if parse_datetime(r["collected_at"]) <= as_of and parse_datetime(r["entered_at"]) <= held_at
             and (r["status"] == "valid" or parse_datetime(r["error_at"]) > held_at)]
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
LAB_SOURCE: Callable[[Database, datetime, datetime], list[dict] | None] = _load_labs


def load(db: Database, study: Study, *, as_of: datetime, cutoff: date, tz: str,
         held_at: datetime | None = None, with_labs: bool = True) -> DataCut:
    """The data cut: clinical data up to ``as_of`` from the database as held at ``held_at`` (default ``as_of``).

    ``with_labs=False`` leaves the lab results out, for the stopping-rule check that runs inside every AE save.

    The domain functions then count injections, AE onsets and samples up to ``as_of``.
    """
    as_of = to_utc(as_of)
    held_at = to_utc(held_at) if held_at else as_of
    people = [_status_as_held(p, cutoff, held_at, tz) for p in _participants(db, held_at)]
    missing = []
    aes = AE_SOURCE(db, held_at)
    if aes is None:
        missing.append("adverse events")
        aes = []
    labs = LAB_SOURCE(db, as_of, held_at) if with_labs else []
    if labs is None:
        missing.append("lab results")
        labs = []
    known = {p["subject_id"] for p in people}
    aes = [a for a in aes if a["subject_id"] in known]
    labs = [r for r in labs if r["subject_id"] in known]
    return DataCut(as_of, cutoff, tz, people, _schedules(db, people, study, tz, as_of, held_at), aes, labs, missing,
                   held_at)
