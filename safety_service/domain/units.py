"""Lab analytes, the units each accepts, and exact conversion to one canonical unit.

A lab value is stored as entered *and* in the analyte's canonical unit, so grading and
rules compare like with like. A unit we do not list is refused (never guessed): a creatinine
of 120 could be umol/L or a typo in mg/dL, and only the sender knows which.

Conversions run in Decimal from the value's shortest decimal form, so 318.24 umol/L is
exactly 3.6 mg/dL and "exactly 3.0 x ULN" stays exactly 3.0 in the grading that follows.
Raises LabValueError (field ``analyte``, ``unit`` or ``value``) on bad input.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation


class LabValueError(ValueError):
    """A lab value cannot be accepted; ``field`` names the offending input field."""

    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Unit:
    """One accepted unit: canonical = value * factor + offset (offset only for temperature, HbA1c)."""

    name: str
    factor: Decimal = Decimal(1)
    offset: Decimal = Decimal(0)
    aliases: tuple[str, ...] = ()

    def to_canonical(self, value: Decimal) -> Decimal:
        return value * self.factor + self.offset

    def from_canonical(self, value: Decimal) -> Decimal:
        return (value - self.offset) / self.factor


@dataclass(frozen=True)
class Analyte:
    """An analyte, its canonical unit (listed first in ``units``) and its plausible range in that unit."""

    name: str
    label: str
    units: tuple[Unit, ...]
    plausible: tuple[float, float]
    _index: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def unit_si(self) -> str:
        return self.units[0].name

    def accepted(self) -> list[str]:
        """Every spelling accepted, canonical names first (for error messages and forms)."""
        names = [u.name for u in self.units]
        return names + [a for u in self.units for a in u.aliases]


def _d(text: str) -> Decimal:
    return Decimal(text)


# Shared spellings of "10^3 per microlitre" (= 10^9/L = 1000/uL = 1000/mm3; 1 mm3 = 1 uL).
_COUNT_UNITS = (
    Unit("10^3/uL", aliases=("10^3/µL", "10*3/uL", "x10^3/uL", "K/uL", "10^3/mm3", "10^9/L", "10*9/L",
                             "x10^9/L", "G/L")),
    Unit("/uL", _d("0.001"), aliases=("/µL", "cells/uL", "/mm3", "cells/mm3")),
)

_ANALYTES = (
    # Creatinine molar mass 113.12 g/mol: 1 mg/dL = 10 mg/L / 113.12 mg/mmol = 88.4 umol/L (KDIGO 2012 conversion).
    Analyte("creatinine", "Serum creatinine", (
        Unit("mg/dL"),
        Unit("umol/L", 1 / _d("88.4"), aliases=("µmol/L", "micromol/L")),
    ), (0.05, 40.0)),
    Analyte("egfr", "eGFR", (
        Unit("mL/min/1.73m2", aliases=("mL/min/1.73 m2", "mL/min/1.73m²", "mL/min/1.73 m²", "mL/min/{1.73_m2}")),
    ), (1.0, 250.0)),
    # UACR: 1 mg/mmol = 1 mg / 0.11312 g creatinine = 8.84 mg/g (KDIGO 2012: 30 mg/g ~ 3 mg/mmol; 1 mg/g = 0.113 mg/mmol).
    Analyte("uacr", "Urine albumin/creatinine ratio", (
        Unit("mg/g", aliases=("ug/mg", "µg/mg")),
        Unit("mg/mmol", _d("8.84")),
    ), (0.0, 30000.0)),
    # 1 U = 1 umol/min and 1 kat = 1 mol/s, so 1 ukat/L = 60 U/L (IFCC enzyme units).
    Analyte("alt", "ALT", (
        Unit("U/L", aliases=("IU/L",)),
        Unit("ukat/L", _d("60"), aliases=("µkat/L",)),
    ), (0.0, 20000.0)),
    Analyte("ast", "AST", (
        Unit("U/L", aliases=("IU/L",)),
        Unit("ukat/L", _d("60"), aliases=("µkat/L",)),
    ), (0.0, 20000.0)),
    # Bilirubin molar mass 584.66 g/mol: 1 mg/dL = 17.1 umol/L.
    Analyte("bilirubin", "Total bilirubin", (
        Unit("mg/dL"),
        Unit("umol/L", 1 / _d("17.1"), aliases=("µmol/L", "micromol/L")),
    ), (0.0, 60.0)),
    # Hemoglobin: 1 g/dL = 10 g/L; 1 g/dL = 0.6206 mmol/L (monomer 16,114.5 g/mol; CTCAE v5.0 Anemia: 10.0 g/dL ~ 6.2 mmol/L).
    Analyte("hemoglobin", "Hemoglobin", (
        Unit("g/dL"),
        Unit("g/L", _d("0.1")),
        Unit("mmol/L", 1 / _d("0.6206")),
    ), (1.0, 25.0)),
    # Serum albumin: 1 g/dL = 10 g/L (CTCAE v5.0 Hypoalbuminemia prints both columns: 3 g/dL = 30 g/L).
    Analyte("albumin", "Serum albumin", (
        Unit("g/dL"),
        Unit("g/L", _d("0.1")),
    ), (0.5, 8.0)),
    Analyte("platelets", "Platelets", _COUNT_UNITS, (1.0, 3000.0)),
    Analyte("wbc", "White blood cells", _COUNT_UNITS, (0.0, 500.0)),
    Analyte("neutrophils", "Neutrophils", _COUNT_UNITS, (0.0, 300.0)),
    # Potassium is monovalent: 1 mEq/L = 1 mmol/L.
    Analyte("potassium", "Potassium", (
        Unit("mmol/L", aliases=("mEq/L",)),
    ), (1.0, 12.0)),
    # IFCC -> NGSP master equation: HbA1c % = 0.09148 x mmol/mol + 2.152 (Hoelzel et al., Clin Chem 2004).
    Analyte("hba1c", "HbA1c", (
        Unit("%", aliases=("% (NGSP)", "%Hb")),
        Unit("mmol/mol", _d("0.09148"), _d("2.152")),
    ), (3.0, 20.0)),
    # Glucose molar mass 180.16 g/mol: 1 mmol/L = 18.016 mg/dL.
    Analyte("glucose", "Glucose", (
        Unit("mg/dL"),
        Unit("mmol/L", _d("18.016")),
    ), (10.0, 2000.0)),
    # 1 pg/mL = 1 ng/L (same mass per volume).
    Analyte("tnf_alpha", "TNF-alpha", (
        Unit("pg/mL", aliases=("ng/L",)),
    ), (0.0, 100000.0)),
    Analyte("il10", "IL-10", (
        Unit("pg/mL", aliases=("ng/L",)),
    ), (0.0, 100000.0)),
    Analyte("sbp", "Systolic blood pressure", (
        Unit("mmHg", aliases=("mm Hg", "mm[Hg]")),
    ), (40.0, 300.0)),
    Analyte("dbp", "Diastolic blood pressure", (
        Unit("mmHg", aliases=("mm Hg", "mm[Hg]")),
    ), (20.0, 200.0)),
    # C = (F - 32) x 5/9.
    Analyte("temperature", "Body temperature", (
        Unit("C", aliases=("°C", "degC", "Cel")),
        Unit("F", 5 / _d(9), -32 * 5 / _d(9), aliases=("°F", "degF", "[degF]")),
    ), (25.0, 46.0)),
    Analyte("urine_protein", "Urine protein (24 h)", (
        Unit("g/24h", aliases=("g/24 h", "g/d", "g/day")),
        Unit("mg/24h", _d("0.001"), aliases=("mg/24 h", "mg/d", "mg/day")),
    ), (0.0, 60.0)),
)

ANALYTES: dict[str, Analyte] = {a.name: a for a in _ANALYTES}


def _key(unit: str) -> str:
    # Case-insensitive (casefold also maps the micro sign µ to the Greek μ), nothing more: every spelling is listed above.
    return unicodedata.normalize("NFC", unit.strip()).casefold()


for _a in _ANALYTES:
    for _u in _a.units:
        for _spelling in (_u.name, *_u.aliases):
            if _key(_spelling) in _a._index:  # two units must never share a spelling
                raise RuntimeError(f"{_a.name}: unit spelling {_spelling!r} listed twice")
            _a._index[_key(_spelling)] = _u


def analyte(name: str) -> Analyte:
    """The analyte called ``name``; raises LabValueError(field='analyte') listing the known ones."""
    try:
        return ANALYTES[(name or "").strip().lower()]
    except KeyError:
        raise LabValueError("analyte", f"unknown analyte {name!r}; known: {', '.join(ANALYTES)}") from None


def find_unit(analyte_name: str, unit: str) -> Unit:
    """The accepted unit ``unit`` for the analyte; raises LabValueError(field='unit') listing accepted units."""
    a = analyte(analyte_name)
    found = a._index.get(_key(unit or ""))
    if found is None:
        # the analyte's own units, its default first (other spellings of them are accepted but not offered)
        raise LabValueError("unit", f"unit {unit!r} is not accepted for {a.name}; accepted: "
                                    f"{', '.join(u.name for u in a.units)} (default {a.unit_si})")
    return found


def _decimal(value) -> Decimal:
    if isinstance(value, bool):
        raise LabValueError("value", f"{value!r} is not a number")
    try:
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise LabValueError("value", f"{value!r} is not a number") from None
    if not d.is_finite():
        raise LabValueError("value", f"{value!r} is not a finite number")
    return d


def _to_float(d: Decimal) -> float:
    # 12 significant digits absorb the tail of a repeating fraction (x / 88.4) without hiding real precision.
    return float(round(d, 12 - d.adjusted() - 1)) if d else 0.0


def to_canonical(analyte_name: str, value, unit: str, *, field: str = "value",
                 check_plausible: bool = True) -> tuple[float, str]:
    """(value in the canonical unit, canonical unit) for a value as entered.

    Raises LabValueError naming ``analyte``, ``unit`` or ``field`` (not a number, or outside the
    analyte's plausible range: a creatinine of 4000 mg/dL is a typo, not a result). Reference limits
    (ULN, LLN) are converted with ``check_plausible=False`` and their own ``field`` name.
    """
    a = analyte(analyte_name)
    u = find_unit(a.name, unit)
    try:
        si = _to_float(u.to_canonical(_decimal(value)))
    except LabValueError as e:
        raise LabValueError(field, e.message) from None
    if not check_plausible:
        return si, a.unit_si
    low, high = a.plausible
    # A hair's tolerance: a limit converted to another unit and entered back (2000 mg/dL glucose = 111.012433393
    # mmol/L, rounded) must not fall outside by the rounding alone. The limits only catch typos.
    slack = 1e-9 * max(abs(low), abs(high))
    if not (low - slack <= si <= high + slack):
        raise LabValueError(
            field, f"{value} {unit} ({si:g} {a.unit_si}) is outside the plausible range for {a.name} "
                     f"({low:g}-{high:g} {a.unit_si}); check the value and its unit")
    return si, a.unit_si


def from_canonical(analyte_name: str, value_si: float, unit: str) -> float:
    """Convert a canonical value back to ``unit`` (for display and round-trip tests)."""
    u = find_unit(analyte_name, unit)
    return _to_float(u.from_canonical(_decimal(value_si)))
