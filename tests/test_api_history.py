"""The con-med and medical history API (CONTRACT.md "Second round"): create, list, amend with reason and version
(428 without, 409 stale), entered in error, site scope; and an AE's treatment given."""
from __future__ import annotations

import pytest

RAMIPRIL = {"name": "Ramipril", "dose": 5, "unit": "mg", "route": "oral", "indication": "Diabetic nephropathy",
            "start_date": "2024-03", "ongoing": True}
URL = "/api/v1/participants/S01-001/conmeds"


@pytest.fixture
def s01(enrol):
    return enrol("S01-001")


def test_it_records_and_lists_a_conmed(api, s01):
    nina = api("nurse_nina")
    r = nina.post(URL, json=RAMIPRIL)
    assert r.status_code == 201, r.get_json()
    cm = r.get_json()
    assert (cm["display_id"], cm["dose"], cm["ongoing"], cm["version"]) == ("S01-001-CM1", 5.0, True, 1)
    listed = api("safety_sam").get(URL).get_json()
    assert [c["name"] for c in listed] == ["Ramipril"]
    assert api("auditor_ada").get(f"{URL}/{cm['id']}").get_json()["indication"] == "Diabetic nephropathy"


def test_it_answers_422_naming_every_bad_field(api, s01):
    r = api("nurse_nina").post(URL, json={**RAMIPRIL, "dose": "five", "start_date": "03/2024", "ongoing": False})
    assert r.status_code == 422
    assert set(r.get_json()["error"]["fields"]) == {"dose", "start_date", "stop_date"}


def test_a_patch_needs_the_version_428_and_a_stale_one_is_409(api, s01):
    nina = api("nurse_nina")
    cm = nina.post(URL, json=RAMIPRIL).get_json()
    r = nina.patch(f"{URL}/{cm['id']}", json={"dose": 10, "reason": "dose doubled"})
    assert r.status_code == 428 and r.get_json()["error"]["fields"] == {"version": "required"}
    r = nina.patch(f"{URL}/{cm['id']}", json={"dose": 10, "reason": "dose doubled", "version": 1})
    assert r.status_code == 200 and (r.get_json()["dose"], r.get_json()["version"]) == (10.0, 2)
    r = nina.patch(f"{URL}/{cm['id']}", json={"dose": 20, "reason": "again", "version": 1})
    assert r.status_code == 409
    r = nina.patch(f"{URL}/{cm['id']}", json={"dose": 20, "version": 2})
    assert r.status_code == 422 and "reason" in r.get_json()["error"]["fields"]


def test_entered_in_error_over_the_api_leaves_the_default_list(api, s01):
    nina = api("nurse_nina")
    cm = nina.post(URL, json=RAMIPRIL).get_json()
    r = nina.patch(f"{URL}/{cm['id']}", json={"status": "entered_in_error", "reason": "other patient", "version": 1})
    assert r.status_code == 200 and r.get_json()["status"] == "entered_in_error"
    assert nina.get(URL).get_json() == []
    assert [c["status"] for c in nina.get(f"{URL}?include_entered_in_error=true").get_json()] == ["entered_in_error"]


def test_another_sites_records_are_404_and_cannot_be_written(api, s01, enrol):
    enrol("S02-001")
    cm = api("nurse_nina").post(URL, json=RAMIPRIL).get_json()
    noah = api("nurse_noah")
    assert noah.get(URL).status_code == 404
    assert noah.get(f"{URL}/{cm['id']}").status_code == 404
    assert noah.post(URL, json=RAMIPRIL).status_code == 404
    assert noah.patch(f"{URL}/{cm['id']}", json={"dose": 1, "reason": "x", "version": 1}).status_code == 404
    # the id under another subject is not found either
    assert api("safety_sam").get(f"/api/v1/participants/S02-001/conmeds/{cm['id']}").status_code == 404


def test_medical_history_over_the_api(api, s01):
    nina = api("nurse_nina")
    url = "/api/v1/participants/S01-001/medical-history"
    r = nina.post(url, json={"condition": "Type 2 diabetes mellitus", "onset": "2009", "ongoing": True})
    assert r.status_code == 201 and r.get_json()["display_id"] == "S01-001-MH1"
    r = nina.patch(f"{url}/{r.get_json()['id']}", json={"onset": "2009-05", "reason": "GP letter", "version": 1})
    assert r.status_code == 200 and r.get_json()["onset"] == "2009-05"
    assert nina.post(url, json={"onset": "2009"}).get_json()["error"]["fields"] == {"condition": "is required"}


def test_treatment_given_is_set_and_read_on_the_ae(api, s01):
    nina = api("nurse_nina")
    cm = nina.post(URL, json={**RAMIPRIL, "name": "Tranexamic acid", "indication": "Hematuria",
                              "start_date": "2026-01-13", "ongoing": False, "stop_date": "2026-01-15"}).get_json()
    ae = nina.post("/api/v1/adverse-events", json={
        "subject_id": "S01-001", "term": "Hematuria", "verbatim": "pink urine", "grade": 2, "onset": "2026-01-13",
        "relatedness_product": "unlikely", "relatedness_procedure": "probable", "outcome": "recovering"}).get_json()
    r = nina.client.put(f"/api/v1/adverse-events/{ae['id']}/treatments", json={"conmed_ids": [cm["id"]]},
                        headers=nina.headers)
    assert r.status_code == 200 and [c["name"] for c in r.get_json()] == ["Tranexamic acid"]
    assert [c["id"] for c in api("auditor_ada").get(f"/api/v1/adverse-events/{ae['id']}/treatments").get_json()] \
        == [cm["id"]]
    r = nina.client.put(f"/api/v1/adverse-events/{ae['id']}/treatments", json={"conmed_ids": [999]},
                        headers=nina.headers)
    assert r.status_code == 422 and "treatment_given" in r.get_json()["error"]["fields"]
