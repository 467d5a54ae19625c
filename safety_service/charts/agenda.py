"""The nurse's home list: what is due today and this week at her site, from the participants' schedules.

Pure: schedules are the foundation's ScheduledVisit lists (status derived from dates and ``today``), so the
home page and the participant page can never disagree about a visit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Mapping, Sequence

from sqlite_utils import Database

from ..clock import local_date, parse_datetime
from ..domain import participants
from ..domain.study import ScheduledVisit, Study, study_day


@dataclass(frozen=True)
class Due:
    subject_id: str
    site: str
    visit: ScheduledVisit
    note: str                     # "overdue by 3 days", "window closes today", "window opens in 2 days"
    urgent: bool                  # overdue, or the window closes within 2 days


@dataclass(frozen=True)
class Agenda:
    today: list[Due]              # can be done today: overdue, or the window is open
    week: list[Due]               # the window opens within the next ``soon_days`` days
    participants: list[dict]      # the site's participants with their study day and next visit
    soon_days: int = 7
    missed: list[Due] = ()        # past the window and its grace: to record late or to document as missed


def _days(n: int) -> str:
    return f"{n} day{'s' if n != 1 else ''}"


def agenda(participants: Sequence[Mapping], schedules: Mapping[str, Sequence[ScheduledVisit]], today: date,
           soon_days: int, injection_days: Mapping[str, date | None]) -> Agenda:
    """Sort each participant's visits into today's and this week's lists; ``soon_days`` is the study's
    opening_soon_days. Missed visits (long past the window) are listed apart: still the nurse's to record late
    or to document, not mixed with what can be done today."""
    now_list, week, listing, missed = [], [], [], []
    for p in participants:
        sid = p["subject_id"]
        sched = schedules.get(sid, ())
        for v in sched:
            if v.status == "overdue":
                late = (today - v.window_end).days
                now_list.append(Due(sid, p["site"], v, f"overdue by {_days(late)}", True))
            elif v.status == "open":
                left = (v.window_end - today).days
                note = "window closes today" if left == 0 else f"window closes in {_days(left)}"
                now_list.append(Due(sid, p["site"], v, note, left <= 2))
            elif v.status == "missed":
                missed.append(Due(sid, p["site"], v, f"window closed {_days((today - v.window_end).days)} ago", False))
            elif v.status == "upcoming" and 0 < (v.window_start - today).days <= soon_days:
                opens = (v.window_start - today).days
                week.append(Due(sid, p["site"], v, f"window opens in {_days(opens)}", False))
        nxt = next((v for v in sched if v.status not in ("done", "missed", "not_expected")), None)
        inj = injection_days.get(sid)
        listing.append({**p, "study_day": study_day(today, inj) if inj else None, "next_visit": nxt})
    now_list.sort(key=lambda d: (d.visit.status != "overdue", d.visit.window_end, d.subject_id))
    week.sort(key=lambda d: (d.visit.window_start, d.subject_id))
    missed.sort(key=lambda d: (d.visit.window_end, d.subject_id))
    return Agenda(now_list, week, listing, soon_days, missed)


def for_user(db: Database, user: dict | None, *, study: Study, tz: str, now: datetime) -> Agenda:
    """The agenda of the participants the user may see (a nurse: her site), as of ``now`` in the site's zone."""
    people = participants.list_for(db, user)
    schedules = participants.schedules_for(db, people, study, tz, now)
    injected = {p["subject_id"]: local_date(parse_datetime(p["injection_at"]), tz) if p.get("injection_at") else None
                for p in people}
    return agenda(people, schedules, local_date(now, tz), study.opening_soon_days, injected)
