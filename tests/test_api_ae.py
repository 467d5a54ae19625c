"""The AE and CTCAE routes: the JSON API of CONTRACT.md and the nurse's pages (form, AE page, sign-off)."""
from __future__ import annotations

import re

import pytest

from conftest import PASSWORD, csrf_from


@pytest.fixture
def s01(enrol):
    return enrol("S01-001")


def body(**changes) -> dict:
    data = {"subject_id": "S01-001", "term": "Hematuria", "verbatim": "pink urine", "grade": 2,
            "onset": "2026-01-13", "relatedness_product": "unlikely", "relatedness_procedure": "probable",
            "outcome": "recovering"}
    data.update(changes)
    return data


def count(db, table="adverse_events") -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# --------------------------------------------------------------------------------------------------- API: create

def test_it_creates_an_ae_over_the_api_with_the_derived_fields(api, s01, db):
    r = api("nurse_nina").post("/api/v1/adverse-events", json=body(
        serious=True, seriousness=["hospitalization"], grade=3, awareness_at="2026-06-15T08:30:00+00:00"))
    assert r.status_code == 201, r.get_json()
    ae = r.get_json()
    assert isinstance(ae["id"], int) and ae["seq"] == 1
    assert (ae["phase"], ae["onset_day"], ae["treatment_emergent"]) == ("early", 2, True)
    assert ae["report_due_at"] == "2026-06-16T08:30:00+00:00"
    # expectedness not sent: a possible SUSAR, never a settled one, with the conservative 15-day clock running
    assert ae["susar"] is False and ae["susar_status"] == "possible"
    assert ae["expedited_due_at"] == "2026-06-30T08:30:00+00:00"
    assert count(db) == 1


def test_it_answers_422_naming_the_fields_and_stores_nothing(api, s01, db):
    r = api("nurse_nina").post("/api/v1/adverse-events", json=body(term="Nausea", grade=5, phase="late",
                                                                    onset="2026-01-01"))
    assert r.status_code == 422
    fields = r.get_json()["error"]["fields"]
    assert {"grade", "phase", "onset"} <= set(fields)
    assert "grade 5 does not exist for Nausea" in fields["grade"]
    assert count(db) == 0


def test_it_refuses_a_body_that_is_not_a_json_object(api, s01):
    r = api("nurse_nina").post("/api/v1/adverse-events", json=["Hematuria"])
    assert r.status_code == 422 and "body" in r.get_json()["error"]["fields"]


def test_it_refuses_writers_without_the_role_and_callers_without_a_token(app, api, s01, db):
    assert api("auditor_ada").post("/api/v1/adverse-events", json=body()).status_code == 403
    assert api("safety_sam").post("/api/v1/adverse-events", json=body()).status_code == 403
    assert app.test_client().post("/api/v1/adverse-events", json=body()).status_code == 401
    assert app.test_client().get("/api/v1/adverse-events").status_code == 401
    assert count(db) == 0


# --------------------------------------------------------------------------------------------------- API: amend

@pytest.fixture
def ae(api, s01):
    return api("nurse_nina").post("/api/v1/adverse-events", json=body()).get_json()


def test_it_amends_with_a_reason_and_keeps_the_old_version(api, ae):
    nina = api("nurse_nina")
    r = nina.patch(f"/api/v1/adverse-events/{ae['id']}", json={"grade": 3, "reason": "clots seen", "version": 1})
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["version"], r.get_json()["grade"]) == (2, 3)
    history = nina.get(f"/api/v1/adverse-events/{ae['id']}/versions").get_json()
    assert [(v["version"], v["data"]["grade"], v["reason"]) for v in history] == [(1, 2, None), (2, 3, "clots seen")]
    assert {"field": "grade", "old": 2, "new": 3} in history[1]["changes"]


def test_it_requires_the_reason_of_an_amendment(api, ae):
    r = api("nurse_nina").patch(f"/api/v1/adverse-events/{ae['id']}", json={"grade": 3, "version": 1})
    assert r.status_code == 422 and "reason" in r.get_json()["error"]["fields"]


def test_it_refuses_a_stale_version_with_409(api, ae):
    nina = api("nurse_nina")
    nina.patch(f"/api/v1/adverse-events/{ae['id']}", json={"grade": 1, "reason": "milder", "version": 1})
    r = nina.patch(f"/api/v1/adverse-events/{ae['id']}", json={"grade": 3, "reason": "worse", "version": 1})
    assert r.status_code == 409


def test_it_marks_entered_in_error_over_the_api(api, ae):
    nina = api("nurse_nina")
    r = nina.patch(f"/api/v1/adverse-events/{ae['id']}", json={"status": "entered_in_error", "reason": "duplicate",
                                                                "version": 1})
    assert r.status_code == 200 and r.get_json()["status"] == "entered_in_error"
    assert nina.get("/api/v1/adverse-events").get_json() == []
    again = nina.patch(f"/api/v1/adverse-events/{ae['id']}", json={"grade": 3, "reason": "x", "version": 2})
    assert again.status_code == 409


def test_it_hides_another_sites_ae_as_not_found(api, ae):
    noah = api("nurse_noah")
    assert noah.get(f"/api/v1/adverse-events/{ae['id']}").status_code == 404
    assert noah.patch(f"/api/v1/adverse-events/{ae['id']}", json={"grade": 3, "reason": "x"}).status_code == 404
    assert noah.patch(f"/api/v1/adverse-events/{ae['id']}", json={"grade": 3, "reason": "x", "version": 1}
                      ).status_code == 404
    assert noah.get("/api/v1/adverse-events/abc").status_code == 404


# --------------------------------------------------------------------------------------------------- API: list

def test_it_lists_with_the_contract_filters(api, s01):
    nina = api("nurse_nina")
    nina.post("/api/v1/adverse-events", json=body())
    nina.post("/api/v1/adverse-events", json=body(term="Fever", grade=1, verbatim="38.1", onset="2026-03-01"))
    sam = api("safety_sam")
    assert [a["term"] for a in sam.get("/api/v1/adverse-events?min_grade=2").get_json()] == ["Hematuria"]
    assert [a["term"] for a in sam.get("/api/v1/adverse-events?phase=late").get_json()] == ["Fever"]
    assert [a["term"] for a in sam.get("/api/v1/adverse-events?from=2026-02-01&to=2026-03-01").get_json()] == ["Fever"]
    assert len(sam.get("/api/v1/adverse-events?subject_id=S01-001&serious=false").get_json()) == 2
    bad = sam.get("/api/v1/adverse-events?min_grade=9")
    assert bad.status_code == 422 and "min_grade" in bad.get_json()["error"]["fields"]


def test_it_records_the_sae_report_sent_over_the_api(api, s01, clock):
    sae = api("nurse_nina").post("/api/v1/adverse-events", json=body(
        serious=True, seriousness=["hospitalization"], grade=3)).get_json()
    clock.advance(hours=3)
    r = api("investigator_ivan").post(f"/api/v1/adverse-events/{sae['id']}/report-sent", json={})
    assert r.status_code == 200 and r.get_json()["report_sent_at"] == "2026-06-15T13:00:00+00:00"
    assert api("nurse_nina").post(f"/api/v1/adverse-events/{sae['id']}/report-sent", json={}).status_code == 403


# --------------------------------------------------------------------------------------------------- API: CTCAE

def test_it_finds_ctcae_terms_as_the_nurse_types(api):
    r = api("nurse_nina").get("/api/v1/ctcae/terms?q=hemat")
    assert r.status_code == 200
    terms = r.get_json()
    assert [t["term"] for t in terms][:2] == ["Hematoma", "Hematuria"]
    hematuria = terms[1]
    assert hematuria["soc"] == "Renal and urinary disorders" and hematuria["meddra_code"] == "10019450"
    assert hematuria["grades"]["2"].startswith("Symptomatic; urinary catheter")
    assert hematuria["ctcae_version"] == "5.0"


def test_it_finds_terms_by_code_and_lists_the_catalogue_without_q(api, app):
    nina = api("nurse_nina")
    assert [t["term"] for t in nina.get("/api/v1/ctcae/terms?q=10018867").get_json()] == ["Hematuria"]
    everything = nina.get("/api/v1/ctcae/terms").get_json()
    assert len(everything) == len(app.extensions["rulebook"].ctcae.terms)
    assert nina.get("/api/v1/ctcae/terms/Acute%20kidney%20injury").get_json()["grades"]["1"] is None
    assert nina.get("/api/v1/ctcae/terms/no-such-term").status_code == 404
    assert nina.get("/api/v1/ctcae/terms?q=a&limit=0").status_code == 422


def test_it_describes_the_ae_routes_in_the_openapi_spec(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert {"post", "get"} <= set(spec["paths"]["/adverse-events"])
    assert "patch" in spec["paths"]["/adverse-events/{ae_id}"]
    assert "/ctcae/terms" in spec["paths"]
    assert "AdverseEvent" in spec["components"]["schemas"]


# --------------------------------------------------------------------------------------------------- pages

FORM = {"term": "Hematuria", "grade": "2", "verbatim": "pink urine", "onset": "2026-01-13", "onset_time": "",
        "end_date": "", "serious": "false", "relatedness_product": "unlikely", "relatedness_procedure": "probable",
        "expected": "", "action_taken": "not_applicable", "other_action": "", "outcome": "recovering",
        "awareness_at": "", "description": ""}


def test_it_shows_the_nurse_the_form_with_the_term_search(web, s01):
    page = web("nurse_nina").get("/participants/S01-001/ae/new")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-ctcae-search="/api/v1/ctcae/terms"' in html and "ae.js" in html
    assert 'name="seriousness" value="hospitalization"' in html


def form_token(user, url="/participants/S01-001/ae/new") -> str:
    """The one-time token of a freshly shown AE form."""
    return re.search(r'name="form_token" value="([^"]+)"', user.get(url).get_data(as_text=True)).group(1)


def test_it_saves_the_form_and_shows_the_ae_on_the_timeline(web, s01, db):
    nina = web("nurse_nina")
    r = nina.post_form("/participants/S01-001/ae/new", {**FORM, "form_token": form_token(nina)},
                       from_page="/participants/S01-001/ae/new")
    assert r.status_code == 302 and r.headers["Location"].endswith("/participants/S01-001#timeline")
    html = nina.get("/participants/S01-001").get_data(as_text=True)
    assert 'data-term="Hematuria" data-grade="2"' in html and "grade-2" in html
    assert count(db) == 1


def test_it_shows_errors_next_to_the_fields_and_saves_nothing(web, s01, db):
    nina = web("nurse_nina")
    bad = {**FORM, "grade": "5", "serious": "true", "outcome": "recovered"}
    r = nina.post_form("/participants/S01-001/ae/new", {**bad, "form_token": form_token(nina)},
                       from_page="/participants/S01-001/ae/new")
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    for field in ("seriousness", "end_date"):
        assert f'data-field="{field}"' in html
    assert 'name="grade" value="2"' in html  # the term's grades are offered again, as radios
    assert 'value="pink urine"' in html      # what she typed is kept
    assert count(db) == 0


def test_it_keeps_the_form_from_other_roles(web, s01):
    assert web("auditor_ada").get("/participants/S01-001/ae/new").status_code == 403
    assert web("nurse_noah").get("/participants/S01-001/ae/new").status_code == 404


def test_it_amends_through_the_form_with_a_reason_and_shows_the_history(web, api, s01):
    ae = api("nurse_nina").post("/api/v1/adverse-events", json=body()).get_json()
    nina = web("nurse_nina")
    url = f"/ae/{ae['id']}/amend"
    page = nina.get(url).get_data(as_text=True)
    assert 'name="version" value="1"' in page
    form = {**FORM, "grade": "3", "version": "1", "reason": ""}
    r = nina.post_form(url, form, from_page=url)
    assert r.status_code == 422 and 'data-field="reason"' in r.get_data(as_text=True)
    r = nina.post_form(url, {**form, "reason": "gross hematuria on review"}, from_page=url)
    assert r.status_code == 302
    detail = nina.get(f"/ae/{ae['id']}").get_data(as_text=True)
    assert "Version 2" in detail and "gross hematuria on review" in detail and "<s data-stored>2</s>" in detail


def test_it_signs_an_sae_off_with_the_password_re_entered(web, api, s01):
    sae = api("nurse_nina").post("/api/v1/adverse-events", json=body(
        serious=True, seriousness=["hospitalization"], grade=3)).get_json()
    ivan = web("investigator_ivan")
    url = f"/ae/{sae['id']}/sign-off"
    page = ivan.get(url).get_data(as_text=True)
    assert "review and approval" in page
    wrong = ivan.post_form(url, {"password": "nope"}, from_page=url)
    assert wrong.status_code == 422 and 'data-field="password"' in wrong.get_data(as_text=True)
    ok = ivan.post_form(url, {"password": PASSWORD}, from_page=url)
    assert ok.status_code == 302
    detail = ivan.get(f"/ae/{sae['id']}").get_data(as_text=True)
    assert "investigator_ivan@example.org" in detail and "review and approval" in detail
    assert web("nurse_nina").get(url).status_code == 403


def test_it_marks_entered_in_error_from_the_ae_page(web, api, s01):
    ae = api("nurse_nina").post("/api/v1/adverse-events", json=body()).get_json()
    nina = web("nurse_nina")
    page = nina.get(f"/ae/{ae['id']}").get_data(as_text=True)
    r = nina.client.post(f"/ae/{ae['id']}/entered-in-error",
                         data={"reason": "wrong participant", "version": "1", "csrf_token": csrf_from(page)})
    assert r.status_code == 302
    timeline = nina.get("/participants/S01-001").get_data(as_text=True)
    assert "(entered in error)" in timeline


def test_it_lists_aes_on_the_ae_page_with_filters(web, api, s01):
    api("nurse_nina").post("/api/v1/adverse-events", json=body())
    html = web("safety_sam").get("/ae?min_grade=2").get_data(as_text=True)
    assert "Hematuria" in html and "1–1 of 1 AE<" in html
    assert web("safety_sam").get("/ae?min_grade=7").status_code == 422
