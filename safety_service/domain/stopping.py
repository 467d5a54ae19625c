"""The stopping rule as data (rules/stopping.toml) and the trial's position against it as of a moment.

``position(rule, participants, aes, now)`` is pure: the same data and the same ``now`` give the same
answer, which is what makes a DSMB report reproducible for a data cut-off.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Iterable, Literal, Mapping
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from ..clock import parse_datetime, to_utc
from ..rulefiles import StrictModel, load_toml
from . import stats

# Causality scale of the AE form, weakest first (WHO-UMC causality categories, as on the AE form)
RELATEDNESS = ("not_related", "unlikely", "possible", "probable", "definite")
Relatedness = Literal["not_related", "unlikely", "possible", "probable", "definite"]


class Criterion(StrictModel):
    """One way for an AE to count: every key given must hold (an AND); unset keys do not restrict."""

    serious: bool | None = None
    min_grade: int | None = Field(default=None, ge=1, le=5)
    min_relatedness: Relatedness | None = None
    phase: Literal["early", "late"] | None = None

    @model_validator(mode="after")
    def _not_empty(self):
        if self.serious is None and self.min_grade is None and self.min_relatedness is None and self.phase is None:
            raise ValueError("a criterion needs at least one of serious, min_grade, min_relatedness, phase")
        return self


class StoppingRule(StrictModel):
    id: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=1)
    unacceptable_rate: float = Field(gt=0, lt=1)
    threshold: float = Field(gt=0, lt=1)
    prior_a: float = Field(gt=0)
    prior_b: float = Field(gt=0)
    denominator: Literal["injected"] = "injected"
    boundary_up_to: int = Field(default=30, ge=1, le=500)
    counts: list[Criterion] = Field(min_length=1)

    @model_validator(mode="after")
    def _prior_alone_does_not_cross(self):
        prior = stats.posterior_prob_above(0, 0, self.unacceptable_rate, self.prior_a, self.prior_b)
        if prior > self.threshold:
            raise ValueError(f"the prior alone gives P(rate > {self.unacceptable_rate}) = {prior:.3f}, "
                             f"above the threshold {self.threshold}: the rule would be crossed with no data")
        return self


class ClusterRule(StrictModel):
    min_participants: int = Field(ge=2)
    window_days: int = Field(ge=0)


class SafetyRules(StrictModel):
    """The whole of rules/stopping.toml."""

    rules: list[StoppingRule] = Field(min_length=1)
    clusters: ClusterRule

    @model_validator(mode="after")
    def _unique_ids(self):
        ids = [r.id for r in self.rules]
        if len(set(ids)) != len(ids):
            raise ValueError("stopping rule ids repeat")
        return self


def load_safety_rules(path: Path) -> SafetyRules:
    """Load rules/stopping.toml. Raises RulesError naming the file, key and problem."""
    return load_toml(path, SafetyRules)


# --- which AEs count -----------------------------------------------------------------------------

def _get(row: Mapping, key: str, what: str):
    try:
        return row[key]
    except KeyError:
        raise ValueError(f"{what} {row.get('id', row.get('subject_id', '?'))}: missing field {key!r}") from None


def _rank(value: str | None, ae_id) -> int:
    if value is None:
        # not yet assessed: counts as "possible" so a missing opinion cannot hide a signal (ICH E2A III.A.1:
        # without the reporter's causality opinion, the sponsor must obtain one; until then we stay conservative)
        return RELATEDNESS.index("possible")
    try:
        return RELATEDNESS.index(value)
    except ValueError:
        raise ValueError(f"AE {ae_id}: relatedness {value!r} is not one of {', '.join(RELATEDNESS)}") from None


def meets(criterion: Criterion, ae: Mapping) -> bool:
    """True when the AE satisfies every key the criterion sets. Raises ValueError on a missing field."""
    ae_id = ae.get("id")
    if criterion.serious is not None and bool(_get(ae, "serious", "AE")) != criterion.serious:
        return False
    if criterion.min_grade is not None and int(_get(ae, "grade", "AE")) < criterion.min_grade:
        return False
    if criterion.min_relatedness is not None:
        best = max(_rank(_get(ae, "relatedness_product", "AE"), ae_id),
                   _rank(_get(ae, "relatedness_procedure", "AE"), ae_id))
        if best < RELATEDNESS.index(criterion.min_relatedness):
            return False
    if criterion.phase is not None and _get(ae, "phase", "AE") != criterion.phase:
        return False
    return True


def counts(rule: StoppingRule, ae: Mapping) -> bool:
    """True when the AE is a counted event: active, treatment-emergent and meeting any criterion."""
    if _get(ae, "status", "AE") != "active" or not _get(ae, "treatment_emergent", "AE"):
        return False
    return any(meets(c, ae) for c in rule.counts)


# --- the position --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    """The posterior after one step: a participant injected or a participant's first counted event."""

    on: str                 # YYYY-MM-DD
    kind: str               # "injected" or "event"
    subject_id: str
    ae_id: int | None
    n: int
    x: int
    posterior: float
    above: bool


@dataclass(frozen=True)
class Position:
    rule_id: str
    as_of: str              # ISO 8601 UTC: the data cut-off
    n: int                  # participants evaluated
    x: int                  # participants with a counted event
    posterior: float        # P(rate > unacceptable_rate | x, n) now
    threshold: float
    above: bool             # the posterior is above the threshold now
    crossed: bool           # the boundary was crossed at some step up to now (it stays a fact)
    crossing: Point | None  # the step (an event) at which it was first crossed
    counted: list[dict] = field(default_factory=list)     # one per counted participant: first event
    trajectory: list[Point] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _local_date(dt: datetime, tz: ZoneInfo) -> date:
    return dt.astimezone(tz).date()


def _injected_on(p: Mapping, now: datetime, tz: ZoneInfo) -> date | None:
    raw = _get(p, "injection_at", "participant")
    if not raw:
        return None
    at = parse_datetime(raw) if isinstance(raw, str) else to_utc(raw)
    return _local_date(at, tz) if at <= now else None


def position(rule: StoppingRule, participants: Iterable[Mapping], aes: Iterable[Mapping],
             now: datetime, tz: str = "UTC") -> Position:
    """Where the trial stands against ``rule`` as of ``now``.

    n = participants injected by ``now``; x = those of them with at least one counted AE whose onset is on or
    before ``now``'s date (which database snapshot the rows come from is the caller's choice: reports/datacut.py).
    The trajectory replays injections and first counted
    events in date order (an injection before an event on the same day: the event follows the injection).
    Raises ValueError naming the AE or participant when a row lacks a field or names an unknown participant.
    """
    now = to_utc(now)
    zone = ZoneInfo(tz)
    today = _local_date(now, zone)
    injected: dict[str, date] = {}
    known: set[str] = set()
    for p in participants:
        sid = _get(p, "subject_id", "participant")
        known.add(sid)
        on = _injected_on(p, now, zone)
        if on is not None:
            injected[sid] = on

    first: dict[str, tuple[date, int, Mapping]] = {}
    for ae in aes:
        sid = _get(ae, "subject_id", "AE")
        if sid not in known:
            raise ValueError(f"AE {ae.get('id')}: subject_id {sid!r} is not a known participant")
        if sid not in injected or not counts(rule, ae):
            continue
        onset = date.fromisoformat(str(_get(ae, "onset", "AE"))[:10])
        if onset > today:
            continue
        key = (onset, int(ae.get("id") or 0))
        if sid not in first or key < first[sid][:2]:
            first[sid] = (onset, key[1], ae)

    steps = [(on, 0, sid, None) for sid, on in injected.items()]
    steps += [(on, 1, sid, ae) for sid, (on, _, ae) in first.items()]
    steps.sort(key=lambda s: (s[0], s[1], s[2], (s[3] or {}).get("id") or 0))

    n = x = 0
    trajectory: list[Point] = []
    crossing: Point | None = None
    for on, kind, sid, ae in steps:
        if kind == 0:
            n += 1
        else:
            x += 1
        post = stats.posterior_prob_above(x, n, rule.unacceptable_rate, rule.prior_a, rule.prior_b)
        above = post > rule.threshold  # strictly above: equal does not cross
        point = Point(on.isoformat(), "injected" if kind == 0 else "event", sid,
                      None if ae is None else ae.get("id"), n, x, post, above)
        trajectory.append(point)
        if above and crossing is None:
            crossing = point

    post = stats.posterior_prob_above(x, n, rule.unacceptable_rate, rule.prior_a, rule.prior_b)
    counted = [{"subject_id": sid, "ae_id": ae.get("id"), "onset": on.isoformat(), "term": ae.get("term"),
                "grade": ae.get("grade"), "serious": bool(ae.get("serious"))}
               for sid, (on, _, ae) in sorted(first.items(), key=lambda kv: (kv[1][0], kv[0]))]
    return Position(rule.id, now.isoformat(timespec="seconds"), n, x, post, rule.threshold,
                    post > rule.threshold, crossing is not None, crossing, counted, trajectory)


def boundary(rule: StoppingRule) -> list[stats.BoundaryRow]:
    """The boundary table of ``rule``: for n = 1..boundary_up_to, the fewest counted participants that cross."""
    return stats.boundary_table(range(1, rule.boundary_up_to + 1), rule.unacceptable_rate, rule.threshold,
                                rule.prior_a, rule.prior_b)
