"""CTCAE v5.0 grading of the lab terms that CTCAE grades by a number.

Only the numeric criterion is graded here: clinical qualifiers ("hospitalization indicated",
"transfusion indicated", "life-threatening") are for the investigator, which is why a graded lab
only *offers* an AE to confirm. Grade 4 and 5 criteria that are clinical only are never assigned.

Comparisons run in Decimal on each number's shortest decimal form: in floats 3.6 / 1.2 is
3.0000000000000004, and CTCAE says exactly 3.0 x ULN is grade 2, not grade 3.
Source: NCI CTCAE v5.0 (27 Nov 2017), each term's grade definitions as cited on its line.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .units import LabValueError, analyte as _analyte, find_unit, from_canonical


@dataclass(frozen=True)
class LabGrade:
    """A CTCAE v5.0 term and grade, with the basis shown to the nurse (e.g. "3.2 x ULN")."""

    term: str
    grade: int
    basis: str


def _d(x) -> Decimal:
    return Decimal(repr(float(x)))


def _fmt(ratio: Decimal) -> str:
    return f"{float(ratio):.2f}".rstrip("0").rstrip(".")


def _above(v: Decimal, ref: Decimal, bands) -> int | None:
    """The grade of the highest band whose multiple of ``ref`` ``v`` exceeds (or reaches, if inclusive)."""
    for grade, multiple, inclusive in bands:
        limit = Decimal(multiple) * ref
        if v > limit or (inclusive and v == limit):
            return grade
    return None


def _below(v: Decimal, bands) -> int | None:
    """The grade of the first band (most severe first) whose limit ``v`` is under."""
    for grade, limit in bands:
        if limit is not None and v < limit:
            return grade
    return None


def _creatinine(v, uln, lln, baseline, **_):
    # CTCAE v5.0 Creatinine increased: G1 >ULN-1.5xULN; G2 >1.5-3.0x baseline, >1.5-3.0xULN;
    # G3 >3.0x baseline, >3.0-6.0xULN; G4 >6.0xULN. The higher of the two readings wins.
    found = []
    if uln is not None:
        g = _above(v, uln, [(4, "6.0", False), (3, "3.0", False), (2, "1.5", False), (1, "1", False)])
        if g:
            found.append((g, f"{_fmt(v / uln)} x ULN"))
    if baseline is not None:
        g = _above(v, baseline, [(3, "3.0", False), (2, "1.5", False)])
        if g:
            found.append((g, f"{_fmt(v / baseline)} x baseline"))
    return max(found, key=lambda f: f[0]) if found else None


def _transaminase(v, uln, lln, baseline, **_):
    # CTCAE v5.0 ALT/AST increased, baseline normal: G1 >ULN-3.0xULN; G2 >3.0-5.0xULN; G3 >5.0-20.0xULN; G4 >20.0xULN.
    # Baseline abnormal: G1 1.5-3.0x baseline; G2 >3.0-5.0x; G3 >5.0-20.0x; G4 >20.0x baseline.
    if baseline is not None and uln is not None and baseline > uln:
        g = _above(v, baseline, [(4, "20.0", False), (3, "5.0", False), (2, "3.0", False), (1, "1.5", True)])
        return (g, f"{_fmt(v / baseline)} x baseline (baseline above ULN)") if g else None
    if uln is None:
        return None
    g = _above(v, uln, [(4, "20.0", False), (3, "5.0", False), (2, "3.0", False), (1, "1", False)])
    return (g, f"{_fmt(v / uln)} x ULN") if g else None


def _bilirubin(v, uln, lln, baseline, **_):
    # CTCAE v5.0 Blood bilirubin increased, baseline normal: G1 >ULN-1.5xULN; G2 >1.5-3.0xULN; G3 >3.0-10.0xULN;
    # G4 >10.0xULN. Baseline abnormal: G1 >1.0-1.5x baseline; G2 >1.5-3.0x; G3 >3.0-10.0x; G4 >10.0x baseline.
    if baseline is not None and uln is not None and baseline > uln:
        g = _above(v, baseline, [(4, "10.0", False), (3, "3.0", False), (2, "1.5", False), (1, "1.0", False)])
        return (g, f"{_fmt(v / baseline)} x baseline (baseline above ULN)") if g else None
    if uln is None:
        return None
    g = _above(v, uln, [(4, "10.0", False), (3, "3.0", False), (2, "1.5", False), (1, "1", False)])
    return (g, f"{_fmt(v / uln)} x ULN") if g else None


def _decreased(label: str, columns: dict[str, tuple[tuple[int, str], ...]]):
    """A "<LLN - a; <a - b; <b" grader with one column of limits per unit CTCAE prints (most severe first).

    CTCAE gives some terms their own column for a unit (Anemia: g/dL, mmol/L, g/L). A value entered in such a unit
    is graded with that column, not converted: 4.9 mmol/L Hgb is grade 2 by the mmol/L column ("<6.2 - 4.9")
    although it converts to 7.9 g/dL. The canonical unit's column comes first.
    """
    bands = {unit: tuple((g, Decimal(limit)) for g, limit in limits) for unit, limits in columns.items()}

    def grade(v, uln, lln, baseline, unit=None, **_):
        unit = unit if unit in bands else next(iter(bands))
        g = _below(v, [*bands[unit], (1, lln)])
        return (g, f"{label} {v} {unit}") if g else None
    grade.units = frozenset(bands)
    return grade


# CTCAE v5.0 Anemia: G1 Hgb <LLN-10.0 g/dL, <LLN-6.2 mmol/L, <LLN-100 g/L; G2 <10.0-8.0 g/dL, <6.2-4.9 mmol/L,
# <100-80 g/L; G3 <8.0 g/dL, <4.9 mmol/L, <80 g/L (G4 life-threatening: clinical only).
_anemia = _decreased("Hgb", {"g/dL": ((3, "8.0"), (2, "10.0")), "g/L": ((3, "80"), (2, "100")),
                             "mmol/L": ((3, "4.9"), (2, "6.2"))})

# CTCAE v5.0 Hypoglycemia: G1 <LLN-55 mg/dL, <LLN-3.0 mmol/L; G2 <55-40 mg/dL, <3.0-2.2 mmol/L;
# G3 <40-30 mg/dL, <2.2-1.7 mmol/L; G4 <30 mg/dL, <1.7 mmol/L (the columns differ: 3.0 mmol/L is 54.0 mg/dL).
_hypoglycemia = _decreased("glucose", {"mg/dL": ((4, "30"), (3, "40"), (2, "55")),
                                       "mmol/L": ((4, "1.7"), (3, "2.2"), (2, "3.0"))})

# CTCAE v5.0 Hypoalbuminemia: G1 <LLN-3 g/dL, <LLN-30 g/L; G2 <3-2 g/dL, <30-20 g/L; G3 <2 g/dL, <20 g/L.
_hypoalbuminemia = _decreased("albumin", {"g/dL": ((3, "2"), (2, "3")), "g/L": ((3, "20"), (2, "30"))})


def _platelets(v, uln, lln, baseline, **_):
    # CTCAE v5.0 Platelet count decreased: G1 <LLN-75,000/mm3; G2 <75,000-50,000; G3 <50,000-25,000; G4 <25,000.
    g = _below(v, [(4, Decimal("25")), (3, Decimal("50")), (2, Decimal("75")), (1, lln)])
    return (g, f"platelets {v} x10^3/uL") if g else None


def _wbc(v, uln, lln, baseline, **_):
    # CTCAE v5.0 White blood cell decreased: G1 <LLN-3,000/mm3; G2 <3,000-2,000; G3 <2,000-1,000; G4 <1,000.
    g = _below(v, [(4, Decimal("1.0")), (3, Decimal("2.0")), (2, Decimal("3.0")), (1, lln)])
    return (g, f"WBC {v} x10^3/uL") if g else None


def _neutrophils(v, uln, lln, baseline, **_):
    # CTCAE v5.0 Neutrophil count decreased: G1 <LLN-1,500/mm3; G2 <1,500-1,000; G3 <1,000-500; G4 <500.
    g = _below(v, [(4, Decimal("0.5")), (3, Decimal("1.0")), (2, Decimal("1.5")), (1, lln)])
    return (g, f"ANC {v} x10^3/uL") if g else None


def _potassium(v, uln, lln, baseline, **_):
    # CTCAE v5.0 Hyperkalemia: G1 >ULN-5.5 mmol/L; G2 >5.5-6.0; G3 >6.0-7.0; G4 >7.0 mmol/L.
    for grade, limit in ((4, Decimal("7.0")), (3, Decimal("6.0")), (2, Decimal("5.5")), (1, uln)):
        if limit is not None and v > limit:
            return grade, f"K {v} mmol/L", "Hyperkalemia"
    # CTCAE v5.0 Hypokalemia: G1 <LLN-3.0 mmol/L; G2 "Symptomatic with <LLN-3.0 mmol/L; intervention indicated";
    # G3 <3.0-2.5; G4 <2.5 mmol/L. Graded by value, as CTCAE's numeric columns allow: <LLN-3.0 is grade 1, and
    # grade 2 (symptoms, intervention) is the investigator's call when confirming the offered AE, since a number
    # cannot tell it. (admiral's worst case, "assume symptomatic", would offer grade 2 for every low potassium.)
    g = _below(v, [(4, Decimal("2.5")), (3, Decimal("3.0")), (1, lln)])
    return (g, f"K {v} mmol/L", "Hypokalemia") if g else None


def _fever(v, uln, lln, baseline, duration_hours=None, **_):
    # CTCAE v5.0 Fever: G1 38.0-39.0 C; G2 >39.0-40.0 C; G3 >40.0 C for <=24 h; G4 >40.0 C for >24 h.
    if v > Decimal("40.0"):
        grade = 4 if duration_hours is not None and duration_hours > 24 else 3
    elif v > Decimal("39.0"):
        grade = 2
    elif v >= Decimal("38.0"):
        grade = 1
    else:
        return None
    return grade, f"{v} C"


def _hypertension(bands, label):
    def grade(v, uln, lln, baseline, **_):
        # CTCAE v5.0 Hypertension (adult): G1 SBP 120-139 or DBP 80-89; G2 SBP 140-159 or DBP 90-99;
        # G3 SBP >=160 or DBP >=100 (G2/G3 treatment qualifiers and G4 are clinical, for the investigator).
        for g, limit in bands:
            if v >= limit:
                return g, f"{label} {v} mmHg"
        return None
    return grade


def _proteinuria(v, uln, lln, baseline, **_):
    # CTCAE v5.0 Proteinuria (adult): G1 urinary protein >=ULN-<1.0 g/24 h; G2 1.0-<3.5 g/24 h; G3 >=3.5 g/24 h.
    for grade, limit in ((3, Decimal("3.5")), (2, Decimal("1.0")), (1, uln)):
        if limit is not None and v >= limit:
            return grade, f"{v} g/24 h"
    return None


def _ckd(v, uln, lln, baseline, **_):
    # CTCAE v5.0 Chronic kidney disease: G1 eGFR <LLN-60; G2 59-30; G3 29-15; G4 <15 mL/min/1.73 m2
    # (whole-number bands read as continuous: below 60 is G2, below 30 G3, below 15 G4).
    g = _below(v, [(4, Decimal("15")), (3, Decimal("30")), (2, Decimal("60")), (1, lln)])
    return (g, f"eGFR {v}") if g else None


# analyte -> (CTCAE v5.0 terms, grader); a grader returning a third item names which of its terms applies.
# Analytes absent here (UACR, HbA1c, cytokines) have no numeric CTCAE grade, and glucose is graded low only:
# Hyperglycemia is graded clinically in v5.0, and UACR is albumin, not the protein CTCAE grades.
_GRADERS = {
    "creatinine": ("Creatinine increased", _creatinine),
    "egfr": ("Chronic kidney disease", _ckd),
    "alt": ("Alanine aminotransferase increased", _transaminase),
    "ast": ("Aspartate aminotransferase increased", _transaminase),
    "bilirubin": ("Blood bilirubin increased", _bilirubin),
    "hemoglobin": ("Anemia", _anemia),
    "platelets": ("Platelet count decreased", _platelets),
    "wbc": ("White blood cell decreased", _wbc),
    "neutrophils": ("Neutrophil count decreased", _neutrophils),
    "potassium": (("Hyperkalemia", "Hypokalemia"), _potassium),
    "glucose": ("Hypoglycemia", _hypoglycemia),
    "albumin": ("Hypoalbuminemia", _hypoalbuminemia),
    "temperature": ("Fever", _fever),
    "sbp": ("Hypertension", _hypertension(((3, Decimal(160)), (2, Decimal(140)), (1, Decimal(120))), "SBP")),
    "dbp": ("Hypertension", _hypertension(((3, Decimal(100)), (2, Decimal(90)), (1, Decimal(80))), "DBP")),
    "urine_protein": ("Proteinuria", _proteinuria),
}

GRADED_ANALYTES = frozenset(_GRADERS)


def ctcae_terms(analyte: str) -> tuple[str, ...]:
    """Every CTCAE v5.0 term an analyte may be graded under (potassium: Hyperkalemia and Hypokalemia)."""
    entry = _GRADERS.get(_analyte(analyte).name)
    if entry is None:
        return ()
    return entry[0] if isinstance(entry[0], tuple) else (entry[0],)


def ctcae_term(analyte: str) -> str | None:
    """The (first) CTCAE v5.0 term an analyte is graded under, or None if CTCAE grades it clinically or not at all."""
    terms = ctcae_terms(analyte)
    return terms[0] if terms else None


def grade_lab(analyte: str, value: float, *, uln: float | None = None, lln: float | None = None,
              baseline: float | None = None, duration_hours: float | None = None,
              entered: tuple[float, str] | None = None) -> LabGrade | None:
    """The CTCAE v5.0 grade of one lab value in its canonical unit, or None when it meets no grade.

    ``entered`` is (value, unit) as the lab reported it: where CTCAE prints its own column for that unit
    (Hgb mmol/L, glucose mmol/L, albumin g/L) the value is graded with that column and the LLN converted to it,
    so a value exactly at a printed threshold is graded as CTCAE says, not as its rounded conversion.

    ``baseline`` (same unit) enables the "x baseline" criteria; a baseline above ULN switches ALT, AST
    and bilirubin to their "if baseline was abnormal" rules. A grade whose lower band is "<LLN" or ">ULN"
    is only given when that limit is known. Raises LabValueError(field='analyte') for an unknown analyte
    and ValueError for a non-positive ULN or baseline (a ratio to them would be meaningless).
    """
    name = _analyte(analyte).name
    entry = _GRADERS.get(name)
    if entry is None:
        return None
    for label, ref in (("uln", uln), ("baseline", baseline)):
        if ref is not None and not ref > 0:
            raise ValueError(f"{label} must be > 0, not {ref!r}")
    terms, grader = entry
    unit = None
    if entered is not None:
        unit = find_unit(name, entered[1]).name
        if unit in getattr(grader, "units", ()) and unit != _analyte(name).unit_si:
            value = entered[0]
            lln = None if lln is None else from_canonical(name, lln, unit)
        else:
            unit = None
    found = grader(_d(value), None if uln is None else _d(uln), None if lln is None else _d(lln),
                   None if baseline is None else _d(baseline), duration_hours=duration_hours, unit=unit)
    if found is None:
        return None
    term = found[2] if len(found) > 2 else (terms if isinstance(terms, str) else terms[0])
    return LabGrade(term, found[0], found[1])


def grade_blood_pressure(sbp: float | None, dbp: float | None) -> LabGrade | None:
    """The Hypertension grade of one reading: the higher of the SBP and DBP grades (CTCAE v5.0: "SBP ... or DBP")."""
    grades = [g for g in (sbp is not None and grade_lab("sbp", sbp), dbp is not None and grade_lab("dbp", dbp)) if g]
    return max(grades, key=lambda g: g.grade) if grades else None


__all__ = ["LabGrade", "grade_lab", "grade_blood_pressure", "ctcae_term", "ctcae_terms", "GRADED_ANALYTES", "LabValueError"]
