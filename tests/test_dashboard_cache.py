"""The dashboard's figures are computed once per data change and served from SQLite (issue 18), and the figures
served are always those a fresh computation gives.

Story: the demo study; day after day results come in, one is entered in error, a visit is recorded, an alert is
acknowledged, a participant withdraws. After each change the safety officer's and a site nurse's dashboards, served
through the cache, equal the dashboards computed from the records.
"""
from __future__ import annotations

import random
from datetime import timedelta

import safety_service.demo as demo
from safety_service.charts import dashboard
from safety_service.domain import alerts, labs, participants
from safety_service.domain.corrections import lab_error, status
from safety_service.domain.incremental import figures, versions

from conftest import NOW


def boards(db, people, rb, tz, now):
    for persona in ("safety_sam", "nurse_nina"):
        served = dashboard.build(db, people[persona], study=rb.study, tz=tz, now=now)
        again = dashboard.build(db, people[persona], study=rb.study, tz=tz, now=now)
        fresh = dashboard.compute(db, people[persona], study=rb.study, tz=tz, now=now)
        yield persona, served, again, fresh


def test_it_serves_cached_figures_equal_to_a_fresh_computation_after_random_changes(app, db, people, monkeypatch):
    rb, tz, rng = app.extensions["rulebook"], app.config["TIMEZONE"], random.Random(18)
    monkeypatch.setattr(demo, "N_PARTICIPANTS", 12)
    demo.load_demo(db, rb, app.config, now=NOW)
    nina, sam = people["nurse_nina"], people["safety_sam"]
    s01 = [p for p in participants.list_for(db, nina) if p.get("injection_at")]
    computed = []
    real = dashboard.compute
    monkeypatch.setattr(dashboard, "compute", lambda *a, **kw: computed.append(1) or real(*a, **kw))
    now, view = NOW, NOW + timedelta(days=5)  # viewed at one instant: only the data version tells a change apart
    for n in range(8):
        now += timedelta(hours=rng.choice((1, 5, 12)))
        change = n % 4
        if change == 0:  # a creatinine comes in (and may breach a rule: an alert)
            p = rng.choice(s01)
            rec = labs.validate({"analyte": "creatinine", "value": round(rng.uniform(1.2, 4.5), 2), "unit": "mg/dL",
                                 "collected_at": (now - timedelta(minutes=30)).isoformat()}, p, rb.study, tz, now)
            labs.store(db, rec, p, rules=rb.lab_rules, study=rb.study, tz=tz, actor=nina["email"], source="form",
                       now=now)
        elif change == 1:  # a result entered in error leaves the eGFR figure
            lab_id = db.execute("SELECT id FROM labs WHERE status = 'valid' AND analyte = 'creatinine' AND site = 'S01'"
                                " ORDER BY id DESC LIMIT 1").fetchone()[0]
            lab_error.mark_entered_in_error(db, lab_id, reason="another patient's sample", user=nina,
                                            rules=rb.lab_rules, study=rb.study, tz=tz, now=now)
        elif change == 2:  # an open alert acknowledged: the alert counts change
            open_alert = alerts.list_alerts(db, sam, status="open", limit=1)[0]
            alerts.acknowledge(db, open_alert["id"], user=sam, comment="seen, site called", now=now)
        else:  # a participant withdraws: the swimmer lane ends, the visits after are no longer expected
            p = s01.pop()
            status.set_status(db, p["subject_id"], {"status": "withdrawn", "on": (now - timedelta(days=2)).date()
                                                    .isoformat(), "reason": "moved away"}, user=nina, study=rb.study,
                              tz=tz, now=now)
        before = len(computed)
        for persona, served, again, fresh in boards(db, people, rb, tz, view):
            assert served == fresh, (n, persona)
            assert again == fresh, (n, persona)
        assert len(computed) == before + 2 * 2  # each persona: one fresh computation for the cache, one here
    assert versions.current(db, figures.VERSION) > 0


def test_the_swimmer_marks_are_the_listed_aes_fields_in_each_users_scope(app, db, people, monkeypatch):
    """adverse_events.chart_marks (the dashboard's narrow read) gives what the AE list gives, field for field."""
    from safety_service.domain import adverse_events

    monkeypatch.setattr(demo, "N_PARTICIPANTS", 12)
    demo.load_demo(db, app.extensions["rulebook"], app.config, now=NOW)
    fields = ("subject_id", "onset_day", "grade", "serious", "term")
    for persona in ("safety_sam", "nurse_nina", None):
        user = people[persona] if persona else None
        listed = [{k: ae[k] for k in fields} for ae in adverse_events.list_aes(db, user)]
        assert listed, persona
        assert adverse_events.chart_marks(db, user) == listed, persona
    everyone = adverse_events.chart_marks(db, None)
    assert len(adverse_events.chart_marks(db, people["nurse_nina"])) < len(everyone)  # the nurse sees her site
