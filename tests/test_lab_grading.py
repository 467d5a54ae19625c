"""CTCAE v5.0 lab grading: every grade at and around each boundary ("exactly 3.0 x ULN is grade 2, not 3")."""
import pytest
from hypothesis import given, strategies as st

from safety_service.domain.lab_grading import GRADED_ANALYTES, ctcae_term, grade_blood_pressure, grade_lab
from safety_service.domain.units import LabValueError


def grade(analyte, value, **kw):
    g = grade_lab(analyte, value, **kw)
    return g.grade if g else None


# Creatinine increased: G1 >ULN-1.5xULN; G2 >1.5-3.0xULN; G3 >3.0-6.0xULN; G4 >6.0xULN (ULN 1.2 mg/dL).
@pytest.mark.parametrize("value, expected", [
    (1.2, None), (1.21, 1), (1.8, 1), (1.81, 2), (3.6, 2), (3.61, 3), (7.2, 3), (7.21, 4),
])
def test_it_grades_creatinine_by_uln(value, expected):
    assert grade("creatinine", value, uln=1.2) == expected


# ... and by baseline: G2 >1.5-3.0x baseline; G3 >3.0x baseline; the higher grade wins.
@pytest.mark.parametrize("value, baseline, expected", [
    (1.5, 1.0, None),   # exactly 1.5 x baseline, below ULN 2.0
    (1.51, 1.0, 2),
    (3.0, 1.0, 2),      # exactly 3.0 x baseline; 1.5 x ULN is only grade 1
    (3.01, 1.0, 3),
    (2.1, 2.0, 1),      # 1.05 x baseline, 1.05 x ULN
])
def test_it_grades_creatinine_by_baseline_and_keeps_the_higher_grade(value, baseline, expected):
    assert grade("creatinine", value, uln=2.0, baseline=baseline) == expected


def test_it_says_which_criterion_gave_the_creatinine_grade():
    g = grade_lab("creatinine", 1.5, uln=1.2, baseline=0.9)   # 1.25 x ULN (G1), 1.67 x baseline (G2)
    assert (g.term, g.grade, g.basis) == ("Creatinine increased", 2, "1.67 x baseline")
    assert grade_lab("creatinine", 3.6, uln=1.2).basis == "3 x ULN"


def test_it_grades_creatinine_by_baseline_alone_when_no_uln_is_known():
    assert grade("creatinine", 2.0, baseline=1.0) == 2
    assert grade("creatinine", 2.0) is None


# ALT/AST increased, baseline normal: G1 >ULN-3.0xULN; G2 >3.0-5.0xULN; G3 >5.0-20.0xULN; G4 >20.0xULN (ULN 40).
@pytest.mark.parametrize("analyte", ["alt", "ast"])
@pytest.mark.parametrize("value, expected", [
    (40, None), (40.1, 1), (120, 1), (120.1, 2), (200, 2), (200.1, 3), (800, 3), (800.1, 4),
])
def test_it_grades_transaminases_against_uln_when_baseline_was_normal(analyte, value, expected):
    assert grade(analyte, value, uln=40, baseline=30) == expected
    assert grade(analyte, value, uln=40) == expected          # no baseline: the ULN rules
    assert grade(analyte, value, uln=40, baseline=40) == expected  # baseline at ULN is normal


# Baseline abnormal (60 > ULN 40): G1 1.5-3.0x baseline; G2 >3.0-5.0x; G3 >5.0-20.0x; G4 >20.0x baseline.
@pytest.mark.parametrize("analyte", ["alt", "ast"])
@pytest.mark.parametrize("value, expected", [
    (89.9, None), (90, 1), (180, 1), (180.1, 2), (300, 2), (300.1, 3), (1200, 3), (1200.1, 4),
])
def test_it_grades_transaminases_against_baseline_when_baseline_was_abnormal(analyte, value, expected):
    assert grade(analyte, value, uln=40, baseline=60) == expected


def test_the_transaminase_term_names_the_enzyme():
    assert grade_lab("alt", 100, uln=40).term == "Alanine aminotransferase increased"
    assert grade_lab("ast", 100, uln=40).term == "Aspartate aminotransferase increased"


# Blood bilirubin increased, baseline normal: G1 >ULN-1.5xULN; G2 >1.5-3.0xULN; G3 >3.0-10.0xULN; G4 >10.0xULN.
@pytest.mark.parametrize("value, expected", [
    (1.2, None), (1.21, 1), (1.8, 1), (1.81, 2), (3.6, 2), (3.61, 3), (12.0, 3), (12.01, 4),
])
def test_it_grades_bilirubin_against_uln(value, expected):
    assert grade("bilirubin", value, uln=1.2) == expected


# Baseline abnormal (1.5 > ULN 1.2): G1 >1.0-1.5x baseline; G2 >1.5-3.0x; G3 >3.0-10.0x; G4 >10.0x baseline.
@pytest.mark.parametrize("value, expected", [
    (1.5, None), (1.51, 1), (2.25, 1), (2.26, 2), (4.5, 2), (4.51, 3), (15.0, 3), (15.01, 4),
])
def test_it_grades_bilirubin_against_an_abnormal_baseline(value, expected):
    assert grade("bilirubin", value, uln=1.2, baseline=1.5) == expected


# Anemia: G1 <LLN-10.0; G2 <10.0-8.0; G3 <8.0 g/dL (LLN 12).
@pytest.mark.parametrize("value, expected", [
    (12.0, None), (11.9, 1), (10.0, 1), (9.99, 2), (8.0, 2), (7.99, 3), (4.0, 3),
])
def test_it_grades_anemia(value, expected):
    assert grade("hemoglobin", value, lln=12.0) == expected


def test_it_gives_no_anemia_grade_1_without_an_lln():
    assert grade("hemoglobin", 11.0) is None
    assert grade("hemoglobin", 9.9) == 2


# Platelet count decreased: G1 <LLN-75; G2 <75-50; G3 <50-25; G4 <25 (x10^3/uL; LLN 150).
@pytest.mark.parametrize("value, expected", [
    (150, None), (149.9, 1), (75, 1), (74.9, 2), (50, 2), (49.9, 3), (25, 3), (24.9, 4),
])
def test_it_grades_platelet_count_decreased(value, expected):
    assert grade("platelets", value, lln=150) == expected


# White blood cell decreased: G1 <LLN-3.0; G2 <3.0-2.0; G3 <2.0-1.0; G4 <1.0 (x10^3/uL; LLN 4.0).
@pytest.mark.parametrize("value, expected", [
    (4.0, None), (3.99, 1), (3.0, 1), (2.99, 2), (2.0, 2), (1.99, 3), (1.0, 3), (0.99, 4),
])
def test_it_grades_white_blood_cell_decreased(value, expected):
    assert grade("wbc", value, lln=4.0) == expected


# Neutrophil count decreased: G1 <LLN-1.5; G2 <1.5-1.0; G3 <1.0-0.5; G4 <0.5 (x10^3/uL; LLN 2.0).
@pytest.mark.parametrize("value, expected", [
    (2.0, None), (1.99, 1), (1.5, 1), (1.49, 2), (1.0, 2), (0.99, 3), (0.5, 3), (0.49, 4),
])
def test_it_grades_neutrophil_count_decreased(value, expected):
    assert grade("neutrophils", value, lln=2.0) == expected


# Hyperkalemia: G1 >ULN-5.5; G2 >5.5-6.0; G3 >6.0-7.0; G4 >7.0 mmol/L (ULN 5.0).
@pytest.mark.parametrize("value, expected", [
    (5.0, None), (5.1, 1), (5.5, 1), (5.51, 2), (6.0, 2), (6.01, 3), (7.0, 3), (7.01, 4),
])
def test_it_grades_hyperkalemia(value, expected):
    assert grade("potassium", value, uln=5.0) == expected


def test_it_gives_no_hyperkalemia_grade_1_without_a_uln():
    assert grade("potassium", 5.3) is None
    assert grade("potassium", 5.6) == 2


# Fever: G1 38.0-39.0; G2 >39.0-40.0; G3 >40.0 for <=24 h; G4 >40.0 for >24 h.
@pytest.mark.parametrize("value, hours, expected", [
    (37.9, None, None), (38.0, None, 1), (39.0, None, 1), (39.01, None, 2), (40.0, None, 2),
    (40.01, None, 3), (40.5, 24, 3), (40.5, 24.5, 4),
])
def test_it_grades_fever(value, hours, expected):
    assert grade("temperature", value, duration_hours=hours) == expected


# Hypertension: G1 SBP 120-139 or DBP 80-89; G2 SBP 140-159 or DBP 90-99; G3 SBP >=160 or DBP >=100.
@pytest.mark.parametrize("analyte, value, expected", [
    ("sbp", 119, None), ("sbp", 120, 1), ("sbp", 139.9, 1), ("sbp", 140, 2), ("sbp", 159, 2), ("sbp", 160, 3),
    ("dbp", 79, None), ("dbp", 80, 1), ("dbp", 89, 1), ("dbp", 90, 2), ("dbp", 99, 2), ("dbp", 100, 3),
])
def test_it_grades_hypertension(analyte, value, expected):
    assert grade(analyte, value) == expected


@pytest.mark.parametrize("sbp, dbp, expected", [
    (135, 95, 2), (165, 70, 3), (None, 85, 1), (110, 70, None), (150, None, 2),
])
def test_it_grades_a_blood_pressure_reading_by_its_worse_component(sbp, dbp, expected):
    g = grade_blood_pressure(sbp, dbp)
    assert (g.grade if g else None) == expected


# Proteinuria (adult): G1 >=ULN-<1.0 g/24 h; G2 1.0-<3.5; G3 >=3.5 (ULN 0.15).
@pytest.mark.parametrize("value, expected", [
    (0.14, None), (0.15, 1), (0.99, 1), (1.0, 2), (3.49, 2), (3.5, 3), (8.0, 3),
])
def test_it_grades_proteinuria(value, expected):
    assert grade("urine_protein", value, uln=0.15) == expected


# Chronic kidney disease: G1 eGFR <LLN-60; G2 59-30; G3 29-15; G4 <15 (LLN 90).
@pytest.mark.parametrize("value, expected", [
    (90, None), (89.9, 1), (60, 1), (59.9, 2), (30, 2), (29.9, 3), (15, 3), (14.9, 4),
])
def test_it_grades_chronic_kidney_disease_by_egfr(value, expected):
    assert grade("egfr", value, lln=90) == expected


@pytest.mark.parametrize("analyte, value", [("uacr", 5000), ("hba1c", 12), ("tnf_alpha", 900),
                                            ("il10", 50)])
def test_it_does_not_grade_what_ctcae_grades_clinically_or_not_at_all(analyte, value):
    assert grade_lab(analyte, value, uln=1, lln=0.5) is None
    assert ctcae_term(analyte) is None


def test_it_names_the_ctcae_term_of_each_graded_analyte():
    assert ctcae_term("egfr") == "Chronic kidney disease"
    assert ctcae_term("hemoglobin") == "Anemia"
    assert ctcae_term("temperature") == "Fever"
    assert ctcae_term("sbp") == ctcae_term("dbp") == "Hypertension"


def test_it_refuses_an_unknown_analyte():
    with pytest.raises(LabValueError) as e:
        grade_lab("sodium", 150)
    assert e.value.field == "analyte"


@pytest.mark.parametrize("kw", [{"uln": 0}, {"uln": -1}, {"baseline": 0}])
def test_it_refuses_a_non_positive_reference(kw):
    with pytest.raises(ValueError):
        grade_lab("creatinine", 1.0, **kw)


_INCREASED = ["creatinine", "alt", "ast", "bilirubin", "potassium", "temperature", "sbp", "dbp", "urine_protein"]
_DECREASED = ["egfr", "hemoglobin", "platelets", "wbc", "neutrophils", "glucose", "albumin", "potassium"]
# Potassium is graded both ways (CTCAE v5.0 Hyperkalemia, Hypokalemia): each direction is monotone in its own term.
_TERM = {("potassium", "up"): "Hyperkalemia", ("potassium", "down"): "Hypokalemia"}


def directional(analyte, value, direction, **kw):
    g = grade_lab(analyte, value, **kw)
    term = _TERM.get((analyte, direction))
    return 0 if g is None or (term and g.term != term) else g.grade


def test_every_graded_analyte_is_covered_by_a_monotony_check():
    assert set(_INCREASED) | set(_DECREASED) == GRADED_ANALYTES


@given(analyte=st.sampled_from(_INCREASED), a=st.floats(0.01, 2000), b=st.floats(0.01, 2000))
def test_a_higher_value_never_gets_a_lower_grade_for_an_increased_term(analyte, a, b):
    low, high = sorted((a, b))
    kw = {"uln": 1.0, "baseline": 2.0}
    assert directional(analyte, low, "up", **kw) <= directional(analyte, high, "up", **kw)


@given(analyte=st.sampled_from(_DECREASED), a=st.floats(0.0, 200), b=st.floats(0.0, 200))
def test_a_lower_value_never_gets_a_lower_grade_for_a_decreased_term(analyte, a, b):
    low, high = sorted((a, b))
    assert directional(analyte, high, "down", lln=100) <= directional(analyte, low, "down", lln=100)


# --- issue 13: the terms CTCAE v5.0 grades by number that were missing, and CTCAE's own unit columns -------------

# CTCAE v5.0 Hypokalemia: G1 <LLN-3.0 mmol/L; G2 "Symptomatic with <LLN-3.0" (clinical: not from a number);
# G3 <3.0-2.5; G4 <2.5 mmol/L (LLN 3.5).
@pytest.mark.parametrize("value, expected", [
    (3.5, None), (3.49, 1), (3.0, 1), (2.99, 3), (2.5, 3), (2.49, 4),
])
def test_it_grades_hypokalemia_by_value(value, expected):
    g = grade_lab("potassium", value, lln=3.5, uln=5.0)
    assert (g.grade if g else None) == expected
    assert g is None or g.term == "Hypokalemia"


def test_it_leaves_hypokalemia_grade_2_to_the_investigator():
    # CTCAE v5.0 Hypokalemia grade 2 needs symptoms and an intervention: a number alone never gives it.
    grades = {grade("potassium", v / 100, lln=3.5) for v in range(100, 350)}
    assert 2 not in grades and grades >= {1, 3, 4}


def test_it_still_grades_high_potassium_as_hyperkalemia():
    g = grade_lab("potassium", 6.1, lln=3.5, uln=5.0)
    assert (g.term, g.grade) == ("Hyperkalemia", 3)
    assert grade_lab("potassium", 4.2, lln=3.5, uln=5.0) is None


# CTCAE v5.0 Hypoglycemia, mg/dL column: G1 <LLN-55; G2 <55-40; G3 <40-30; G4 <30 mg/dL (LLN 70).
@pytest.mark.parametrize("value, expected", [
    (70, None), (69.9, 1), (55, 1), (54.9, 2), (40, 2), (39.9, 3), (30, 3), (29.9, 4), (400, None),
])
def test_it_grades_hypoglycemia_in_mg_dl(value, expected):
    assert grade("glucose", value, lln=70) == expected


# ... and its mmol/L column: G1 <LLN-3.0; G2 <3.0-2.2; G3 <2.2-1.7; G4 <1.7 mmol/L (LLN 70 mg/dL = 3.89 mmol/L).
@pytest.mark.parametrize("mmol, expected", [
    (3.9, None), (3.8, 1), (3.0, 1), (2.9, 2), (2.2, 2), (2.1, 3), (1.7, 3), (1.6, 4),
])
def test_it_grades_hypoglycemia_in_mmol_l_with_ctcae_s_mmol_l_column(mmol, expected):
    si = mmol * 18.016  # the stored canonical value; 3.0 mmol/L = 54.05 mg/dL, which the mg/dL column calls grade 2
    g = grade_lab("glucose", si, lln=70, entered=(mmol, "mmol/L"))
    assert (g.grade if g else None) == expected
    assert g is None or (g.term == "Hypoglycemia" and g.basis == f"glucose {mmol} mmol/L")


def test_it_names_hypoglycemia_as_the_glucose_term():
    assert ctcae_term("glucose") == "Hypoglycemia"
    assert ctcae_term("albumin") == "Hypoalbuminemia"


# CTCAE v5.0 Hypoalbuminemia: G1 <LLN-3 g/dL; G2 <3-2 g/dL; G3 <2 g/dL (LLN 3.5); g/L column <LLN-30, <30-20, <20.
@pytest.mark.parametrize("value, expected", [
    (3.5, None), (3.4, 1), (3.0, 1), (2.9, 2), (2.0, 2), (1.9, 3),
])
def test_it_grades_hypoalbuminemia(value, expected):
    assert grade("albumin", value, lln=3.5) == expected
    assert grade("albumin", value, lln=3.5, entered=(value * 10, "g/L")) == expected


# CTCAE v5.0 Anemia, mmol/L column: G1 <LLN-6.2; G2 <6.2-4.9; G3 <4.9 mmol/L. 6.2 mmol/L converts to 9.99 g/dL and
# 4.9 mmol/L to 7.90 g/dL: graded by conversion they would be one grade too high.
@pytest.mark.parametrize("mmol, expected", [
    (7.5, None), (7.4, 1), (6.2, 1), (6.1, 2), (4.9, 2), (4.8, 3),
])
def test_it_grades_hemoglobin_in_mmol_l_with_ctcae_s_mmol_l_column(mmol, expected):
    si = mmol / 0.6206
    g = grade_lab("hemoglobin", si, lln=12.0, entered=(mmol, "mmol/L"))  # LLN 12.0 g/dL = 7.45 mmol/L
    assert (g.grade if g else None) == expected


def test_it_would_overgrade_hemoglobin_at_the_mmol_l_thresholds_without_the_column():
    assert grade("hemoglobin", 4.9 / 0.6206, lln=12.0) == 3
    assert grade("hemoglobin", 4.9 / 0.6206, lln=12.0, entered=(4.9, "mmol/L")) == 2


def test_it_grades_a_canonical_or_unknown_column_unit_by_the_canonical_value():
    assert grade("hemoglobin", 8.0, lln=12.0, entered=(8.0, "g/dL")) == 2
    assert grade("hemoglobin", 7.9, lln=12.0, entered=(79, "g/L")) == 3
    # Creatinine has no unit column (it is graded by multiples of ULN): the entered unit changes nothing.
    assert grade("creatinine", 3.6, uln=1.2, entered=(318.24, "umol/L")) == 2
