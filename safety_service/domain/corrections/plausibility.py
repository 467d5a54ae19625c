"""Delta and plausibility checks before a lab result is saved (rules/plausibility.toml, validated at start-up).

A typo (creatinine 19.0 for 1.9) otherwise becomes an eGFR of 2.6, a critical alert and a suggested grade-4 AE.
``screen`` runs the checks on a validated result; a result that fails one is refused with NeedsConfirmation (an
InvalidInput naming ``value``, so the API answers 422) unless the person entering it confirms, and a confirmed
result carries the checks it failed (``confirmed_checks``, audited by labs.store).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from sqlite_utils import Database

from ...clock import parse_datetime
from ...db import row
from ...rulefiles import StrictModel, load_toml
from ..errors import InvalidInput
from ..units import ANALYTES

FILENAME = "plausibility.toml"
TRUE = ("1", "true", "yes", "on", "y")


def _analyte(name: str) -> str:
    if name not in ANALYTES:
        raise ValueError(f"unknown analyte {name!r}; known: {', '.join(ANALYTES)}")
    return name


class DeltaCheck(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    analyte: str
    factor: float = Field(gt=1)
    within_days: int = Field(gt=0)

    @field_validator("analyte")
    @classmethod
    def _known(cls, v: str) -> str:
        return _analyte(v)


class UnitSlipCheck(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    analytes: list[str] = Field(min_length=1)
    tolerance: float = Field(gt=0, lt=0.5)
    within_days: int = Field(gt=0)

    @field_validator("analytes")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        return [_analyte(a) for a in v]


class RangeCheck(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    analyte: str
    low: float
    high: float

    @field_validator("analyte")
    @classmethod
    def _known(cls, v: str) -> str:
        return _analyte(v)

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class Plausibility(StrictModel):
    """The whole rules file."""

    delta: list[DeltaCheck] = []
    unit_slip: list[UnitSlipCheck] = []
    range: list[RangeCheck] = []

    @model_validator(mode="after")
    def _unique(self):
        ids = [c.id for c in (*self.delta, *self.unit_slip, *self.range)]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"check id {sorted(dup)[0]!r} appears twice")
        return self


def load_plausibility(path: Path) -> Plausibility:
    """Raises RulesError naming the file, key and problem."""
    return load_toml(Path(path), Plausibility)


@dataclass(frozen=True)
class Failed:
    """One check a value failed, and what the person entering it is told."""

    check_id: str
    message: str


class NeedsConfirmation(InvalidInput):
    """The value failed a delta or plausibility check; nothing was written. ``warnings`` names each check."""

    def __init__(self, warnings: list[Failed]):
        self.warnings = warnings
        text = "; ".join(f"{w.message} [{w.check_id}]" for w in warnings)
        super().__init__({"value": f"{text}; check the value and unit, or confirm it (\"confirmed\": true) "
                                   "to save it anyway"}, "The value failed a plausibility check")


def _d(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _previous(db: Database, rec: dict, within_days: int) -> dict | None:
    """The participant's latest valid result of the analyte collected before this one, within the days given."""
    since = parse_datetime(rec["collected_at"]) - timedelta(days=within_days)
    prev = row(db, "SELECT id, value, unit, value_si, collected_at FROM labs WHERE participant_id = ? AND analyte = ?"
                   " AND status = 'valid' AND collected_at < ? ORDER BY collected_at DESC, id DESC LIMIT 1",
               (rec["participant_id"], rec["analyte"], rec["collected_at"]))
    if prev is None or parse_datetime(prev["collected_at"]) < since or not prev["value_si"] > 0:
        return None
    return prev


def check(db: Database, rec: dict, rules: Plausibility) -> list[Failed]:
    """Every check the validated result ``rec`` fails, in the file's order (delta, unit slip, range)."""
    out: list[Failed] = []
    name, v = rec["analyte"], _d(rec["value_si"])
    label, unit = ANALYTES[name].label, ANALYTES[name].unit_si
    for c in rules.delta:
        if c.analyte != name or (prev := _previous(db, rec, c.within_days)) is None:
            continue
        p, f = _d(prev["value_si"]), _d(c.factor)
        if v > f * p or v * f < p:  # compared without a rounding division: exactly 3.0 x is not "more than 3 x"
            ratio = _fmt(rec["value_si"] / prev["value_si"])
            out.append(Failed(c.id, f"{label} {rec['value']:g} {rec['unit']} is {ratio} x the previous result "
                                    f"{prev['value']:g} {prev['unit']} of {prev['collected_at'][:10]} (more than "
                                    f"{c.factor:g} x or less than 1/{c.factor:g} within {c.within_days} days)"))
    for c in rules.unit_slip:
        if name not in c.analytes or (prev := _previous(db, rec, c.within_days)) is None:
            continue
        ratio, tol = v / _d(prev["value_si"]), _d(c.tolerance)
        if ratio > 0 and (abs(ratio - 10) <= 10 * tol or abs(1 / ratio - 10) <= 10 * tol):
            out.append(Failed(c.id, f"{label} {rec['value']:g} {rec['unit']} is about "
                                      f"{'ten times' if ratio > 1 else 'a tenth of'} the previous result "
                                      f"{prev['value']:g} {prev['unit']}: a decimal point or unit slip?"))
    for c in rules.range:
        if c.analyte == name and (v < _d(c.low) or v > _d(c.high)):
            out.append(Failed(c.id, f"{label} {_fmt(rec['value_si'])} {unit} is outside the range the study "
                                      f"expects, {_fmt(c.low)}-{_fmt(c.high)} {unit}"))
    return out


def is_confirmed(value) -> bool | None:
    """True / False from a JSON boolean or a form or CSV text; None when it is not a yes/no answer."""
    if value in (None, "", False):
        return False
    if value is True:
        return True
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in ("0", "false", "no", "off", "n"):
        return False
    return None


def screen(db: Database, rec: dict, p: dict, rules: Plausibility, *, confirmed=None) -> dict:
    """``rec`` ready to store: unchanged when it passes, with ``confirmed_checks`` when it fails but is confirmed.

    Raises InvalidInput({"confirmed": ...}) for an answer that is not yes/no, NeedsConfirmation otherwise.
    """
    answer = is_confirmed(confirmed)
    if answer is None:
        raise InvalidInput({"confirmed": "must be true or false"})
    warnings = check(db, rec, rules)
    if not warnings:
        return rec
    if not answer:
        raise NeedsConfirmation(warnings)
    return {**rec, "confirmed_checks": ",".join(w.check_id for w in warnings)}
