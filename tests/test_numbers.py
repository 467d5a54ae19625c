"""Numbers as people read them (domain/numbers.py): clinical precision per analyte, no exponent, cells as 10^n."""
from __future__ import annotations

import pytest

from safety_service.domain import numbers


@pytest.mark.parametrize("value,analyte,unit,shown", [
    (2.368, "creatinine", "mg/dL", "2.37"),      # creatinine: 2 decimals in mg/dL
    (209.3, "creatinine", "umol/L", "209"),      # whole umol/L
    (37.25, "egfr", None, "37.3"),               # eGFR: 1 decimal, half up
    (1362.4, "uacr", "mg/g", "1362"),            # UACR: whole mg/g, never "1.36e+03"
    (2.345, "creatinine", "mg/dL", "2.35"),      # half up on the decimal form, not binary half-even
    (-0.004, "creatinine", "mg/dL", "0.00"),     # no "-0.00"
    (5.0, "potassium", "mmol/L", "5.0"),
    (3.14159, "unknown_analyte", None, "3.14"),  # an analyte without a precision: 2 decimals
])
def test_it_shows_each_analyte_with_its_clinical_precision(value, analyte, unit, shown):
    assert numbers.number(value, analyte, unit) == shown


def test_it_writes_a_change_with_its_sign_and_nothing_for_no_value():
    assert numbers.number(0.9457, 2, sign=True) == "+0.95"
    assert numbers.number(-0.9457, 2, sign=True) == "-0.95"
    assert numbers.number(None) == "—" and numbers.number(float("nan"), 1, empty="") == ""
    assert "e" not in numbers.number(1.36e3, 0) and numbers.number(1e-7, 2) == "0.00"


@pytest.mark.parametrize("value,shown", [(1.1e8, "1.1 × 10⁸"), (6.85e7, "6.9 × 10⁷"), (9.96e7, "1.0 × 10⁸"),
                                         (1.0e6, "1.0 × 10⁶"), (0, "0")])
def test_it_writes_a_cell_dose_as_the_protocol_does(value, shown):
    assert numbers.cells(value) == shown
