"""A result reported in a unit CTCAE or KDIGO print their own column for is graded with that column (issue 13)."""

URL = "/api/v1/participants/S01-001/labs"


def post(nina, **data):
    response = nina.post(URL, {"collected_at": "2026-02-10T08:00:00+00:00", **data})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_it_grades_a_hemoglobin_of_exactly_4_9_mmol_l_as_anemia_grade_2(api, enrol):
    # CTCAE v5.0 Anemia grade 2: "<6.2 - 4.9 mmol/L"; 4.9 mmol/L is 7.9 g/dL, which the g/dL column calls grade 3.
    enrol("S01-001")
    nina = api("nurse_nina")
    body = post(nina, analyte="hemoglobin", value=4.9, unit="mmol/L")
    assert (body["ctcae_term"], body["ctcae_grade"]) == ("Anemia", 2)
    assert post(nina, analyte="hemoglobin", value=4.8, unit="mmol/L",
                collected_at="2026-02-11T08:00:00+00:00")["ctcae_grade"] == 3


def test_it_grades_a_glucose_of_exactly_3_0_mmol_l_as_hypoglycemia_grade_1(api, enrol):
    # CTCAE v5.0 Hypoglycemia grade 1: "<LLN - 3.0 mmol/L"; 3.0 mmol/L is 54.05 mg/dL, below the mg/dL column's 55.
    enrol("S01-001")
    body = post(api("nurse_nina"), analyte="glucose", value=3.0, unit="mmol/L")
    assert (body["ctcae_term"], body["ctcae_grade"]) == ("Hypoglycemia", 1)


def test_it_grades_a_low_potassium_and_a_low_albumin(api, enrol):
    # CTCAE v5.0 Hypokalemia grade 3 "<3.0 - 2.5 mmol/L"; Hypoalbuminemia grade 2 "<30 - 20 g/L".
    enrol("S01-001")
    nina = api("nurse_nina")
    assert (lambda b: (b["ctcae_term"], b["ctcae_grade"]))(post(nina, analyte="potassium", value=2.9,
                                                                unit="mmol/L")) == ("Hypokalemia", 3)
    albumin = post(nina, analyte="albumin", value=30, unit="g/L")  # study LLN 3.5 g/dL: 30 g/L is "<LLN - 30"
    assert (albumin["value_si"], albumin["unit_si"], albumin["ctcae_term"], albumin["ctcae_grade"]) == (
        3.0, "g/dL", "Hypoalbuminemia", 1)


def test_it_gives_a_uacr_of_exactly_3_mg_mmol_the_kdigo_a2_category(api, enrol):
    # KDIGO 2012 table 6: A2 is 3-30 mg/mmol; 3 mg/mmol converts to 26.5 mg/g, A1 in the mg/g column.
    enrol("S01-001")
    nina = api("nurse_nina")
    assert post(nina, analyte="uacr", value=3, unit="mg/mmol")["kdigo_stage"] == "A2"
    assert post(nina, analyte="uacr", value=2.9, unit="mg/mmol",
                collected_at="2026-02-11T08:00:00+00:00")["kdigo_stage"] == "A1"
