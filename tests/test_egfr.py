"""eGFR by CKD-EPI 2021 (Inker, NEJM 2021) and the KDIGO 2012 G and A stages."""
from datetime import date

import pytest

from safety_service.domain.egfr import a_stage, age_on, ckd_epi_2021, g_stage


@pytest.mark.parametrize("scr, age, sex, expected", [
    # Worked values of DOMAIN.md, re-derived by hand from the published equation.
    (1.5, 55, "M", 54.6),   # above kappa (0.9): 142 x (1.5/0.9)^-1.200 x 0.9938^55
    (1.2, 60, "F", 51.8),   # above kappa (0.7): 142 x (1.2/0.7)^-1.200 x 0.9938^60 x 1.012
    (0.8, 45, "F", 92.5),   # above kappa
    # Below kappa: the alpha exponent applies (-0.241 F, -0.302 M).
    (0.5, 40, "F", 121.5),  # 142 x (0.5/0.7)^-0.241 x 0.9938^40 x 1.012
    (0.7, 65, "M", 102.3),  # 142 x (0.7/0.9)^-0.302 x 0.9938^65
    # At kappa both terms are 1.
    (0.7, 50, "F", 105.3),  # 142 x 0.9938^50 x 1.012
    (0.9, 50, "M", 104.05),  # 142 x 0.9938^50
    (1.0, 50, "M", 91.7),
])
def test_it_matches_worked_values(scr, age, sex, expected):
    assert ckd_epi_2021(scr, age, sex) == pytest.approx(expected, abs=0.05)


@pytest.mark.parametrize("sex, kappa", [("F", 0.7), ("M", 0.9)])
def test_it_is_continuous_at_kappa(sex, kappa):
    below, at, above = (ckd_epi_2021(kappa + d, 50, sex) for d in (-1e-9, 0, 1e-9))
    assert below == pytest.approx(at, rel=1e-6) and above == pytest.approx(at, rel=1e-6)


def test_it_falls_as_creatinine_and_age_rise():
    assert ckd_epi_2021(1.6, 55, "M") < ckd_epi_2021(1.5, 55, "M")
    assert ckd_epi_2021(1.5, 56, "M") < ckd_epi_2021(1.5, 55, "M")


def test_a_woman_has_a_lower_egfr_than_a_man_at_the_same_high_creatinine():
    # Above both kappas the female term (0.7) divides by less, outweighing the 1.012 factor.
    assert ckd_epi_2021(2.0, 60, "F") < ckd_epi_2021(2.0, 60, "M")


@pytest.mark.parametrize("scr, age, sex", [(0, 50, "F"), (-1, 50, "M"), (1.0, 17, "F"), (1.0, 50, "X"), (1.0, 50, "f")])
def test_it_refuses_inputs_outside_the_equation(scr, age, sex):
    with pytest.raises(ValueError):
        ckd_epi_2021(scr, age, sex)


@pytest.mark.parametrize("birth, on, expected", [
    (date(1970, 6, 15), date(2026, 6, 14), 55),   # the day before the birthday
    (date(1970, 6, 15), date(2026, 6, 15), 56),   # the birthday itself
    (date(1968, 2, 29), date(2026, 2, 28), 57),   # a leap-day birthday is reached on 1 March
    (date(1968, 2, 29), date(2026, 3, 1), 58),
])
def test_it_counts_age_in_whole_years_on_the_collection_day(birth, on, expected):
    assert age_on(birth, on) == expected


def test_it_refuses_a_collection_before_birth():
    with pytest.raises(ValueError):
        age_on(date(1970, 1, 1), date(1969, 12, 31))


@pytest.mark.parametrize("egfr, stage", [
    (120, "G1"), (90, "G1"), (89.9, "G2"), (60, "G2"), (59.9, "G3a"), (45, "G3a"), (44.9, "G3b"),
    (30, "G3b"), (29.9, "G4"), (15, "G4"), (14.9, "G5"), (3, "G5"),
])
def test_it_stages_gfr_as_kdigo_2012(egfr, stage):
    assert g_stage(egfr) == stage


@pytest.mark.parametrize("uacr, stage", [(5, "A1"), (29.9, "A1"), (30, "A2"), (300, "A2"), (300.1, "A3"), (3000, "A3")])
def test_it_stages_albuminuria_as_kdigo_2012(uacr, stage):
    assert a_stage(uacr) == stage


# KDIGO 2012 CKD guideline, table 6, mg/mmol column: A1 <3, A2 3-30, A3 >30 mg/mmol (issue 13). 3 mg/mmol converts
# to 26.5 mg/g, which the mg/g column would call A1: the column of the unit reported decides.
@pytest.mark.parametrize("uacr, stage", [(2.9, "A1"), (3, "A2"), (30, "A2"), (30.1, "A3")])
def test_it_stages_albuminuria_in_mg_mmol_with_kdigo_s_own_column(uacr, stage):
    assert a_stage(uacr, "mg/mmol") == stage
    assert a_stage(3 * 8.84) == "A1"
