"""The signal pages read their figures from the cache while the data stands still, and what they serve is always
what a computation from the records gives (issue 18: figures computed once per data change, not per view).

Story: the demo study; AEs come in, one is amended, a result is entered in error, a participant withdraws. After
each change the safety officer's and a site investigator's signal pages, served through the cache, equal the pages
computed afresh from the records; a second view computes nothing. The site's investigator sees the same aggregates
with other sites' participants hidden, from the same cached figures.
"""
from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest

import safety_service.demo as demo
from safety_service.domain import participants
from safety_service.domain.corrections import lab_error, status
from safety_service.reports import datacut

from conftest import NOW

PAGES = ("/signals/", "/signals/rates", "/signals/change", "/signals/dsmb")


def page(user, url: str) -> str:
    response = user.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return re.sub(r'name="csrf_token" value="[^"]+"', "", response.get_data(as_text=True))  # signed per request


@pytest.fixture
def demo_study(app, db, monkeypatch):
    monkeypatch.setattr(demo, "N_PARTICIPANTS", 12)
    demo.load_demo(db, app.extensions["rulebook"], app.config, now=NOW)


def test_signal_pages_served_from_the_cache_equal_a_fresh_computation_after_random_changes(
        app, db, people, web, api, demo_study, monkeypatch):
    rb, tz, rng = app.extensions["rulebook"], app.config["TIMEZONE"], random.Random(18)
    nina = people["nurse_nina"]
    s01 = [p for p in participants.list_for(db, nina) if p.get("injection_at")]
    loads = []
    real = datacut.load
    monkeypatch.setattr(datacut, "load", lambda *a, **kw: loads.append(1) or real(*a, **kw))
    viewers = {"safety_sam": (web("safety_sam"), PAGES), "investigator_ivan": (web("investigator_ivan"), PAGES[:3])}
    nurse_api = api("nurse_nina")
    for n in range(6):
        change = n % 3
        if change == 0:  # an AE, now and then grade 3 and related: the stopping rule may count it
            p = rng.choice(s01)
            body = {"subject_id": p["subject_id"], "term": rng.choice(("Nausea", "Back pain", "Fever")),
                    "verbatim": f"cache story {n}", "grade": rng.choice((1, 2, 3)),
                    "onset": (NOW - timedelta(days=rng.randint(1, 20))).date().isoformat(), "serious": False,
                    "relatedness_product": rng.choice(("not_related", "possible", "probable")),
                    "relatedness_procedure": "not_related", "expected": False, "action_taken": "not_applicable",
                    "outcome": "recovering"}
            response = nurse_api.post("/api/v1/adverse-events", json=body)
            assert response.status_code == 201, response.get_json()
        elif change == 1:  # a creatinine entered in error leaves the change-from-baseline figures
            lab_id = db.execute("SELECT id FROM labs WHERE status = 'valid' AND analyte = 'creatinine' AND site = 'S01'"
                                " ORDER BY id DESC LIMIT 1").fetchone()[0]
            lab_error.mark_entered_in_error(db, lab_id, reason="another patient's sample", user=nina,
                                            rules=rb.lab_rules, study=rb.study, tz=tz, now=NOW)
        else:  # a participant withdraws: exposure ends there
            p = s01.pop()
            status.set_status(db, p["subject_id"], {"status": "withdrawn", "on": (NOW - timedelta(days=2)).date()
                                                    .isoformat(), "reason": "moved away"}, user=nina, study=rb.study,
                              tz=tz, now=NOW)
        for persona, (user, urls) in viewers.items():
            for url in urls:
                served = page(user, url)
                before = len(loads)
                again = page(user, url)
                assert len(loads) == before, (n, persona, url, "a second view with no change computed again")
                db.execute("DELETE FROM figure_cache")
                fresh = page(user, url)
                assert len(loads) == before + 1, (n, persona, url)
                assert served == again == fresh, (n, persona, url)


def test_a_view_does_not_wait_for_the_write_lock_to_fill_the_cache(app, tmp_path):
    """While another writer holds the lock the figure is computed and shown, not stored, and nothing waits."""
    import sqlite3

    from safety_service.db import connect
    from safety_service.domain.incremental import figures

    db = connect(app.config["DATABASE"])
    holder = sqlite3.connect(app.config["DATABASE"], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # waiting would end in "database is locked" after the 10 s busy timeout: the figure comes back instead
        assert figures.cached(db, "probe:locked", lambda: {"n": 1}) == {"n": 1}
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert db.execute("SELECT count(*) FROM figure_cache WHERE key = 'probe:locked'").fetchone()[0] == 0
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000  # restored for the clinical writes
    calls = []
    assert figures.cached(db, "probe:locked", lambda: calls.append(1) or {"n": 2}) == {"n": 2}
    assert figures.cached(db, "probe:locked", lambda: calls.append(1) or {"n": 3}) == {"n": 2}  # stored now
    assert calls == [1]
