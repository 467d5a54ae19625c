"""The query pages, role by role: the list (site-scoped, filtered, paged), one query with its thread, raising from
a record, answering in words or by amending the AE in one step, closing, reopening, and the badges on the AE, lab,
visit and participant pages.

Story: safety_sam queries S01-001's AE relatedness from the AE page; nurse_nina sees the badge, answers by amending;
safety_sam closes it; nurse_noah (S02) never sees it; admin_alex reads but acts on nothing.
"""
from __future__ import annotations

import re

import pytest

from safety_service.db import rows
from safety_service.domain import adverse_events, audit, queries

from conftest import NOW

AE = {"subject_id": "S01-001", "term": "Hematuria", "verbatim": "pink urine", "grade": 2, "onset": "2026-06-10",
      "relatedness_product": "possible", "relatedness_procedure": "probable", "outcome": "recovering"}


@pytest.fixture
def ae(app, db, people, enrol):
    enrol("S01-001")
    enrol("S02-001")
    rb = app.extensions["rulebook"]
    return adverse_events.create(db, AE, catalogue=rb.ctcae, study=rb.study, tz=app.config["TIMEZONE"],
                                 actor=people["nurse_nina"], now=NOW)


def raise_query(db, people, ae, persona="safety_sam", field="relatedness_product", **kw):
    return queries.raise_query(db, {"entity": "ae", "entity_id": ae["id"], "field": field,
                                    "text": kw.get("text", "Is it really possibly related?")},
                               user=people[persona], now=NOW, visit_codes=("M1", "M3", "M6", "M9", "M12"))


def text(response) -> str:
    return response.get_data(as_text=True)


def test_it_raises_a_query_from_the_ae_page(web, db, ae):
    sam = web("safety_sam")
    page = text(sam.get(f"/ae/{ae['id']}"))
    assert f'/queries/new?entity=ae&amp;entity_id={ae["id"]}' in page
    form = sam.get(f"/queries/new?entity=ae&entity_id={ae['id']}")
    assert form.status_code == 200 and "S01-001-AE1" in text(form)
    r = sam.post_form("/queries", {"entity": "ae", "entity_id": str(ae["id"]), "field": "relatedness_product",
                                   "text": "Possibly related? The narrative says catheter trauma."})
    assert r.status_code == 302
    q = rows(db, "SELECT * FROM queries")[0]
    assert r.headers["Location"].endswith(f"/queries/{q['id']}")
    assert (q["status"], q["field"], q["raised_by"]) == ("open", "relatedness_product", "safety_sam@example.org")


def test_it_names_the_bad_fields_on_the_raise_form_and_stores_nothing(web, db, ae):
    r = web("safety_sam").post_form("/queries", {"entity": "ae", "entity_id": str(ae["id"]), "field": "colour",
                                                 "text": ""})
    assert r.status_code == 422
    assert 'data-field="field"' in text(r) and 'data-field="text"' in text(r)
    assert rows(db, "SELECT * FROM queries") == []


def test_it_shows_the_badges_on_the_ae_and_participant_pages(web, db, people, ae, api):
    raise_query(db, people, ae)
    raise_query(db, people, ae, field="grade", persona="auditor_ada")
    queries.raise_query(db, {"entity": "visit", "entity_id": "S01-001:M3", "text": "M3 done?"},
                        user=people["safety_sam"], now=NOW, visit_codes=("M1", "M3"))
    queries.raise_query(db, {"entity": "participant", "entity_id": "S01-001", "field": "weight_kg",
                             "text": "Weight?"}, user=people["safety_sam"], now=NOW, visit_codes=())
    lab = api("nurse_nina").post("/api/v1/participants/S01-001/labs", json={
        "analyte": "creatinine", "value": 1.6, "unit": "mg/dL", "collected_at": "2026-06-01T08:00:00+00:00"}).get_json()
    queries.raise_query(db, {"entity": "lab", "entity_id": lab["id"], "text": "Haemolysed?"},
                        user=people["safety_sam"], now=NOW, visit_codes=())
    nina = web("nurse_nina")
    ae_page = text(nina.get(f"/ae/{ae['id']}"))
    assert re.search(r'data-queries="open"[^>]*>2 open queries<', ae_page)
    assert 'data-query-field="relatedness_product relatedness_procedure related"' in ae_page
    assert 'data-query-field="grade"' in ae_page
    participant = text(nina.get("/participants/S01-001"))
    assert re.search(r'data-queries="open"[^>]*>1 open query<', participant)  # the participant record itself
    assert participant.count('data-queries="open"') == 3  # participant, visit M3, the lab result
    assert participant.count("data-query-id=") == 5  # the section lists every query on the subject's records
    assert "data-queries" not in text(web("nurse_noah").get("/participants/S02-001"))


def test_it_answers_in_words_then_the_raiser_closes_and_reopens(web, db, people, ae):
    q = raise_query(db, people, ae)
    nina = web("nurse_nina")
    assert 'action="/queries/%d/answer"' % q["id"] in text(nina.get(f"/queries/{q['id']}"))
    r = nina.post_form(f"/queries/{q['id']}/answer", {"text": "Yes: no catheter was used."})
    assert r.status_code == 302
    assert queries.get(db, q["id"], user=None)["status"] == "answered"
    sam = web("safety_sam")
    assert sam.post_form(f"/queries/{q['id']}/close", {"comment": "Accepted."}).status_code == 302
    assert queries.get(db, q["id"], user=None)["status"] == "closed"
    assert sam.post_form(f"/queries/{q['id']}/reopen", {"comment": "The discharge letter says a catheter."}
                         ).status_code == 302
    page = text(sam.get(f"/queries/{q['id']}"))
    assert [m for m in re.findall(r'data-step="(\w+)"', page)] == ["raised", "answered", "closed", "reopened"]
    assert queries.get(db, q["id"], user=None)["status"] == "open"


def test_it_answers_by_amending_the_ae_in_one_step(web, db, people, ae):
    q = raise_query(db, people, ae)
    nina = web("nurse_nina")
    form = nina.get(f"/queries/{q['id']}/amend")
    assert form.status_code == 200
    page = text(form)
    assert page.index('id="f-relatedness_product"') < page.index('id="f-term"')  # the queried field first
    values = {"term": "Hematuria", "verbatim": "pink urine", "grade": "2", "onset": "2026-06-10", "onset_time": "",
              "end_date": "", "serious": "false", "relatedness_product": "unlikely",
              "relatedness_procedure": "probable", "expected": "", "action_taken": "not_applicable",
              "other_action": "", "outcome": "recovering", "description": "",
              "awareness_at": adverse_events_form_awareness(ae), "version": "1",
              "text": "Reassessed with the investigator: unlikely."}
    r = nina.post_form(f"/queries/{q['id']}/amend", values)
    assert r.status_code == 302, text(r)
    new = adverse_events.get(db, ae["id"], user=None)
    assert new["relatedness_product"] == "unlikely" and new["version"] == 2
    step = queries.thread(db, q["id"])[-1]
    assert (step["step"], step["amended_version"]) == ("answered", 2)
    amend = [e for e in audit.history(db, "adverse_event", ae["id"]) if e["action"] == "amend"]
    assert {e["reason"] for e in amend} == {f"Answer to query Q{q['id']}: Reassessed with the investigator: unlikely."}
    # a stale version writes neither
    q2 = raise_query(db, people, ae, field="grade", text="Grade 2 needs an intervention: which one?")
    stale = nina.post_form(f"/queries/{q2['id']}/amend", {**values, "grade": "1", "version": "1",
                                                            "relatedness_product": "unlikely"})
    assert stale.status_code == 302 and queries.get(db, q2["id"], user=None)["status"] == "open"
    assert adverse_events.get(db, ae["id"], user=None)["grade"] == 2


def adverse_events_form_awareness(ae) -> str:
    """The awareness instant as the form shows it: local time in the study's zone, to the minute."""
    from zoneinfo import ZoneInfo
    from safety_service.clock import parse_datetime
    return parse_datetime(ae["awareness_at"]).astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%dT%H:%M")


def test_it_refuses_the_wrong_roles_on_every_step(web, db, people, ae):
    q = raise_query(db, people, ae, persona="auditor_ada")
    noah, admin, ivan, sam = web("nurse_noah"), web("admin_alex"), web("investigator_ivan"), web("safety_sam")
    assert noah.get(f"/queries/{q['id']}").status_code == 404
    assert noah.post_form(f"/queries/{q['id']}/answer", {"text": "x"}).status_code == 404
    assert admin.get(f"/queries/{q['id']}").status_code == 200
    assert admin.post_form(f"/queries/{q['id']}/answer", {"text": "x"}).status_code == 403
    assert admin.post_form(f"/queries/{q['id']}/close", {"comment": "x"}).status_code == 403
    assert web("nurse_nina").post_form("/queries", {"entity": "ae", "entity_id": str(ae["id"]),
                                                    "text": "x"}).status_code == 403
    assert sam.post_form(f"/queries/{q['id']}/answer", {"text": "x"}).status_code == 403
    # the investigator did not raise it: he answers it but does not close it; the raiser's page offers closing
    assert ivan.post_form(f"/queries/{q['id']}/close", {"comment": "x"}).status_code == 403
    assert 'action="/queries/%d/close"' % q["id"] not in text(ivan.get(f"/queries/{q['id']}"))
    assert 'action="/queries/%d/close"' % q["id"] in text(web("auditor_ada").get(f"/queries/{q['id']}"))
    assert [m["step"] for m in queries.thread(db, q["id"])] == ["raised"]


def test_it_lists_by_role_with_filters_and_pages(web, db, people, ae):
    for n in range(30):
        raise_query(db, people, ae, text=f"question {n}")
    queries.raise_query(db, {"entity": "participant", "entity_id": "S02-001", "text": "S02 weight?"},
                        user=people["safety_sam"], now=NOW, visit_codes=())
    sam = web("safety_sam")
    first = text(sam.get("/queries"))
    assert first.count("data-query-id=") == 25 and "31 queries · page 1 of 2" in first
    second = text(sam.get("/queries?page=2"))
    assert second.count("data-query-id=") == 6
    assert text(sam.get("/queries?site=S02")).count("data-query-id=") == 1
    nina = text(web("nurse_nina").get("/queries?page=2"))
    assert "30 queries · page 2 of 2" in nina and "S02 weight?" not in nina
    assert text(web("nurse_noah").get("/queries")).count("data-query-id=") == 1
    bad = sam.get("/queries?status=pending")
    assert bad.status_code == 422 and 'data-field="status"' in text(bad)


def test_it_shows_the_query_on_the_lab_result_page_and_links_back_to_it(web, db, people, ae, api):
    lab = api("nurse_nina").post("/api/v1/participants/S01-001/labs", json={
        "analyte": "creatinine", "value": 1.6, "unit": "mg/dL", "collected_at": "2026-06-01T08:00:00+00:00"}).get_json()
    q = queries.raise_query(db, {"entity": "lab", "entity_id": lab["id"], "field": "value",
                                 "text": "Haemolysed sample?"}, user=people["investigator_ivan"], now=NOW,
                            visit_codes=())
    page = text(web("nurse_nina").get(f"/labs/{lab['id']}"))
    assert re.search(r'data-queries="open"[^>]*>1 open query<', page)
    assert 'data-query-field="value unit"' in page and f'data-query-id="{q["id"]}"' in page
    detail = text(web("nurse_nina").get(f"/queries/{q['id']}"))
    assert f'href="/labs/{lab["id"]}" id="query-record"' in detail
    assert "Raise a query on this result" in text(web("safety_sam").get(f"/labs/{lab['id']}"))


def test_it_counts_the_sites_waiting_queries_in_the_navigation_of_site_roles(web, db, people, ae):
    raise_query(db, people, ae)
    raise_query(db, people, ae, field="grade")
    nav = text(web("nurse_nina").get("/"))
    assert re.search(r'id="nav-queries-waiting"[^>]*>2<', nav)
    assert 'id="nav-queries-waiting"' not in text(web("nurse_noah").get("/"))
    assert 'id="nav-queries-waiting"' not in text(web("safety_sam").get("/"))  # he watches all sites on the list
