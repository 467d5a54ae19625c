from conftest import NOW

VALID = {"subject_id": "S01-021", "site": "S01", "sex": "M", "birth_date": "1966-09-30", "weight_kg": 84,
         "consent_on": "2026-05-20", "enrolled_on": "2026-05-22", "injection_at": "2026-06-01T08:15:00+02:00"}


def test_it_enrols_by_api_with_dose_and_schedule(api, db):
    r = api("nurse_nina").post("/api/v1/participants", json=VALID)
    assert r.status_code == 201, r.json
    body = r.json
    assert body["dose_cells"] == 84e6  # 1 x 10^6 cells/kg x 84 kg
    assert body["injection_at"] == "2026-06-01T06:15:00+00:00"  # stored in UTC
    assert [v["visit"] for v in body["schedule"]] == ["M1", "M3", "M6", "M9", "M12"]
    assert body["schedule"][0]["due_on"] == "2026-07-01"
    assert db.execute("SELECT count(*) FROM audit_log WHERE entity = 'participant' AND entity_id = 'S01-021'"
                      ).fetchone()[0] >= 9


def test_it_names_every_bad_field_and_stores_nothing(api, db):
    bad = {**VALID, "subject_id": "X-1", "sex": "Q", "birth_date": "1990-01-01", "weight_kg": "heavy",
           "enrolled_on": "2026-05-01", "injection_at": "2026-07-01T08:00:00+00:00"}
    nina = api("nurse_nina")
    before = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    r = nina.post("/api/v1/participants", json=bad)
    assert r.status_code == 422
    assert set(r.json["error"]["fields"]) == {"subject_id", "sex", "birth_date", "weight_kg", "enrolled_on",
                                              "injection_at"}
    assert "40-65" in r.json["error"]["fields"]["birth_date"]
    assert db.execute("SELECT count(*) FROM participants").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == before


def test_it_refuses_a_duplicate_subject(api):
    nina = api("nurse_nina")
    assert nina.post("/api/v1/participants", json=VALID).status_code == 201
    r = nina.post("/api/v1/participants", json=VALID)
    assert r.status_code == 422 and r.json["error"]["fields"]["subject_id"] == "already exists"


def test_it_refuses_a_body_that_is_not_an_object(api):
    r = api("nurse_nina").post("/api/v1/participants", data="[1,2]", content_type="application/json")
    assert r.status_code == 422 and "body" in r.json["error"]["fields"]


def test_it_shows_errors_next_to_the_fields_of_the_web_form(web, db):
    nina = web("nurse_nina")
    r = nina.post_form("/participants/new", {**VALID, "injection_at": "", "weight_kg": "7"},
                       from_page="/participants/new")
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and 'data-field="weight_kg"' in html and "between 30 and 250" in html
    assert db.execute("SELECT count(*) FROM participants").fetchone()[0] == 0
    ok = nina.post_form("/participants/new", {**VALID, "injection_at": "2026-06-01T08:15"}, from_page="/participants/new")
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/participants/S01-021")
    page = nina.get("/participants/S01-021").get_data(as_text=True)
    assert "Month 12" in page and "2026-06-01 08:15 CEST" in page  # shown in the study's zone as entered
    stored = db.execute("SELECT injection_at FROM participants WHERE subject_id = 'S01-021'").fetchone()[0]
    assert stored == "2026-06-01T06:15:00+00:00"  # stored in UTC


def test_it_records_a_visit_from_the_participant_page(web, enrol, db, clock):
    enrol("S01-001")
    nina = web("nurse_nina")
    r = nina.post_form("/participants/S01-001/visits/M1", {"visit_date": "2026-02-12"})
    assert r.status_code == 302
    assert db.execute("SELECT visit_date, recorded_by FROM visits").fetchone() == ("2026-02-12", "nurse_nina@example.org")
