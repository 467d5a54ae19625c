"""Kidney function: eGFR by the CKD-EPI 2021 creatinine equation and the KDIGO 2012 stages.

The trial's primary efficacy and safety read-out is eGFR from serum creatinine (protocol: CKD-EPI),
so every creatinine result carries the eGFR computed here from the participant's sex and age
on the day of collection. Raises ValueError on an impossible input (never returns a guess).
"""
from __future__ import annotations

from datetime import date


def age_on(birth_date: date, on: date) -> int:
    """Age in whole years on ``on`` (the birthday itself counts); raises ValueError if ``on`` precedes birth."""
    if on < birth_date:
        raise ValueError(f"date {on} is before the birth date {birth_date}")
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def ckd_epi_2021(creatinine_mg_dl: float, age_years: int, sex: str) -> float:
    """eGFR in mL/min/1.73 m2, unrounded.

    Raises ValueError for a non-positive creatinine, an age under 18 (the equation is for adults)
    or a sex other than "F"/"M".
    """
    if sex not in ("F", "M"):
        raise ValueError(f"sex must be 'F' or 'M', not {sex!r}")
    if not creatinine_mg_dl > 0:
        raise ValueError(f"creatinine must be > 0 mg/dL, not {creatinine_mg_dl!r}")
    if age_years < 18:
        raise ValueError(f"CKD-EPI 2021 is validated for adults; age {age_years} is under 18")
    # CKD-EPI 2021 (Inker et al., NEJM 2021;385:1737-49), race-free:
    # 142 x min(Scr/k,1)^a x max(Scr/k,1)^-1.200 x 0.9938^age x 1.012 [female]; k 0.7 F / 0.9 M; a -0.241 F / -0.302 M.
    kappa, alpha, sex_factor = (0.7, -0.241, 1.012) if sex == "F" else (0.9, -0.302, 1.0)
    ratio = creatinine_mg_dl / kappa
    return 142.0 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.200 * 0.9938 ** age_years * sex_factor


def g_stage(egfr: float) -> str:
    """KDIGO 2012 GFR category: G1 >=90, G2 60-89, G3a 45-59, G3b 30-44, G4 15-29, G5 <15."""
    # KDIGO 2012 CKD guideline, table 5 (bands of whole mL/min/1.73 m2; a value below a lower bound is the next stage).
    for lower, stage in ((90, "G1"), (60, "G2"), (45, "G3a"), (30, "G3b"), (15, "G4")):
        if egfr >= lower:
            return stage
    return "G5"


# KDIGO 2012 CKD guideline, table 6: the albuminuria categories in each unit KDIGO prints. The columns are rounded
# equivalents (3 mg/mmol = 26.5 mg/g), so a value is placed with the column of its own unit, never a conversion.
_A_LIMITS = {"mg/g": (30, 300), "mg/mmol": (3, 30)}


def a_stage(uacr: float, unit: str = "mg/g") -> str:
    """KDIGO 2012 albuminuria category: A1 <30, A2 30-300, A3 >300 mg/g; A1 <3, A2 3-30, A3 >30 mg/mmol.

    Raises KeyError for a unit KDIGO gives no column for (callers pass the lab's canonical unit name).
    """
    low, high = _A_LIMITS[unit]
    # KDIGO 2012 CKD guideline, table 6: A2 includes both its bounds (30 and 300 mg/g; 3 and 30 mg/mmol).
    if uacr < low:
        return "A1"
    return "A2" if uacr <= high else "A3"
