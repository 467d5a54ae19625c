"""The participant page's pictures: eGFR and UACR since the injection and the AE timeline, on one x range.

Pure: takes the participant, the lab series (dicts as the labs domain returns them, canonical units), the rule
breaches by lab id, the schedule and the AE dicts; returns Charts. Baselines come from change_from_baseline.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Mapping, Sequence

from ..clock import local_date, parse_datetime
from ..domain import change_from_baseline as cfb
from ..domain.study import ScheduledVisit, study_day
from .ae_timeline import AeMark, ae_timeline
from .lab_trend import LabPoint, VisitMark, egfr_reference_lines, lab_trend, uacr_reference_lines, x_extent
from .svg import Chart


def _day(when: datetime, injection: date, tz: str) -> int:
    return study_day(local_date(when, tz), injection)


def lab_points(rows: Sequence[Mapping], injection: date, tz: str,
               breaches: Mapping[int, Sequence[str]] | None = None) -> list[LabPoint]:
    """Rows with id, value_si, collected_at and visit become points on study days, with their breached rule ids."""
    breaches = breaches or {}
    out = []
    for r in rows:
        at = parse_datetime(r["collected_at"]) if isinstance(r["collected_at"], str) else r["collected_at"]
        out.append(LabPoint(_day(at, injection, tz), float(r["value_si"]), local_date(at, tz).isoformat(),
                            r.get("visit"), tuple(sorted(breaches.get(r.get("id"), ())))))
    return out


def visit_marks(schedule: Sequence[ScheduledVisit], injection: date) -> list[VisitMark]:
    return [VisitMark(study_day(s.due_on, injection), s.visit, s.status == "done") for s in schedule]


def ae_marks(aes: Sequence[Mapping]) -> list[AeMark]:
    """Active AEs (entered-in-error ones are not shown) as timeline marks."""
    return [AeMark(int(a["seq"]), a["term"], int(a["grade"]), bool(a["serious"]), int(a["onset_day"]),
                   None if a.get("end_day") is None else int(a["end_day"]), a["onset"], a.get("end_date"),
                   a.get("outcome") or "")
            for a in aes if a.get("status", "active") != "entered_in_error" and a.get("onset_day") is not None]


def participant_charts(p: Mapping, *, egfr_rows: Sequence[Mapping], uacr_rows: Sequence[Mapping],
                       breaches: Mapping[int, Sequence[str]], schedule: Sequence[ScheduledVisit],
                       aes: Sequence[Mapping], tz: str, now: datetime) -> dict[str, Chart] | None:
    """{"egfr", "uacr", "aes"} charts sharing one study-day range, or None before the injection (no day 1 yet)."""
    if not p.get("injection_at"):
        return None
    injection = local_date(parse_datetime(p["injection_at"]), tz)
    today = study_day(local_date(now, tz), injection)
    rows = [dict(r, subject_id=p["subject_id"], analyte=a) for a, series in (("egfr", egfr_rows), ("uacr", uacr_rows))
            for r in series]
    baselines = cfb.baselines_from_labs(rows, [p], ["egfr", "uacr"])
    egfr = lab_points(egfr_rows, injection, tz, breaches)
    uacr = lab_points(uacr_rows, injection, tz, breaches)
    visits = visit_marks(schedule, injection)
    marks = ae_marks(aes)
    span = x_extent(egfr + uacr, visits, today)
    span = (min([span[0]] + [m.onset_day - 3 for m in marks]), span[1])
    sid = p["subject_id"]
    return {
        "egfr": lab_trend("chart-egfr", title=f"{sid}: eGFR since the injection", analyte_label="eGFR",
                          unit="mL/min/1.73 m²", points=egfr,
                          reference=egfr_reference_lines(baselines.get((sid, "egfr"))), visits=visits,
                          x_range=span),
        "uacr": lab_trend("chart-uacr", title=f"{sid}: UACR since the injection", analyte_label="UACR",
                          unit="mg/g", points=uacr, reference=uacr_reference_lines(baselines.get((sid, "uacr"))),
                          visits=visits, x_range=span, log=all(pt.value > 0 for pt in uacr)),
        "aes": ae_timeline("chart-aes", marks, span, today, title=f"{sid}: adverse events by study day"),
    }
