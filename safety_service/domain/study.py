"""The study definition (rules/study.toml) and what follows from it: visit schedule, study day, reference ranges."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from ..rulefiles import StrictModel, load_toml


class Site(StrictModel):
    code: str = Field(min_length=1, max_length=20)
    name: str
    # Where the site is: the code for SDTM DM COUNTRY (ISO 3166-1 alpha-3, SDTMIG 3.4), the name for CIOMS I 1a.
    country: str = Field(pattern=r"^[A-Z]{3}$")
    country_name: str = Field(min_length=1)


class VisitDef(StrictModel):
    code: str = Field(min_length=1, max_length=10)
    label: str
    day: int = Field(gt=0)
    window_before: int = Field(ge=0)
    window_after: int = Field(ge=0)


class Range(StrictModel):
    lln: float | None = None
    uln: float | None = None

    @model_validator(mode="after")
    def _ordered(self):
        if self.lln is not None and self.uln is not None and self.lln > self.uln:
            raise ValueError("lln is above uln")
        return self


class ReferenceRange(Range):
    unit: str
    F: Range | None = None
    M: Range | None = None

    def for_sex(self, sex: str) -> Range:
        return getattr(self, sex, None) or Range(lln=self.lln, uln=self.uln)


class Study(StrictModel):
    study_id: str = Field(min_length=1, max_length=20)
    title: str
    dose_cells_per_kg: float = Field(gt=0)
    age_min: int = Field(ge=18)
    age_max: int
    subject_id_pattern: str
    early_late_boundary_days: int = Field(gt=0)
    missed_after_days: int = Field(ge=0)
    opening_soon_days: int = Field(ge=0)
    sites: list[Site] = Field(min_length=1)
    visits: list[VisitDef] = Field(min_length=1)
    reference_ranges: dict[str, ReferenceRange] = {}

    @field_validator("subject_id_pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"not a regular expression: {e}") from None
        return v

    @model_validator(mode="after")
    def _consistent(self):
        if self.age_max < self.age_min:
            raise ValueError("age_max is below age_min")
        codes = [v.code for v in self.visits]
        if len(set(codes)) != len(codes):
            raise ValueError("visit codes repeat")
        days = [v.day for v in self.visits]
        if days != sorted(days):
            raise ValueError("visits must be listed in order of their day")
        for a, b in zip(self.visits, self.visits[1:]):
            if a.day + a.window_after >= b.day - b.window_before:
                raise ValueError(f"windows of {a.code} and {b.code} overlap")
        if len({s.code for s in self.sites}) != len(self.sites):
            raise ValueError("site codes repeat")
        return self

    @property
    def site_codes(self) -> list[str]:
        return [s.code for s in self.sites]

    def visit(self, code: str) -> VisitDef:
        for v in self.visits:
            if v.code == code:
                return v
        raise KeyError(code)

    def reference_range(self, analyte: str, sex: str) -> Range | None:
        ref = self.reference_ranges.get(analyte)
        return ref.for_sex(sex) if ref else None


def load_study(path: Path) -> Study:
    """Raises RulesError naming the file, key and problem."""
    return load_toml(path, Study)


def study_day(event: date, injection: date) -> int:
    """Study day of a date: the injection day is day 1, the day before is -1 (CDISC SDTM IG 3.x --DY, no day 0)."""
    delta = (event - injection).days
    return delta + 1 if delta >= 0 else delta


@dataclass(frozen=True)
class ScheduledVisit:
    visit: str
    label: str
    due_on: date
    window_start: date
    window_end: date
    status: str
    visit_date: date | None = None

    def as_dict(self) -> dict:
        return {"visit": self.visit, "label": self.label, "due_on": self.due_on.isoformat(),
                "window_start": self.window_start.isoformat(), "window_end": self.window_end.isoformat(),
                "status": self.status, "visit_date": self.visit_date.isoformat() if self.visit_date else None}


def visit_status(window_start: date, window_end: date, done_on: date | None, today: date, missed_after_days: int) -> str:
    """upcoming before the window, open inside it (both ends included), overdue after it, missed once
    ``missed_after_days`` have passed since the window end; done as soon as a visit is recorded."""
    if done_on is not None:
        return "done"
    if today < window_start:
        return "upcoming"
    if today <= window_end:
        return "open"
    if (today - window_end).days > missed_after_days:
        return "missed"
    return "overdue"


def schedule(study: Study, injection_day: date | None, done: dict[str, date], today: date,
             ended_on: date | None = None) -> list[ScheduledVisit]:
    """The visit schedule of one participant, status derived from the dates and ``today`` (a local date).

    ``ended_on``: the day the participant left the study (withdrawn, lost to follow-up, died, completed). A visit
    not done whose window closed before it was missed; any later one is ``not_expected``: nothing is overdue after.
    """
    if injection_day is None:
        return []
    out = []
    for v in study.visits:
        # Target day counts days after the injection day (day 30 = injection date + 30 days).
        due = injection_day + timedelta(days=v.day)
        start, end = due - timedelta(days=v.window_before), due + timedelta(days=v.window_after)
        status = visit_status(start, end, done.get(v.code), today, study.missed_after_days)
        if ended_on is not None and status != "done":
            status = "missed" if end < ended_on else "not_expected"
        out.append(ScheduledVisit(v.code, v.label, due, start, end, status, done.get(v.code)))
    return out
