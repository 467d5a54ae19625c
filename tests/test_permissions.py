"""Roles decide what each user may see and do; every endpoint declares its permission."""
from safety_service.domain.permissions import PERMISSIONS, ROLES
from safety_service.web.guard import PUBLIC


def test_it_hides_another_sites_participant_from_a_nurse(web, api, enrol):
    enrol("S01-001")
    enrol("S02-001")
    nina = web("nurse_nina")
    assert nina.get("/participants/S01-001").status_code == 200
    assert nina.get("/participants/S02-001").status_code == 404
    listing = nina.get("/participants").get_data(as_text=True)
    assert "S01-001" in listing and "S02-001" not in listing
    nina_api = api("nurse_nina")
    assert nina_api.get("/api/v1/participants/S02-001").status_code == 404
    assert [p["subject_id"] for p in nina_api.get("/api/v1/participants").json] == ["S01-001"]


def test_it_refuses_participant_creation_to_an_auditor(web, api, db):
    body = {"subject_id": "S01-009", "site": "S01", "sex": "M", "birth_date": "1970-01-01", "weight_kg": 80,
            "enrolled_on": "2026-06-01"}
    r = api("auditor_ada").post("/api/v1/participants", json=body)
    assert r.status_code == 403 and r.json["error"]["code"] == "forbidden"
    assert web("auditor_ada").get("/participants/new").status_code == 403
    assert db.execute("SELECT count(*) FROM participants").fetchone()[0] == 0


def test_it_refuses_a_nurse_enrolling_at_another_site(api):
    body = {"subject_id": "S02-009", "site": "S02", "sex": "M", "birth_date": "1970-01-01", "weight_kg": 80,
            "enrolled_on": "2026-06-01"}
    r = api("nurse_nina").post("/api/v1/participants", json=body)
    assert r.status_code == 422 and "site" in r.json["error"]["fields"]


def test_it_requires_a_token_for_the_api(app):
    r = app.test_client().get("/api/v1/participants")
    assert r.status_code == 401 and r.json["error"]["code"] == "unauthenticated"
    r = app.test_client().get("/api/v1/participants", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401


def test_it_sends_anonymous_visitors_to_sign_in(app):
    r = app.test_client().get("/participants")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_it_declares_a_permission_on_every_endpoint(app):
    undeclared = [rule.endpoint for rule in app.url_map.iter_rules()
                  if rule.endpoint != "static" and getattr(app.view_functions[rule.endpoint], "permission", None) is None]
    assert undeclared == []


def test_it_only_uses_declared_actions_and_roles(app):
    for rule in app.url_map.iter_rules():
        action = getattr(app.view_functions[rule.endpoint], "permission", PUBLIC)
        assert action == PUBLIC or action in PERMISSIONS, rule.endpoint
    for action, roles in PERMISSIONS.items():
        assert roles <= set(ROLES), action


def test_it_keeps_the_public_surface_small(app):
    public = sorted({rule.endpoint for rule in app.url_map.iter_rules()
                     if getattr(app.view_functions[rule.endpoint], "permission", None) == PUBLIC})
    assert public == ["api.openapi", "auth.login", "health.healthz"]
