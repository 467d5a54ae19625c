"""The trial's efficacy question: change from baseline at each follow-up visit, and eGFR slopes.

Pure functions over lab rows as dicts (subject_id, analyte, value_si, collected_at, visit). Missing values are
listed by participant, never imputed: n is always the number of real pairs.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Iterable, Mapping

from ..clock import parse_datetime, to_utc
from . import stats

# analyte -> scale. UACR is log-normal, so its change is a ratio on the log scale (KDIGO 2012 albuminuria;
# NKF-FDA-EMA workshop, Levey et al. AJKD 2020;75:84: change in UACR expressed as a geometric mean ratio).
ANALYTES: dict[str, str] = {
    "egfr": "difference", "creatinine": "difference", "uacr": "ratio", "tnf_alpha": "difference", "il10": "difference",
}
LABELS = {"egfr": "eGFR (mL/min/1.73 m2)", "creatinine": "Serum creatinine (mg/dL)", "uacr": "UACR (mg/g)",
          "tnf_alpha": "TNF-alpha (pg/mL)", "il10": "IL-10 (pg/mL)"}
VISITS = ("M1", "M3", "M6", "M9", "M12")
# Schedule statuses (domain/study.visit_status) at which a visit's result is expected to exist
DUE_STATUSES = ("done", "overdue", "missed")


def _field(row: Mapping, key: str):
    try:
        return row[key]
    except KeyError:
        raise ValueError(f"lab row {row.get('id', row.get('subject_id', '?'))}: missing field {key!r}") from None


def _at(value) -> datetime:
    return parse_datetime(value) if isinstance(value, str) else to_utc(value)


def _value(row: Mapping) -> float:
    v = _field(row, "value_si")
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ValueError(f"lab row {row.get('id', row.get('subject_id'))}: value_si {v!r} is not a number") from None


def baselines_from_labs(rows: Iterable[Mapping], participants: Iterable[Mapping],
                        analytes: Iterable[str] = ANALYTES) -> dict[tuple[str, str], float]:
    """Baseline = the last value collected at or before the injection, per (subject_id, analyte).

    The usual definition of baseline as the last pre-dose value (CDISC ADaM IG ABLFL). A participant not yet
    injected has no baseline yet. Raises ValueError naming a row that lacks a field.
    """
    wanted = set(analytes)
    injected = {p["subject_id"]: _at(p["injection_at"]) for p in participants if p.get("injection_at")}
    best: dict[tuple[str, str], tuple[datetime, float]] = {}
    for r in rows:
        if _field(r, "analyte") not in wanted:
            continue
        sid = _field(r, "subject_id")
        at = _at(_field(r, "collected_at"))
        if sid not in injected or at > injected[sid]:
            continue
        key = (sid, r["analyte"])
        if key not in best or at >= best[key][0]:
            best[key] = (at, _value(r))
    return {k: v for k, (_, v) in best.items()}


def visit_values(rows: Iterable[Mapping], analytes: Iterable[str] = ANALYTES,
                 now: datetime | None = None) -> dict[tuple[str, str, str], float]:
    """The value per (subject_id, analyte, visit): the last collected at that visit (a repeat replaces a first
    draw that was rejected or haemolysed). Rows without a visit are unscheduled and left out.
    With ``now``, rows collected after it are left out (a past data cut-off stays reproducible).
    """
    wanted = set(analytes)
    best: dict[tuple[str, str, str], tuple[datetime, float]] = {}
    for r in rows:
        if _field(r, "analyte") not in wanted or not r.get("visit"):
            continue
        at = _at(_field(r, "collected_at"))
        if now is not None and at > now:
            continue
        key = (_field(r, "subject_id"), r["analyte"], r["visit"])
        if key not in best or at >= best[key][0]:
            best[key] = (at, _value(r))
    return {k: v for k, (_, v) in best.items()}


def expected_from_schedules(schedules: Mapping[str, Iterable[Mapping]]) -> dict[str, list[str]]:
    """visit -> participants whose visit is done or past its window (the foundation's schedule dicts)."""
    out: dict[str, list[str]] = {}
    for sid, visits in schedules.items():
        for v in visits:
            if v["status"] in DUE_STATUSES:
                out.setdefault(v["visit"], []).append(sid)
    return {k: sorted(v) for k, v in out.items()}


@dataclass(frozen=True)
class ChangeRow:
    analyte: str
    visit: str
    scale: str                      # "difference" (follow-up - baseline) or "ratio" (follow-up / baseline)
    n: int                          # pairs with both a baseline and a value at this visit
    estimate: float | None          # mean change, or geometric mean ratio
    low: float | None               # 95 % t interval (on the log scale, back-transformed, for ratios)
    high: float | None
    mean_baseline: float | None     # of the same n participants
    mean_follow_up: float | None
    wilcoxon_n: int                 # non-zero differences the test used
    wilcoxon_stat: float | None
    p_value: float | None           # Wilcoxon signed-rank, two-sided (on log ratios for ratios)
    missing: tuple[str, ...]        # expected at this visit but no value
    no_baseline: tuple[str, ...]    # a value at this visit but no baseline: not in n

    def as_dict(self) -> dict:
        return asdict(self)


def change_from_baseline(rows: Iterable[Mapping], baselines: Mapping[tuple[str, str], float],
                         expected: Mapping[str, Iterable[str]], *, analytes: Mapping[str, str] = ANALYTES,
                         visits: Iterable[str] = VISITS, now: datetime | None = None,
                         level: float = stats.LEVEL) -> list[ChangeRow]:
    """One row per (analyte, visit): n, mean change or geometric mean ratio, its interval and Wilcoxon p.

    Raises ValueError naming the participant when a ratio-scale value (UACR) is not positive.
    """
    values = visit_values(rows, analytes, now)
    out = []
    for analyte, scale in analytes.items():
        for visit in visits:
            present = sorted(sid for (sid, a, v) in values if a == analyte and v == visit)
            paired = [sid for sid in present if (sid, analyte) in baselines]
            base = [baselines[(sid, analyte)] for sid in paired]
            follow = [values[(sid, analyte, visit)] for sid in paired]
            missing = tuple(sorted(set(expected.get(visit, ())) - set(present)))
            no_base = tuple(sid for sid in present if (sid, analyte) not in baselines)
            if scale == "ratio":
                for sid, b, f in zip(paired, base, follow):
                    if not (b > 0 and f > 0):
                        raise ValueError(f"{analyte} of {sid}: baseline {b!r} and {visit} {f!r} must both be > 0 "
                                         "for a ratio on the log scale")
                m = stats.geometric_mean_ratio(base, follow, level)
                diffs = stats.log_ratios(base, follow)
            else:
                m = stats.mean_change(base, follow, level)
                diffs = [f - b for b, f in zip(base, follow)]
            w = stats.wilcoxon_signed_rank(diffs)
            mean = (lambda xs: sum(xs) / len(xs) if xs else None)
            out.append(ChangeRow(analyte, visit, scale, m.n, m.estimate, m.low, m.high, mean(base), mean(follow),
                                 w.n_nonzero, w.statistic, w.p_value, missing, no_base))
    return out


# --- eGFR slope before and after the injection ---------------------------------------------------

@dataclass(frozen=True)
class SlopeRow:
    subject_id: str
    n_before: int
    slope_before: float | None      # mL/min/1.73 m2 per year, from values before the injection
    n_after: int
    slope_after: float | None       # from values at or after the injection

    def as_dict(self) -> dict:
        return asdict(self)


def egfr_slopes(rows: Iterable[Mapping], participants: Iterable[Mapping],
                now: datetime | None = None) -> list[SlopeRow]:
    """Per injected participant, the OLS eGFR slope per year before and after the injection.

    A slope needs two values on different days; otherwise it is None and the count says why.
    """
    # eGFR slope (mL/min/1.73 m2/year) as a kidney-trial end point: Levey et al. AJKD 2020;75:84 (NKF-FDA-EMA)
    injected = {p["subject_id"]: _at(p["injection_at"]) for p in participants if p.get("injection_at")}
    series: dict[str, list[tuple[datetime, float]]] = {sid: [] for sid in injected}
    for r in rows:
        if _field(r, "analyte") != "egfr" or _field(r, "subject_id") not in injected:
            continue
        at = _at(_field(r, "collected_at"))
        if now is None or at <= now:
            series[r["subject_id"]].append((at, _value(r)))
    out = []
    for sid in sorted(series):
        inj = injected[sid]
        before = [(at, v) for at, v in series[sid] if at < inj]
        after = [(at, v) for at, v in series[sid] if at >= inj]

        def slope(points):
            years = [(at - inj).total_seconds() / (365.25 * 86400) for at, _ in points]
            days = {at.date() for at, _ in points}
            return stats.ols_slope(years, [v for _, v in points]) if len(days) >= 2 else None

        out.append(SlopeRow(sid, len(before), slope(before), len(after), slope(after)))
    return out


@dataclass(frozen=True)
class SlopeSummary:
    n: int                          # participants with both slopes
    mean_before: float | None
    mean_after: float | None
    difference: stats.MeanCI        # after - before, t interval
    wilcoxon: stats.WilcoxonResult


def slope_summary(slopes: Iterable[SlopeRow], level: float = stats.LEVEL) -> SlopeSummary:
    """Paired comparison of the slopes after vs before the injection, over participants with both."""
    both = [s for s in slopes if s.slope_before is not None and s.slope_after is not None]
    before = [s.slope_before for s in both]
    after = [s.slope_after for s in both]
    diff = stats.mean_change(before, after, level)
    return SlopeSummary(len(both), sum(before) / len(both) if both else None,
                        sum(after) / len(both) if both else None, diff,
                        stats.wilcoxon_signed_rank([a - b for b, a in zip(before, after)]))
