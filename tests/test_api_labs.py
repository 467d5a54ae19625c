"""POST and GET /api/v1/participants/<subject_id>/labs, as CONTRACT.md promises them."""
import pytest

from safety_service.domain.egfr import ckd_epi_2021

URL = "/api/v1/participants/S01-001/labs"


@pytest.fixture
def nina(api, enrol):
    enrol("S01-001")   # female, born 1968-03-02, injected 2026-01-12
    return api("nurse_nina")


def test_it_stores_a_creatinine_with_its_egfr_grade_and_breaches(nina):
    for when, visit in (("2025-12-29T08:00:00+00:00", "SCR"), ("2026-01-12T07:30:00+00:00", "D0")):
        assert nina.post(URL, {"analyte": "creatinine", "value": 106.08, "unit": "umol/L", "collected_at": when,
                               "visit": visit}).status_code == 201
    response = nina.post(URL, {"analyte": "creatinine", "value": 2.4, "unit": "mg/dL",
                               "collected_at": "2026-01-14T08:00:00+01:00", "visit": "UNS"})
    assert response.status_code == 201
    body = response.get_json()
    assert (body["value"], body["unit"], body["value_si"], body["unit_si"]) == (2.4, "mg/dL", 2.4, "mg/dL")
    assert body["egfr"] == round(ckd_epi_2021(2.4, 57, "F"), 1)
    # Creatinine increased is grade 2 (2 x baseline 1.2); eGFR 22 is Chronic kidney disease grade 3: the worse wins.
    assert (body["ctcae_term"], body["ctcae_grade"]) == ("Chronic kidney disease", 3)
    assert body["kdigo_stage"] == "G4"
    # 2.4 is 2 x the day-0 value 46 hours earlier: both KDIGO AKI criteria and a >= 30 % eGFR fall.
    assert set(body["breaches"]) >= {"aki_creatinine_1_5x_7d", "aki_creatinine_0_3_48h", "egfr_decline_30_early"}
    assert body["duplicate"] is False


def test_it_refuses_an_unknown_unit_with_422_naming_the_field(nina):
    response = nina.post(URL, {"analyte": "hemoglobin", "value": 7.4, "unit": "mmol",
                               "collected_at": "2026-02-10T08:00:00+00:00"})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid" and "g/dL" in error["fields"]["unit"]
    assert nina.get(URL).get_json() == []


def test_it_names_every_bad_field_at_once(nina):
    response = nina.post(URL, {"analyte": "creatinine", "value": "abc", "unit": "mg/dL", "visit": "M7"})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"value", "collected_at", "visit"}


def test_it_refuses_a_body_that_is_not_a_json_object(nina):
    assert nina.post(URL, [1, 2]).status_code == 422


def test_a_retried_post_returns_the_stored_result_and_a_different_value_is_a_conflict(nina):
    data = {"analyte": "potassium", "value": 4.8, "unit": "mmol/L", "collected_at": "2026-02-10T08:00:00+00:00"}
    first = nina.post(URL, data)
    again = nina.post(URL, data)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"] and again.get_json()["duplicate"] is True
    conflict = nina.post(URL, {**data, "value": 5.9})
    assert conflict.status_code == 409 and "value" in conflict.get_json()["error"]["fields"]
    assert [r["value"] for r in nina.get(URL).get_json()] == [4.8]


def test_the_series_is_oldest_first_and_filtered_by_analyte(nina, api):
    for value, when in ((300, "2026-04-10"), (200, "2026-02-10"), (250, "2026-03-10")):
        nina.post(URL, {"analyte": "uacr", "value": value, "unit": "mg/g", "collected_at": f"{when}T08:00:00Z"})
    nina.post(URL, {"analyte": "alt", "value": 30, "unit": "U/L", "collected_at": "2026-02-11T08:00:00Z"})
    sam = api("safety_sam")
    uacr = sam.get(URL + "?analyte=uacr").get_json()
    assert [r["value"] for r in uacr] == [200, 250, 300]
    assert [r["kdigo_stage"] for r in uacr] == ["A2", "A2", "A2"]
    assert len(sam.get(URL).get_json()) == 4
    assert sam.get(URL + "?analyte=sodium").status_code == 422


@pytest.mark.parametrize("persona, method, status", [
    ("nurse_noah", "post", 404),         # another site's participant: not even its existence is told
    ("nurse_noah", "get", 404),
    ("auditor_ada", "post", 403),        # reads, never writes
    ("auditor_ada", "get", 200),
    ("safety_sam", "post", 403),
    ("investigator_ivan", "post", 201),
])
def test_who_may_read_and_write_labs(nina, api, persona, method, status):
    client = api(persona)
    data = {"analyte": "alt", "value": 30, "unit": "U/L", "collected_at": "2026-02-11T08:00:00Z"}
    response = client.post(URL, data) if method == "post" else client.get(URL)
    assert response.status_code == status


def test_it_needs_a_token(app, nina):
    assert app.test_client().get(URL).status_code == 401


def test_an_unknown_participant_is_404(nina):
    assert nina.get("/api/v1/participants/S01-999/labs").status_code == 404


def test_the_openapi_spec_describes_both_routes(nina, app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    path = spec["paths"]["/participants/{subject_id}/labs"]
    assert set(path) >= {"get", "post"} and "422" in path["post"]["responses"]
    assert "creatinine" in spec["components"]["schemas"]["Lab"]["properties"]["analyte"]["enum"]
