"""The study's lab safety rules as data (rules/safety_rules.toml) and their evaluation.

Evaluation is a pure function of (rules, participant facts, the participant's lab series, now):
the scheduler's `safety check` and the lab-entry path call the same function and get the same
breaches, each with a natural key (subject, rule id, triggering result id) so alerts can be
inserted with INSERT OR IGNORE and never doubled. Values are compared in Decimal (see lab_grading)
so a limit reached exactly behaves as the rule's operator says.
Raises RulesError (file, key, problem) when the rules file is invalid.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Iterable, Literal, Union

from pydantic import Field, field_validator, model_validator

from ..rulefiles import RulesError, StrictModel, load_toml
from .lab_grading import GRADED_ANALYTES, grade_lab
from .numbers import number
from .units import ANALYTES

RULES_FILENAME = "safety_rules.toml"

Severity = Literal["critical", "high", "medium", "low"]  # the alerts table's severities
Role = Literal["nurse", "investigator", "safety_officer", "auditor", "admin"]
Operator = Literal["<", "<=", ">", ">="]


def _known_analyte(name: str) -> str:
    if name not in ANALYTES:
        raise ValueError(f"unknown analyte {name!r}; known: {', '.join(ANALYTES)}")
    return name


class _RuleBase(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    description: str = Field(min_length=1)
    analyte: str
    severity: Severity
    notify: list[Role] = Field(min_length=1)
    # Screening values decide eligibility; safety rules watch what follows the injection unless told otherwise.
    applies_to: Literal["post_injection", "any"] = "post_injection"
    # Sustained: the condition must hold at the trigger and at every value up to one >= this many days later.
    confirm_after_days: int | None = Field(default=None, gt=0)
    enabled: bool = True

    @field_validator("analyte")
    @classmethod
    def _analyte(cls, v: str) -> str:
        return _known_analyte(v)


class FixedLimitRule(_RuleBase):
    """value <operator> threshold, in the analyte's canonical unit."""

    kind: Literal["fixed_limit"]
    operator: Operator
    threshold: float


class OutsideRangeRule(_RuleBase):
    """value < low or value > high (the limits themselves are inside)."""

    kind: Literal["outside_range"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class UlnMultipleRule(_RuleBase):
    """value <operator> threshold x the result's ULN."""

    kind: Literal["uln_multiple"]
    operator: Operator
    threshold: float = Field(gt=0)


class ChangeRule(_RuleBase):
    """The value compared with a reference: the baseline, the previous value, or the lowest value in a window.

    measure: ratio (value / ref), percent ((value - ref) / ref x 100) or absolute (value - ref).
    """

    kind: Literal["change"]
    reference: Literal["baseline", "previous", "window_min"]
    measure: Literal["ratio", "percent", "absolute"]
    operator: Operator
    threshold: float
    window_hours: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _window(self):
        if self.reference == "window_min" and self.window_hours is None:
            raise ValueError("reference 'window_min' needs window_hours")
        if self.reference == "baseline" and self.window_hours is not None:
            raise ValueError("window_hours does not apply to reference 'baseline'")
        return self


class CtcaeGradeRule(_RuleBase):
    """The CTCAE v5.0 grade of a lab (analyte "any": every graded analyte) <operator> threshold."""

    kind: Literal["ctcae_grade"]
    operator: Literal[">", ">="]
    threshold: int = Field(ge=1, le=5)
    # Participants enter with CKD 3-4 and treated hypertension: only a grade worse than baseline's is new.
    worse_than_baseline: bool = True
    # Analytes another rule already watches at this level (one finding, one alert: hemoglobin < 8 g/dL is both the
    # protocol's limit and CTCAE v5.0 Anemia grade 3).
    except_analytes: list[str] = []

    @field_validator("analyte")
    @classmethod
    def _analyte(cls, v: str) -> str:
        if v == "any":
            return v
        if _known_analyte(v) not in GRADED_ANALYTES:
            raise ValueError(f"{v!r} has no numeric CTCAE v5.0 grade; graded: {', '.join(sorted(GRADED_ANALYTES))}")
        return v


Rule = Annotated[Union[FixedLimitRule, OutsideRangeRule, UlnMultipleRule, ChangeRule, CtcaeGradeRule],
                 Field(discriminator="kind")]


class BaselinePolicy(StrictModel):
    """Baseline = ``method`` of the last ``max_values`` values collected on or before the injection."""

    method: Literal["mean", "last"] = "mean"
    max_values: int = Field(default=2, ge=1)


class RuleSet(StrictModel):
    """The whole rules file."""

    baseline: BaselinePolicy = BaselinePolicy()
    rules: list[Rule] = Field(min_length=1)

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: list) -> list:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} appears twice")
            seen.add(rule.id)
        return rules

    def rule(self, rule_id: str):
        """The rule with this id; raises KeyError."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


def load_rules(path: Path | str) -> RuleSet:
    """Load and validate a rules file; raises RulesError naming the file, the key and the problem.

    A key inside a rule reads ``rules.6.threshold`` and the problem names the rule's id, so the person editing
    the file finds the line without counting tables.
    """
    try:
        return load_toml(Path(path), RuleSet)
    except RulesError as e:
        parts = e.key.split(".")
        if len(parts) >= 2 and parts[0] == "rules" and parts[1].isdigit():
            if len(parts) >= 3 and parts[2] in _KINDS:
                del parts[2]  # pydantic's union tag, not a key of the file
            rule_id = _rule_id_at(Path(path), int(parts[1]))
            raise RulesError(path, ".".join(parts), f"(rule {rule_id!r}) {e.problem}" if rule_id else e.problem) from None
        raise


_KINDS = ("fixed_limit", "outside_range", "uln_multiple", "change", "ctcae_grade")


def _rule_id_at(path: Path, index: int) -> str | None:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))["rules"][index].get("id")
    except (KeyError, IndexError, TypeError, AttributeError, tomllib.TOMLDecodeError):
        return None


# --- evaluation -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ParticipantFacts:
    subject_id: str
    injection_at: datetime | None  # aware UTC; None before the injection (no post-injection rule applies yet)


@dataclass(frozen=True)
class LabResult:
    """One stored result in its canonical unit; ``egfr`` is the eGFR derived from a creatinine."""

    id: int
    analyte: str
    value_si: float
    collected_at: datetime
    uln: float | None = None
    lln: float | None = None
    egfr: float | None = None
    entered: tuple[float, str] | None = None  # (value, unit) as reported: CTCAE grades some units by their own column


@dataclass(frozen=True)
class Breach:
    subject_id: str
    rule_id: str
    result_id: int
    analyte: str
    value: float
    collected_at: datetime
    severity: str
    notify: tuple[str, ...]
    message: str

    @property
    def key(self) -> tuple[str, str, int]:
        """The natural key an alert is deduplicated on."""
        return (self.subject_id, self.rule_id, self.result_id)


@dataclass(frozen=True)
class Pending:
    """A sustained rule's condition is met and awaits a confirming value on or after ``confirm_from``."""

    subject_id: str
    rule_id: str
    result_id: int
    confirm_from: datetime


@dataclass(frozen=True)
class Skipped:
    """A rule that could not be evaluated on a result, and why (so a missing baseline is not silent)."""

    rule_id: str
    result_id: int | None
    reason: str


@dataclass
class Evaluation:
    breaches: list[Breach] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


_OPS = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


@lru_cache(maxsize=4096)
def _d(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def _fmt(x, analyte: str | None = None) -> str:
    """A value in an alert message: the analyte's clinical precision (domain/numbers.py), else 4 significant figures."""
    return number(x, analyte) if analyte else f"{float(x):.4g}"


def series_by_analyte(results: Iterable[LabResult], now: datetime) -> dict[str, list[LabResult]]:
    """Results collected up to ``now``, oldest first, per analyte.

    The eGFR series is the eGFR derived from each creatinine (CKD-EPI 2021, the protocol's equation; the row
    keeps the creatinine's id) plus eGFR values entered as such; at the same instant the derived one is kept.
    """
    out: dict[str, list[LabResult]] = {}
    entered_egfr: list[LabResult] = []
    derived: list[LabResult] = []
    for r in results:
        if r.collected_at > now:
            continue
        if r.analyte == "egfr":
            entered_egfr.append(r)
            continue
        out.setdefault(r.analyte, []).append(r)
        if r.analyte == "creatinine" and r.egfr is not None:
            derived.append(LabResult(r.id, "egfr", r.egfr, r.collected_at))
    derived_at = {d.collected_at for d in derived}
    egfr = derived + [r for r in entered_egfr if r.collected_at not in derived_at]
    if egfr:
        out["egfr"] = egfr
    for s in out.values():
        s.sort(key=lambda r: (r.collected_at, r.id))
    return out


def baseline_values(policy: BaselinePolicy, series: dict[str, list[LabResult]],
                    injection_at: datetime | None) -> dict[str, float]:
    """Per analyte, the baseline: mean (or last) of the last ``max_values`` values on or before the injection."""
    if injection_at is None:
        return {}
    out = {}
    for analyte, s in series.items():
        pre = [r.value_si for r in s if r.collected_at <= injection_at][-policy.max_values:]
        if pre:
            if policy.method == "last":
                out[analyte] = pre[-1]
            else:
                out[analyte] = float(sum(_d(v) for v in pre) / len(pre))
    return out


def _reference(rule: ChangeRule, s: list[LabResult], i: int, baseline: float | None) -> float | None:
    if rule.reference == "baseline":
        return baseline
    r = s[i]
    earlier = [p for p in s[:i] if p.collected_at < r.collected_at]
    if rule.window_hours is not None:
        since = r.collected_at - timedelta(hours=rule.window_hours)
        earlier = [p for p in earlier if p.collected_at >= since]
    if not earlier:
        return None
    if rule.reference == "previous":
        return earlier[-1].value_si
    return min(p.value_si for p in earlier)


def _check(rule, s: list[LabResult], i: int, baselines: dict[str, float], analyte: str):
    """(met, description) for result ``s[i]``, or (None, reason) when the rule cannot be evaluated.

    The description is only built for a met rule: most checks pass quietly and formatting is the costly part.
    """
    r = s[i]
    v = _d(r.value_si)
    if isinstance(rule, FixedLimitRule):
        if not _OPS[rule.operator](v, _d(rule.threshold)):
            return False, ""
        return True, f"{_fmt(r.value_si, r.analyte)} {rule.operator} {_fmt(rule.threshold)}"
    if isinstance(rule, OutsideRangeRule):
        if not (v < _d(rule.low) or v > _d(rule.high)):
            return False, ""
        return True, f"{_fmt(r.value_si, r.analyte)} outside {_fmt(rule.low)}-{_fmt(rule.high)}"
    if isinstance(rule, UlnMultipleRule):
        if r.uln is None:
            return None, "no ULN for the result"
        if not _OPS[rule.operator](v, _d(rule.threshold) * _d(r.uln)):
            return False, ""
        return True, f"{_fmt(r.value_si, r.analyte)} = {number(r.value_si / r.uln, 1)} x ULN {_fmt(r.uln, r.analyte)}"
    if isinstance(rule, ChangeRule):
        return _check_change(rule, s, i, v, baselines.get(analyte))
    # CtcaeGradeRule
    g = grade_lab(analyte, r.value_si, uln=r.uln, lln=r.lln, baseline=baselines.get(analyte),
                  entered=r.entered if r.analyte == analyte else None)
    if g is None or not _OPS[rule.operator](g.grade, rule.threshold):
        return False, ""
    if rule.worse_than_baseline and analyte in baselines:
        b = grade_lab(analyte, baselines[analyte], uln=r.uln, lln=r.lln)
        if b is not None and g.grade <= b.grade:
            return False, ""
    return True, f"{g.term} grade {g.grade} ({g.basis})"


def _check_change(rule: ChangeRule, s: list[LabResult], i: int, v: Decimal, baseline: float | None):
    r = s[i]
    ref = _reference(rule, s, i, baseline)
    if ref is None:
        return None, f"no {_reference_label(rule)} to compare with"
    if rule.measure == "absolute":
        if not _OPS[rule.operator](v - _d(ref), _d(rule.threshold)):
            return False, ""
        return True, (f"{_fmt(r.value_si, r.analyte)} vs {_reference_label(rule)} {_fmt(ref, r.analyte)} "
                      f"(change {number(r.value_si - ref, r.analyte, sign=True)})")
    if ref <= 0:
        return None, f"{_reference_label(rule)} {ref} is not positive"
    factor = _d(rule.threshold) if rule.measure == "ratio" else 1 + _d(rule.threshold) / 100
    if not _OPS[rule.operator](v, factor * _d(ref)):  # ratio and percent compared without a rounding division
        return False, ""
    pct = (r.value_si - ref) / ref * 100
    return True, (f"{_fmt(r.value_si, r.analyte)} vs {_reference_label(rule)} {_fmt(ref, r.analyte)} "
                  f"({number(r.value_si / ref, 2)} x, {pct:+.1f} %)")


def _reference_label(rule: ChangeRule) -> str:
    if rule.reference == "window_min":
        return f"lowest of the previous {rule.window_hours} h"
    if rule.reference == "previous":
        return "previous value" + (f" (within {rule.window_hours} h)" if rule.window_hours else "")
    return "baseline"


def _analytes_of(rule, series: dict[str, list[LabResult]]) -> list[str]:
    if rule.analyte == "any":
        return sorted(a for a in series if a in GRADED_ANALYTES and a not in getattr(rule, "except_analytes", ()))
    return [rule.analyte] if rule.analyte in series else []


def evaluate(rules: RuleSet, participant: ParticipantFacts, results: Iterable[LabResult],
             now: datetime) -> Evaluation:
    """Every breach of every enabled rule in a participant's results collected up to ``now``.

    A rule without confirmation breaches once per episode, on the first result of a run of results meeting it (a
    value still below 8 g/dL at the next visit is the same breach, not a new alert; one that does not meet it ends
    the episode, and the next that does is a new breach). A sustained rule breaches once per
    episode, on the first value >= ``confirm_after_days`` after the episode's first value, every value between
    also meeting it; a value that does not meet it ends the episode. Pure: no I/O, no clock but ``now``.
    """
    series = series_by_analyte(results, now)
    baselines = baseline_values(rules.baseline, series, participant.injection_at)
    ev = Evaluation()
    for rule in rules.rules:
        if not rule.enabled:
            continue
        for analyte in _analytes_of(rule, series):
            _evaluate_rule(rule, analyte, series[analyte], baselines, participant, ev)
    return _merge_same_key(ev)


def _merge_same_key(ev: Evaluation) -> Evaluation:
    # A creatinine and its derived eGFR share a result id: under a rule on "any" analyte both may breach,
    # and one alert (the first, with both findings in its message) is what the key promises.
    merged: dict[tuple, Breach] = {}
    for b in ev.breaches:
        if b.key in merged:
            first = merged[b.key]
            merged[b.key] = Breach(**{**first.__dict__, "message": f"{first.message}; {b.message}"})
        else:
            merged[b.key] = b
    ev.breaches = list(merged.values())
    return ev


def _evaluate_rule(rule, analyte: str, s: list[LabResult], baselines: dict[str, float],
                   participant: ParticipantFacts, ev: Evaluation) -> None:
    inj = participant.injection_at
    start: LabResult | None = None
    fired = False
    in_episode = False  # for a rule without confirmation: the current run of results meeting it is alerted
    for i, r in enumerate(s):
        if rule.applies_to == "post_injection" and (inj is None or r.collected_at <= inj):
            continue
        met, shown = _check(rule, s, i, baselines, analyte)
        if met is None:
            ev.skipped.append(Skipped(rule.id, r.id, shown))
            continue
        if rule.confirm_after_days is None:
            if met and not in_episode:
                ev.breaches.append(_breach(rule, participant, r, analyte, shown))
            in_episode = bool(met)
            continue
        if not met:
            start, fired = None, False
            continue
        if start is None:
            start = r
        if not fired and r.collected_at - start.collected_at >= timedelta(days=rule.confirm_after_days):
            fired = True
            ev.breaches.append(_breach(
                rule, participant, r, analyte,
                f"{shown}; sustained since {start.collected_at.date().isoformat()}"))
    if start is not None and not fired:
        ev.pending.append(Pending(participant.subject_id, rule.id, start.id,
                                  start.collected_at + timedelta(days=rule.confirm_after_days)))


def _breach(rule, participant: ParticipantFacts, r: LabResult, analyte: str, shown: str) -> Breach:
    return Breach(participant.subject_id, rule.id, r.id, analyte, r.value_si, r.collected_at, rule.severity,
                  tuple(rule.notify), f"{rule.description}: {ANALYTES[analyte].label} {shown}")
