"""Open queries in each recipient's daily digest (text and HTML parts alike), scoped like the pages.

Story: on 5 June safety_sam queried S01-001's AE relatedness and S02-001's weight; on 10 June nurse_noah answered
the S02 query. On 15 June (10 days later, overdue_days 7) nurse_nina's digest lists the S01 query as waiting and
overdue; nurse_noah's lists nothing waiting; safety_sam's lists both, the answered one for his review.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from safety_service.db import row
from safety_service.domain import adverse_events, queries
from safety_service.jobs.digest import queue_due_digests

from conftest import NOW

EARLIER = NOW - timedelta(days=10)


@pytest.fixture
def story(app, db, people, enrol):
    enrol("S01-001")
    enrol("S02-001")
    rb = app.extensions["rulebook"]
    ae = adverse_events.create(db, {"subject_id": "S01-001", "term": "Hematuria", "verbatim": "pink urine", "grade": 2,
                                    "onset": "2026-06-01", "relatedness_product": "possible",
                                    "relatedness_procedure": "probable", "outcome": "recovering"},
                               catalogue=rb.ctcae, study=rb.study, tz=app.config["TIMEZONE"],
                               actor=people["nurse_nina"], now=EARLIER)
    s01 = queries.raise_query(db, {"entity": "ae", "entity_id": ae["id"], "field": "relatedness_product",
                                   "text": "Possibly related to the cells?"}, user=people["safety_sam"], now=EARLIER,
                              visit_codes=())
    s02 = queries.raise_query(db, {"entity": "participant", "entity_id": "S02-001", "field": "weight_kg",
                                   "text": "Is 72.5 kg the weight at injection?"}, user=people["safety_sam"],
                              now=EARLIER, visit_codes=())
    queries.answer(db, s02["id"], text="Yes, weighed that morning.", user=people["nurse_noah"],
                   now=EARLIER + timedelta(days=5))
    queue_due_digests(db, rb, app.config, NOW, force=True)
    return {"s01": s01, "s02": s02}


def mail(db, email):
    return row(db, "SELECT * FROM outbox WHERE kind = 'digest' AND recipient = ?", [email])


def test_it_lists_the_sites_waiting_queries_in_the_nurses_digest_marked_overdue(db, story):
    nina = mail(db, "nurse_nina@example.org")
    line = f"Q{story['s01']['id']} S01-001-AE1 (relatedness product): Possibly related to the cells?; waiting 10 days, OVERDUE"
    assert "DATA QUERIES WAITING FOR THE SITE'S ANSWER: 1 (1 waiting more than 7 days)" in nina["body_text"]
    assert line in nina["body_text"] and line in nina["body_html"]
    assert f"http://127.0.0.1:5000/queries/{story['s01']['id']}" in nina["body_html"]
    assert "S02-001" not in nina["body_text"]
    noah = mail(db, "nurse_noah@example.org")
    assert "DATA QUERIES WAITING FOR THE SITE'S ANSWER: 0" in noah["body_text"] and "S01-001" not in noah["body_text"]
    assert "FOR YOUR REVIEW" not in noah["body_text"]


def test_it_gives_the_safety_officer_every_waiting_query_and_the_answers_to_review(db, story):
    sam = mail(db, "safety_sam@example.org")
    assert "DATA QUERIES WAITING FOR THE SITE'S ANSWER: 1" in sam["body_text"]
    assert "ANSWERED QUERIES FOR YOUR REVIEW: 1" in sam["body_text"]
    review = f"Q{story['s02']['id']} S02-001 (weight kg): Is 72.5 kg the weight at injection?; answered"
    assert review in sam["body_text"] and review in sam["body_html"]
    assert '<h2 id="query-review">Answered queries for your review: 1</h2>' in sam["body_html"]
    ivan = mail(db, "investigator_ivan@example.org")  # he raised none: nothing to review; S01's waiting query
    assert "ANSWERED QUERIES FOR YOUR REVIEW" not in ivan["body_text"] and "S02-001" not in ivan["body_text"]
    assert f"Q{story['s01']['id']} S01-001-AE1" in ivan["body_text"]
