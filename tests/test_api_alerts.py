"""GET /api/v1/alerts and POST /api/v1/alerts/<id>/acknowledge, as CONTRACT.md promises.

Story: S01-001 and S02-001 have missed visits; an EDC-side script of safety_sam reads and acknowledges alerts.
"""
from __future__ import annotations

import pytest

from safety_service.db import rows
from safety_service.domain import audit, checks

from conftest import NOW


@pytest.fixture
def overdue(app, db, people, enrol):
    enrol("S01-001")
    enrol("S02-001")
    checks.run_all(db, app.extensions["rulebook"], app.config["TIMEZONE"], NOW)
    return {a["key"]: a for a in rows(db, "SELECT * FROM alerts")}


def test_it_lists_alerts_with_the_contract_fields(api, overdue):
    r = api("safety_sam").get("/api/v1/alerts")
    assert r.status_code == 200
    body = r.get_json()
    assert len(body) == 4
    first = next(a for a in body if a["id"] == overdue["overdue:S01-001:M1"]["id"])
    assert {"id", "kind", "subject_id", "rule", "message", "raised_at"} <= set(first)
    assert first["kind"] == "visit_overdue" and first["subject_id"] == "S01-001" and first["status"] == "open"
    assert first["raised_at"] == "2026-06-15T10:00:00+00:00"


def test_it_filters_by_status_and_kind_and_refuses_an_unknown_status(api, overdue):
    sam = api("safety_sam")
    assert sam.get("/api/v1/alerts?kind=sae").get_json() == []
    assert len(sam.get("/api/v1/alerts?status=open&kind=visit_overdue").get_json()) == 4
    assert sam.get("/api/v1/alerts?status=acknowledged").get_json() == []
    bad = sam.get("/api/v1/alerts?status=closed")
    assert bad.status_code == 422 and "status" in bad.get_json()["error"]["fields"]


def test_it_scopes_an_investigators_list_to_the_site(api, overdue):
    body = api("investigator_ivan").get("/api/v1/alerts").get_json()
    assert {a["subject_id"] for a in body} == {"S01-001"} and len(body) == 2


def test_it_acknowledges_with_a_comment_returns_the_alert_and_audits_it(api, db, overdue):
    alert_id = overdue["overdue:S01-001:M3"]["id"]
    r = api("safety_sam").post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"comment": "visit rebooked"})
    assert r.status_code == 200
    body = r.get_json()
    assert body["id"] == alert_id and body["status"] == "acknowledged" and body["ack_comment"] == "visit rebooked"
    assert body["acknowledged_by"] == "safety_sam@example.org" and body["acknowledged_at"] == "2026-06-15T10:00:00+00:00"
    assert [e["reason"] for e in audit.history(db, "alert", alert_id) if e["action"] == "acknowledged"] == \
        ["visit rebooked"]
    assert alert_id not in [a["id"] for a in api("safety_sam").get("/api/v1/alerts?status=open").get_json()]


def test_it_refuses_an_acknowledgement_without_a_comment_and_changes_nothing(api, db, overdue):
    alert_id = overdue["overdue:S01-001:M3"]["id"]
    for payload in ({}, {"comment": " "}, {"comment": 42}):
        r = api("safety_sam").post(f"/api/v1/alerts/{alert_id}/acknowledge", json=payload)
        assert r.status_code == 422 and "comment" in r.get_json()["error"]["fields"], payload
    r = api("safety_sam").post(f"/api/v1/alerts/{alert_id}/acknowledge", data="comment=x",
                               content_type="application/x-www-form-urlencoded")
    assert r.status_code == 422 and "body" in r.get_json()["error"]["fields"]
    assert rows(db, "SELECT status FROM alerts WHERE id = ?", [alert_id])[0]["status"] == "open"


def test_it_answers_409_for_an_alert_already_acknowledged(api, overdue):
    alert_id = overdue["overdue:S01-001:M1"]["id"]
    sam = api("safety_sam")
    assert sam.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"comment": "first"}).status_code == 200
    again = sam.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"comment": "second"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"


def test_it_answers_404_for_another_sites_alert_and_an_unknown_one(api, overdue):
    ivan = api("investigator_ivan")
    other = overdue["overdue:S02-001:M1"]["id"]
    assert ivan.post(f"/api/v1/alerts/{other}/acknowledge", json={"comment": "x"}).status_code == 404
    assert ivan.post("/api/v1/alerts/99999/acknowledge", json={"comment": "x"}).status_code == 404
    assert ivan.post("/api/v1/alerts/abc/acknowledge", json={"comment": "x"}).get_json()["error"]["code"] == "not_found"


def test_it_refuses_the_wrong_roles_and_anonymous_callers(app, api, overdue):
    alert_id = overdue["overdue:S01-001:M1"]["id"]
    assert api("nurse_nina").get("/api/v1/alerts").status_code == 403
    assert api("auditor_ada").get("/api/v1/alerts").status_code == 200
    assert api("auditor_ada").post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"comment": "x"}).status_code == 403
    assert app.test_client().get("/api/v1/alerts").status_code == 401


def test_it_describes_both_routes_in_the_openapi_spec(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert {"status", "kind"} <= {p["name"] for p in spec["paths"]["/alerts"]["get"]["parameters"]}
    ack = spec["paths"]["/alerts/{alert_id}/acknowledge"]["post"]
    assert ack["requestBody"]["content"]["application/json"]["schema"]["required"] == ["comment"]
    assert {"200", "404", "409", "422"} <= set(ack["responses"])
    assert {"id", "kind", "subject_id", "rule", "message", "raised_at"} <= set(
        spec["components"]["schemas"]["Alert"]["properties"])
