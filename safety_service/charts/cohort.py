"""What the safety officer's dashboard shows, computed from participants, schedules, eGFR rows and AEs.

Pure functions (no Flask, no database, ``now``/``today`` as parameters) that turn the other areas' records into
the charts' inputs. Baselines and visit values come from domain/change_from_baseline (never recomputed here).
"""
from __future__ import annotations

import statistics
from datetime import date, datetime
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from ..clock import local_date, parse_datetime
from ..domain import change_from_baseline as cfb
from ..domain.study import ScheduledVisit, Study, study_day
from .compliance import VisitCompliance
from .spaghetti import MedianPoint, Trajectory
from .swimmer import SwimLane, SwimMark


def percent_change(value: float, baseline: float) -> float:
    """(value - baseline) / baseline x 100, exact to 2 decimals, so 70 % of baseline is exactly -30.0.

    Raises ValueError for a baseline <= 0 (no percent change from nothing).
    """
    if baseline <= 0:
        raise ValueError(f"baseline {baseline!r} must be above 0 for a percent change")
    v, b = Decimal(repr(float(value))), Decimal(repr(float(baseline)))
    return float(((v - b) / b * 100).quantize(Decimal("0.01")))


def _injection_day(p: Mapping, tz: str) -> date | None:
    return local_date(parse_datetime(p["injection_at"]), tz) if p.get("injection_at") else None


def _at(value) -> datetime:
    return parse_datetime(value) if isinstance(value, str) else value


def egfr_baselines(participants: Sequence[Mapping], egfr_rows: Sequence[Mapping]) -> dict[tuple[str, str], float]:
    """(subject_id, "egfr") -> baseline: the last value at or before the injection (change_from_baseline, ADaM
    ABLFL). Computed once per page and passed to the two functions below."""
    return cfb.baselines_from_labs(egfr_rows, participants, ["egfr"])


def egfr_trajectories(participants: Sequence[Mapping], egfr_rows: Sequence[Mapping], tz: str,
                      now: datetime, baselines: Mapping[tuple[str, str], float] | None = None) -> list[Trajectory]:
    """Per injected participant with a baseline: the percent change of every later value collected by ``now``."""
    baselines = egfr_baselines(participants, egfr_rows) if baselines is None else baselines
    injected = {p["subject_id"]: (parse_datetime(p["injection_at"]), _injection_day(p, tz))
                for p in participants if p.get("injection_at")}
    points: dict[str, list[tuple[int, float]]] = {}
    for r in egfr_rows:
        sid = r["subject_id"]
        if r["analyte"] != "egfr" or sid not in injected or (sid, "egfr") not in baselines:
            continue
        (injected_at, injection_day), at = injected[sid], _at(r["collected_at"])
        if at <= injected_at or at > now:
            continue
        day = study_day(local_date(at, tz), injection_day)
        points.setdefault(sid, []).append((day, percent_change(r["value_si"], baselines[(sid, "egfr")])))
    out = []
    for sid in sorted(points):
        pts = tuple(sorted(points[sid]))
        out.append(Trajectory(sid, pts, min(v for _, v in pts)))
    return out


def egfr_medians(participants: Sequence[Mapping], egfr_rows: Sequence[Mapping], study: Study,
                 now: datetime, baselines: Mapping[tuple[str, str], float] | None = None) -> list[MedianPoint]:
    """The median percent change at each scheduled visit, over participants with a baseline and a value at it.

    The x position is the visit's target study day (target = injection day + ``day`` days, so study day day+1).
    """
    baselines = egfr_baselines(participants, egfr_rows) if baselines is None else baselines
    values = cfb.visit_values(egfr_rows, ["egfr"], now)
    out = []
    for v in study.visits:
        changes = [percent_change(val, baselines[(sid, "egfr")]) for (sid, a, visit), val in sorted(values.items())
                   if visit == v.code and (sid, "egfr") in baselines]
        if changes:
            out.append(MedianPoint(v.code, v.day + 1, float(statistics.median(changes)), len(changes)))
    return out


def visit_compliance(schedules: Mapping[str, Sequence[ScheduledVisit]], study: Study) -> list[VisitCompliance]:
    """Per scheduled visit: done inside its window (both ends included, as visit_status), done outside it,
    overdue, missed, and not yet due (upcoming or open: the window has not closed)."""
    out = []
    for v in study.visits:
        counts = dict(in_window=0, late=0, overdue=0, missed=0, upcoming=0)
        for sched in schedules.values():
            for s in sched:
                if s.visit != v.code:
                    continue
                if s.status == "done":
                    inside = s.visit_date is not None and s.window_start <= s.visit_date <= s.window_end
                    counts["in_window" if inside else "late"] += 1
                elif s.status in ("overdue", "missed"):
                    counts[s.status] += 1
                else:
                    counts["upcoming"] += 1
        out.append(VisitCompliance(v.code, v.label, **counts))
    return out


def overdue_visits(schedules: Mapping[str, Sequence[ScheduledVisit]]) -> list[dict]:
    """Every overdue visit (window closed, not recorded, not yet missed), the longest overdue first."""
    out = [{"subject_id": sid, **s.as_dict()} for sid, sched in schedules.items() for s in sched
           if s.status == "overdue"]
    return sorted(out, key=lambda d: (d["window_end"], d["subject_id"]))


def swimmer_lanes(participants: Sequence[Mapping], aes: Iterable[Mapping], tz: str, now: datetime) -> list[SwimLane]:
    """A lane per injected participant: study days reached by today, and the active AEs with onset after the
    injection (study day >= 1); AEs entered in error are left out."""
    today = local_date(now, tz)
    by_subject: dict[str, list[SwimMark]] = {}
    for ae in aes:
        if ae.get("status", "active") != "entered_in_error" and ae.get("onset_day") is not None \
                and ae["onset_day"] >= 1:
            by_subject.setdefault(ae["subject_id"], []).append(
                SwimMark(int(ae["onset_day"]), int(ae["grade"]), bool(ae["serious"]), ae["term"]))
    lanes = []
    for p in participants:
        inj = _injection_day(p, tz)
        if inj is None:
            continue
        # A participant who left the study (issue 12: withdrawn, lost, died, completed) is followed up to that day.
        last = min(today, date.fromisoformat(p["status_on"])) if p.get("status", "active") != "active" \
            and p.get("status_on") else today
        lanes.append(SwimLane(p["subject_id"], max(study_day(last, inj), 1), p.get("status", "active"),
                              tuple(by_subject.get(p["subject_id"], ()))))
    return lanes


def sae_clock_status(clocks: Iterable[Mapping], now: datetime) -> list[dict]:
    """The open SAE report clocks (domain/checks.open_sae_clocks: serious, active, report not sent), each with
    ``overdue`` once report_due_at has passed (24 hours from awareness: ICH E6(R2) 4.11.1, the protocol's SAE timeline) and
    the hours left; soonest due first."""
    out = []
    for ae in clocks:
        due = parse_datetime(ae["report_due_at"])
        out.append({**ae, "overdue": due < now, "hours_left": round((due - now).total_seconds() / 3600, 1)})
    return sorted(out, key=lambda a: a["report_due_at"])
