"""Safety signals other than the stopping rule: event rates with exact intervals, and clusters of one term.

Both are pure functions of (participants, AEs, now) so a page, a job and the DSMB report give the same numbers
for the same data cut-off. AEs count here when active (not entered in error), treatment-emergent and with onset
on or before the cut-off date (the database snapshot they come from is reports/datacut.py's business).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

from ..clock import parse_datetime, to_utc
from . import stats
from .stopping import RELATEDNESS, ClusterRule

# Exposure is counted in months of 365.25 / 12 days (the usual participant-month of exposure-adjusted rates)
DAYS_PER_MONTH = 365.25 / 12

CATEGORIES: tuple[tuple[str, str], ...] = (
    ("any", "Any AE"),
    ("related", "Related AE (possible, probable or definite)"),
    ("serious", "Serious AE"),
    ("grade3", "Grade 3 or worse AE"),
    ("early", "Early AE"),
    ("late", "Late AE"),
)


def _field(row: Mapping, key: str, what: str):
    try:
        return row[key]
    except KeyError:
        raise ValueError(f"{what} {row.get('id', row.get('subject_id', '?'))}: missing field {key!r}") from None


def _at(value) -> datetime:
    return parse_datetime(value) if isinstance(value, str) else to_utc(value)


def is_related(ae: Mapping) -> bool:
    """The AE's own ``related`` flag when present; else either relatedness at least "possible"."""
    if ae.get("related") is not None:
        return bool(ae["related"])
    levels = [ae.get("relatedness_product"), ae.get("relatedness_procedure")]
    return any(v in RELATEDNESS[2:] for v in levels)


def _in_category(key: str, ae: Mapping) -> bool:
    if key == "any":
        return True
    if key == "related":
        return is_related(ae)
    if key == "serious":
        return bool(_field(ae, "serious", "AE"))
    if key == "grade3":
        return int(_field(ae, "grade", "AE")) >= 3  # CTCAE v5.0: grade 3 severe, 4 life-threatening, 5 death
    return _field(ae, "phase", "AE") == key      # "early" / "late", as the AE service assigns them


def countable_aes(aes: Iterable[Mapping], injected: set[str], now: datetime, tz: ZoneInfo) -> list[Mapping]:
    """The AEs that count as of ``now``: active, treatment-emergent, of an injected participant, onset by now."""
    today = now.astimezone(tz).date()
    out = []
    for ae in aes:
        if _field(ae, "status", "AE") != "active" or not _field(ae, "treatment_emergent", "AE"):
            continue
        if _field(ae, "subject_id", "AE") not in injected:
            continue
        if date.fromisoformat(str(_field(ae, "onset", "AE"))[:10]) > today:
            continue
        out.append(ae)
    return out


# --- event rates ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RateRow:
    key: str
    label: str
    participants: int               # participants with at least one such AE
    n: int                          # participants evaluated (injected by the cut-off)
    proportion: float | None
    ci_low: float                   # Clopper-Pearson 95 %
    ci_high: float
    events: int                     # AEs of the category (recurrences count)
    exposure_months: float          # participant-months at risk for the category
    rate: float | None              # events per 100 participant-months
    rate_low: float | None          # exact Poisson 95 %
    rate_high: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def exposure_days(participant: Mapping, now: datetime, follow_up_days: int | None = None) -> float:
    """Days at risk from the injection to the earliest of now, leaving the study, or the end of follow-up.

    Zero before the injection. Raises ValueError when ``injection_at`` is missing from the row.
    """
    raw = _field(participant, "injection_at", "participant")
    if not raw:
        return 0.0
    start = _at(raw)
    end = now
    if participant.get("off_study_at"):
        end = min(end, _at(participant["off_study_at"]))
    if follow_up_days is not None:
        end = min(end, start + timedelta(days=follow_up_days))
    return max(0.0, (end - start).total_seconds() / 86400)


def event_rates(participants: Iterable[Mapping], aes: Iterable[Mapping], now: datetime, early_days: int,
                follow_up_days: int | None = None, tz: str = "UTC") -> list[RateRow]:
    """For each category: participants with the AE (Clopper-Pearson 95 %) and events per 100 participant-months.

    Exposure for early AEs is the first ``early_days`` days after the injection, for late AEs the rest, for the
    others the whole time at risk. Raises ValueError naming a row that lacks a field.
    """
    now = to_utc(now)
    zone = ZoneInfo(tz)
    days: dict[str, float] = {}
    for p in participants:
        raw = _field(p, "injection_at", "participant")
        if raw and _at(raw) <= now:
            days[_field(p, "subject_id", "participant")] = exposure_days(p, now, follow_up_days)
    counted = countable_aes(aes, set(days), now, zone)
    n = len(days)
    total = sum(days.values())
    early = sum(min(d, early_days) for d in days.values())
    at_risk = {"early": early, "late": total - early}
    rows = []
    for key, label in CATEGORIES:
        mine = [ae for ae in counted if _in_category(key, ae)]
        x = len({ae["subject_id"] for ae in mine})
        ci = stats.clopper_pearson(x, n)
        months = at_risk.get(key, total) / DAYS_PER_MONTH
        # Exposure-adjusted event rate with exact Poisson limits (Garwood 1936), per 100 participant-months
        r = stats.poisson_rate(len(mine), months, per=100.0)
        rows.append(RateRow(key, label, x, n, (x / n) if n else None, ci.low, ci.high,
                            len(mine), months, r.rate, r.low, r.high))
    return rows


# --- clusters ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cluster:
    term: str
    first_onset: str
    last_onset: str
    participants: tuple[str, ...]
    ae_ids: tuple[int, ...]

    @property
    def key(self) -> str:
        """Natural key for the alert: a cluster is the same signal while its term and first onset stay."""
        return f"cluster:{self.term}:{self.first_onset}"

    def as_dict(self) -> dict:
        return {**asdict(self), "key": self.key}


def find_clusters(rule: ClusterRule, participants: Iterable[Mapping], aes: Iterable[Mapping],
                  now: datetime, tz: str = "UTC") -> list[Cluster]:
    """Terms seen in at least ``min_participants`` participants with onsets at most ``window_days`` apart.

    Overlapping qualifying windows of one term merge into one cluster, so one outbreak is one signal.
    Sorted by first onset, then term. Raises ValueError naming a row that lacks a field.
    """
    now = to_utc(now)
    injected = set()
    for p in participants:
        raw = _field(p, "injection_at", "participant")
        if raw and _at(raw) <= now:
            injected.add(_field(p, "subject_id", "participant"))
    by_term: dict[str, list[tuple[date, int, Mapping]]] = {}
    for ae in countable_aes(aes, injected, now, ZoneInfo(tz)):
        onset = date.fromisoformat(str(ae["onset"])[:10])
        by_term.setdefault(_field(ae, "term", "AE"), []).append((onset, int(ae.get("id") or 0), ae))

    clusters = []
    for term, events in by_term.items():
        events.sort(key=lambda e: (e[0], e[1]))
        spans: list[list[int]] = []
        j = 0
        for i in range(len(events)):
            j = max(j, i)
            while j + 1 < len(events) and (events[j + 1][0] - events[i][0]).days <= rule.window_days:
                j += 1
            people = {e[2]["subject_id"] for e in events[i:j + 1]}
            if len(people) >= rule.min_participants:
                if spans and i <= spans[-1][1]:
                    spans[-1][1] = max(spans[-1][1], j)
                else:
                    spans.append([i, j])
        for i, j in spans:
            part = events[i:j + 1]
            clusters.append(Cluster(term, part[0][0].isoformat(), part[-1][0].isoformat(),
                                    tuple(sorted({e[2]["subject_id"] for e in part})),
                                    tuple(e[1] for e in part)))
    clusters.sort(key=lambda c: (c.first_onset, c.term))
    return clusters
