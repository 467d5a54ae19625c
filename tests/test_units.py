"""Units: every analyte's accepted units, exact conversions both ways, refusals that name the field."""
import math

import pytest
from hypothesis import given, strategies as st, example

from safety_service.domain import units
from safety_service.domain.units import LabValueError, from_canonical, to_canonical

# The canonical units the team agreed (task brief, "Shared data shapes").
AGREED_CANONICAL = {
    "creatinine": "mg/dL", "egfr": "mL/min/1.73m2", "uacr": "mg/g", "alt": "U/L", "ast": "U/L",
    "bilirubin": "mg/dL", "hemoglobin": "g/dL", "platelets": "10^3/uL", "wbc": "10^3/uL",
    "neutrophils": "10^3/uL", "potassium": "mmol/L", "hba1c": "%", "glucose": "mg/dL", "tnf_alpha": "pg/mL",
    "il10": "pg/mL", "sbp": "mmHg", "dbp": "mmHg", "temperature": "C", "urine_protein": "g/24h",
}


def test_it_has_every_contract_analyte_with_the_agreed_canonical_unit():
    assert {a: units.ANALYTES[a].unit_si for a in AGREED_CANONICAL} == AGREED_CANONICAL


@pytest.mark.parametrize("analyte, value, unit, expected", [
    ("creatinine", 88.4, "umol/L", 1.0),            # 1 mg/dL = 88.4 umol/L
    ("creatinine", 318.24, "umol/L", 3.6),          # exact, not 3.5999999
    ("creatinine", 1.2, "mg/dL", 1.2),
    ("uacr", 3.0, "mg/mmol", 26.52),                # 1 mg/mmol = 8.84 mg/g
    ("uacr", 30, "mg/g", 30.0),
    ("alt", 1, "ukat/L", 60.0),                     # 1 ukat/L = 60 U/L
    ("ast", 45, "IU/L", 45.0),
    ("bilirubin", 17.1, "umol/L", 1.0),             # 1 mg/dL = 17.1 umol/L
    ("hemoglobin", 100, "g/L", 10.0),               # 1 g/dL = 10 g/L
    ("hemoglobin", 6.206, "mmol/L", 10.0),          # 1 g/dL = 0.6206 mmol/L
    ("platelets", 150000, "/uL", 150.0),            # 1,000/uL = 1 x 10^3/uL
    ("platelets", 150, "10^9/L", 150.0),            # 10^9/L = 10^3/uL
    ("platelets", 75000, "/mm3", 75.0),
    ("wbc", 3000, "cells/uL", 3.0),
    ("neutrophils", 1.5, "x10^9/L", 1.5),
    ("potassium", 5.5, "mEq/L", 5.5),
    ("hba1c", 53, "mmol/mol", 7.00044),             # IFCC 53 mmol/mol ~ NGSP 7.0 %
    ("hba1c", 86, "mmol/mol", 10.01928),
    ("glucose", 5.5, "mmol/L", 99.088),             # 1 mmol/L = 18.016 mg/dL
    ("tnf_alpha", 12.5, "ng/L", 12.5),
    ("sbp", 140, "mm Hg", 140.0),
    ("temperature", 100.4, "F", 38.0),              # (F - 32) x 5/9
    ("temperature", 98.6, "°F", 37.0),
    ("urine_protein", 500, "mg/24h", 0.5),
])
def test_it_converts_to_the_canonical_unit(analyte, value, unit, expected):
    si, unit_si = to_canonical(analyte, value, unit)
    assert si == pytest.approx(expected, abs=1e-9)
    assert unit_si == AGREED_CANONICAL[analyte]


@pytest.mark.parametrize("analyte, value_si, unit, expected", [
    ("creatinine", 1.0, "umol/L", 88.4),
    ("uacr", 1.0, "mg/mmol", 0.1131),               # DOMAIN.md: 1 mg/g = 0.113 mg/mmol
    ("hemoglobin", 8.0, "g/L", 80.0),
    ("hemoglobin", 10.0, "mmol/L", 6.206),
    ("bilirubin", 1.0, "umol/L", 17.1),
    ("platelets", 100, "/uL", 100000.0),
    ("glucose", 180.16, "mmol/L", 10.0),
    ("temperature", 40.0, "F", 104.0),
    ("hba1c", 10.0, "mmol/mol", 85.789),         # (10 - 2.152) / 0.09148
])
def test_it_converts_back_from_the_canonical_unit(analyte, value_si, unit, expected):
    assert from_canonical(analyte, value_si, unit) == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize("spelling", ["umol/L", "µmol/L", "μmol/L", "UMOL/L", " umol/l ", "micromol/L"])
def test_it_accepts_each_listed_spelling_of_micromoles(spelling):
    assert to_canonical("creatinine", 88.4, spelling) == (1.0, "mg/dL")


@pytest.mark.parametrize("analyte, unit", [
    ("creatinine", "mg"),
    ("creatinine", "mmol/L"),     # plausible-looking, but not listed: never guessed
    ("hemoglobin", "mg/dL"),
    ("platelets", "10^6/uL"),
    ("egfr", "mL/min"),           # not normalised to 1.73 m2
    ("glucose", ""),
])
def test_it_refuses_an_unknown_unit_naming_the_field_and_the_accepted_units(analyte, unit):
    with pytest.raises(LabValueError) as e:
        to_canonical(analyte, 1.0, unit)
    assert e.value.field == "unit"
    own = [u.name for u in units.ANALYTES[analyte].units]  # its own units, the default first (issue 16)
    assert e.value.message.endswith(f"accepted: {', '.join(own)} (default {own[0]})")


def test_it_refuses_an_unknown_analyte():
    with pytest.raises(LabValueError) as e:
        to_canonical("sodium", 140, "mmol/L")
    assert e.value.field == "analyte"
    assert "creatinine" in e.value.message


@pytest.mark.parametrize("value", ["abc", "", None, float("nan"), float("inf"), True, "1,2"])
def test_it_refuses_a_value_that_is_not_a_finite_number(value):
    with pytest.raises(LabValueError) as e:
        to_canonical("creatinine", value, "mg/dL")
    assert e.value.field == "value"


@pytest.mark.parametrize("analyte, value, unit", [
    ("creatinine", 4000, "mg/dL"),          # a typo, not a result
    ("creatinine", 4000, "umol/L"),         # 45 mg/dL
    ("creatinine", 40.01, "mg/dL"),
    ("hemoglobin", 120, "g/dL"),            # g/L entered as g/dL
    ("temperature", 212, "F"),
    ("platelets", -5, "10^3/uL"),
    ("hba1c", 86, "%"),                     # mmol/mol entered as %
])
def test_it_refuses_an_implausible_value_naming_the_field(analyte, value, unit):
    with pytest.raises(LabValueError) as e:
        to_canonical(analyte, value, unit)
    assert e.value.field == "value"
    assert "plausible" in e.value.message


def test_it_accepts_the_plausibility_limit_itself():
    assert to_canonical("creatinine", 40, "mg/dL") == (40.0, "mg/dL")
    assert to_canonical("creatinine", "0.05", "mg/dL") == (0.05, "mg/dL")


def test_it_accepts_numbers_given_as_text():
    assert to_canonical("creatinine", " 1.25 ", "mg/dL") == (1.25, "mg/dL")


def test_it_lists_no_spelling_twice_within_an_analyte():
    for a in units.ANALYTES.values():
        keys = [units._key(s) for s in a.accepted()]
        assert len(keys) == len(set(keys)), a.name


_PAIRS = [(a.name, u.name) for a in units.ANALYTES.values() for u in a.units]


@given(pair=st.sampled_from(_PAIRS), fraction=st.floats(0, 1))
@example(pair=("glucose", "mmol/L"), fraction=1.0)  # the plausible limit, rounded in mmol/L, must convert back
def test_it_round_trips_every_unit(pair, fraction):
    analyte, unit = pair
    low, high = units.ANALYTES[analyte].plausible
    value_si = round(low + (high - low) * fraction, 6)
    entered = from_canonical(analyte, value_si, unit)
    back, _ = to_canonical(analyte, entered, unit)
    assert math.isclose(back, value_si, rel_tol=1e-9, abs_tol=1e-9)
