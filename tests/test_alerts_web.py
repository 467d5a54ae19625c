"""The alert inbox and the admin's outbox pages.

Story: S01-001 and S02-001 have missed visits (one alert each per visit). safety_sam works through the inbox;
investigator_ivan (S01) sees only his site; nurse_nina has no inbox; admin_alex reads the mails in the outbox.
"""
from __future__ import annotations

import re

import pytest

from safety_service.db import rows
from safety_service.domain import alerts, audit, checks

from conftest import NOW


@pytest.fixture
def overdue(app, db, people, enrol):
    enrol("S01-001")
    enrol("S02-001")
    checks.run_all(db, app.extensions["rulebook"], app.config["TIMEZONE"], NOW)
    return {a["key"]: a for a in rows(db, "SELECT * FROM alerts")}


def alert_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-alert="(\d+)"', html)]


def test_it_shows_the_safety_officer_every_open_alert_most_severe_first(app, db, web, overdue):
    alerts.raise_alert(db, key="sae:1", kind="sae", severity="critical", message="SAE S02-001 <b>bold</b>", now=NOW,
                       subject_id="S02-001", site="S02")
    page = web("safety_sam").get("/alerts")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    ids = alert_ids(html)
    assert len(ids) == 5 and ids[0] == rows(db, "SELECT id FROM alerts WHERE key = 'sae:1'")[0]["id"]
    assert "SAE S02-001 &lt;b&gt;bold&lt;/b&gt;" in html  # autoescaped
    assert "Follow-up visit overdue" in html and "2026-06-15 12:00 CEST" in html


def test_it_filters_the_inbox_by_kind_severity_subject_site_and_status(app, db, web, overdue):
    sam = web("safety_sam")
    assert len(alert_ids(sam.get("/alerts?subject_id=S01-001").get_data(as_text=True))) == 2
    assert len(alert_ids(sam.get("/alerts?site=S02").get_data(as_text=True))) == 2
    assert alert_ids(sam.get("/alerts?kind=sae").get_data(as_text=True)) == []
    assert alert_ids(sam.get("/alerts?severity=critical").get_data(as_text=True)) == []
    assert alert_ids(sam.get("/alerts?status=acknowledged").get_data(as_text=True)) == []
    assert len(alert_ids(sam.get("/alerts?status=all").get_data(as_text=True))) == 4
    bad = sam.get("/alerts?severity=urgent")
    assert bad.status_code == 422 and 'data-field="severity"' in bad.get_data(as_text=True)


def test_it_shows_an_investigator_only_his_sites_alerts_and_hides_the_others(app, db, web, overdue):
    ivan = web("investigator_ivan")
    shown = alert_ids(ivan.get("/alerts").get_data(as_text=True))
    s01 = sorted(a["id"] for a in overdue.values() if a["site"] == "S01")
    assert sorted(shown) == s01
    other = overdue["overdue:S02-001:M1"]["id"]
    assert ivan.get(f"/alerts/{other}").status_code == 404
    assert ivan.post_form(f"/alerts/{other}/acknowledge", {"comment": "not mine"}).status_code == 404
    assert rows(db, "SELECT status FROM alerts WHERE id = ?", [other])[0]["status"] == "open"


def test_it_refuses_the_inbox_to_a_nurse(web, overdue):
    assert web("nurse_nina").get("/alerts").status_code == 403


def test_it_acknowledges_with_a_comment_and_records_it_in_the_audit_trail(app, db, web, overdue):
    sam = web("safety_sam")
    alert = overdue["overdue:S01-001:M1"]
    page = sam.post_form(f"/alerts/{alert['id']}/acknowledge", {"comment": "Site called; visit booked for Friday"},
                         from_page=f"/alerts/{alert['id']}")
    assert page.status_code == 302
    stored = rows(db, "SELECT * FROM alerts WHERE id = ?", [alert["id"]])[0]
    assert stored["status"] == "acknowledged" and stored["acknowledged_by"] == "safety_sam@example.org"
    assert stored["ack_comment"] == "Site called; visit booked for Friday"
    entry = [e for e in audit.history(db, "alert", alert["id"]) if e["action"] == "acknowledged"][0]
    assert entry["reason"] == "Site called; visit booked for Friday" and entry["new_value"] == "acknowledged"
    detail = sam.get(f"/alerts/{alert['id']}").get_data(as_text=True)
    assert "Site called; visit booked for Friday" in detail and "acknowledged" in detail
    assert alert["id"] not in alert_ids(sam.get("/alerts").get_data(as_text=True))


def test_it_refuses_an_acknowledgement_without_a_comment_next_to_the_field_and_changes_nothing(db, web, overdue):
    alert = overdue["overdue:S01-001:M1"]
    page = web("safety_sam").post_form(f"/alerts/{alert['id']}/acknowledge", {"comment": "  "})
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and 'data-field="comment"' in html and "is required" in html
    assert rows(db, "SELECT status FROM alerts WHERE id = ?", [alert["id"]])[0]["status"] == "open"


def test_it_resolves_an_acknowledged_alert_and_then_refuses_a_second_resolution(db, web, overdue):
    sam = web("safety_sam")
    alert = overdue["overdue:S01-001:M3"]
    sam.post_form(f"/alerts/{alert['id']}/acknowledge", {"comment": "seen"})
    assert sam.post_form(f"/alerts/{alert['id']}/resolve", {"comment": "visit done on 2 May"}).status_code == 302
    stored = rows(db, "SELECT * FROM alerts WHERE id = ?", [alert["id"]])[0]
    assert stored["status"] == "resolved" and stored["resolve_comment"] == "visit done on 2 May"
    again = sam.post_form(f"/alerts/{alert['id']}/resolve", {"comment": "twice"}, follow_redirects=True)
    assert "is resolved" in again.get_data(as_text=True)
    assert len(alert_ids(sam.get("/alerts?status=resolved").get_data(as_text=True))) == 1


def test_it_lets_an_auditor_read_alerts_but_not_acknowledge_them(web, overdue):
    ada = web("auditor_ada")
    alert = overdue["overdue:S01-001:M1"]
    page = ada.get(f"/alerts/{alert['id']}").get_data(as_text=True)
    assert "Month 1 visit of S01-001" in page and "Acknowledge" not in page
    assert ada.post_form(f"/alerts/{alert['id']}/acknowledge", {"comment": "x"}).status_code == 403


def test_it_links_the_navigation_badge_to_the_inbox(web, overdue):
    html = web("safety_sam").get("/").get_data(as_text=True)
    assert 'href="/alerts" class="badge sev-high"' in html and "4 open alerts" in html


# --------------------------------------------------------------------------------------------------- outbox

def test_it_shows_the_admin_the_mails_kept_in_the_outbox_without_an_smtp_host(app, db, web, people):
    alerts.raise_alert(db, key="sae:9", kind="sae", severity="critical", message="SAE S01-001 grade 3", now=NOW,
                       subject_id="S01-001", site="S01")
    alex = web("admin_alex")
    page = alex.get("/outbox/").get_data(as_text=True)
    assert "No SMTP host is configured" in page and "2 pending" in page
    assert page.count("[NCT07396155] CRITICAL: Serious adverse event · S01-001") == 2
    mail_id = rows(db, "SELECT id FROM outbox WHERE recipient = 'safety_sam@example.org'")[0]["id"]
    detail = alex.get(f"/outbox/{mail_id}").get_data(as_text=True)
    assert "SAE S01-001 grade 3" in detail and "Message-ID" in detail
    part = alex.get(f"/outbox/{mail_id}/html")
    assert part.status_code == 200 and part.headers["Content-Security-Policy"].startswith("sandbox")
    assert "<strong>S01-001</strong>" in part.get_data(as_text=True)


def test_it_keeps_the_outbox_from_everyone_but_admins(web, people):
    for persona in ("safety_sam", "nurse_nina", "auditor_ada", "investigator_ivan"):
        assert web(persona).get("/outbox/").status_code == 403, persona
