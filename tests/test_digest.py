"""The daily digest: per person, since their previous digest, scoped like their pages, delivered over real SMTP.

Story (15 June 2026, 12:00 in Berlin): S01-001 (site S01) has missed Months 1 and 3, an SAE whose 24-hour
report clock runs until tomorrow 10:00 CEST, a grade 2 event, and an eGFR that fell by more than 30 %. S02-001
(site S02) has missed the same visits and has one grade 1 event. safety_sam sees everything, investigator_ivan
only S01, the nurses their own site and no alerts.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import lxml.html
import pytest

from safety_service.db import rows
from safety_service.domain import adverse_events, checks, digest, labs
from safety_service.jobs.digest import queue_due_digests

from conftest import NOW
from test_mail import smtp_server  # noqa: F401  (the loopback SMTP server fixture)

BIRTH_DATE = "1968-03-02"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.fixture
def story(app, db, people, enrol):
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    enrol("S01-001", birth_date=BIRTH_DATE)
    enrol("S02-001")

    def ae(who, **data):
        base = {"verbatim": "as reported", "onset": "2026-06-14", "relatedness_product": "unlikely",
                "relatedness_procedure": "unlikely", "expected": True, "outcome": "recovering"}
        return adverse_events.create(db, {**base, **data}, catalogue=rb.ctcae, study=rb.study, tz=tz,
                                     actor=people[who], now=NOW)

    def lab(value, at):
        return labs.record(db, "S01-001", {"analyte": "creatinine", "value": value, "unit": "mg/dL",
                                           "collected_at": at}, rules=rb.lab_rules, study=rb.study, tz=tz,
                           user=people["nurse_nina"], source="form", now=NOW)

    # Baseline: screening and day 0 before the injection (09:30 UTC on 12 Jan); then a fall in June.
    lab(1.0, "2026-01-05T08:00:00+00:00")
    lab(1.0, "2026-01-12T08:00:00+00:00")
    lab(1.6, "2026-06-10T08:00:00+00:00")
    sae = ae("nurse_nina", subject_id="S01-001", term="Hematuria", grade=3, serious=True,
             seriousness=["hospitalization"], relatedness_procedure="probable", expected=False,
             awareness_at="2026-06-15T08:00:00+00:00")
    ae("nurse_nina", subject_id="S01-001", term="Nausea", grade=2)
    ae("nurse_noah", subject_id="S02-001", term="Headache", grade=1)
    checks.run_all(db, rb, tz, NOW)
    return {"sae": sae}


def digest_mail(db, email):
    found = rows(db, "SELECT * FROM outbox WHERE kind = 'digest' AND recipient = ? ORDER BY id", [email])
    return found[-1] if found else None


def received(server, email):
    got = [m for m in server.inbox.messages if m["To"] == email and "Safety digest" in m["Subject"]]
    assert len(got) == 1, f"{len(got)} digests for {email}"
    return got[0], got[0].get_body(("plain",)).get_content(), got[0].get_body(("html",)).get_content()


def test_it_delivers_the_safety_officers_digest_with_every_section_in_text_and_html(app, db, story, smtp_server):
    r = app.test_cli_runner().invoke(args=["digest", "--now", "2026-06-15T10:00:00+00:00"])
    assert r.exit_code == 0, r.output
    # safety_sam, investigator_ivan, nurse_nina, nurse_noah: the roles with a digest time; auditor and admin none.
    # Sent: the 4 digests and the 2 immediate SAE mails queued when the SAE was saved.
    assert r.output.splitlines()[:2] == ["4 digests queued", "6 sent"]
    msg, text, html = received(smtp_server, "safety_sam@example.org")
    open_alerts = rows(db, "SELECT * FROM alerts WHERE status = 'open'")
    breaches = [a for a in open_alerts if a["kind"] == "lab_rule"]
    assert breaches, "the eGFR fall breaches the lab rules"
    assert msg["Subject"] == (f"[NCT07396155] Safety digest 2026-06-15 · {len(open_alerts)} open alerts · "
                              "3 new AEs · 1 open SAE")
    assert "from 2026-06-14 12:00 CEST to 2026-06-15 12:00 CEST" in text
    assert "NEW ADVERSE EVENTS: 3" in text
    assert "  grade 3          0      1               0      1" in text  # the SAE: onset day 154, late phase
    assert "  grade 1          0      1               0      1" in text
    assert f"S01-001-AE1: Hematuria, grade 3, late, SERIOUS  http://127.0.0.1:5000/ae/{story['sae']['id']}" in text
    assert "OPEN SERIOUS ADVERSE EVENTS: 1" in text
    assert "report due in 22 h 00 min; not signed off" in text  # 24 h from 08:00 UTC awareness, seen at 10:00
    assert f"NEW LAB RULE BREACHES: {len(breaches)}" in text and "eGFR" in text
    assert "OVERDUE VISITS: 4" in text
    assert "S02-001 Month 3: window 2026-03-30 to 2026-04-27, 49 days overdue (missed)" in text
    assert f"UNACKNOWLEDGED ALERTS: {len(open_alerts)}" in text
    assert "COHORT: eGFR 30 % or more below baseline at the latest value: 1 of 1 participants" in text
    assert "(S01-001)" in text and "Alert inbox: http://127.0.0.1:5000/alerts" in text
    assert '<h2 id="new-aes">New adverse events: 3</h2>' in html
    assert '<h2 id="open-saes">Open serious adverse events: 1</h2>' in html
    assert "report due in 22 h 00 min; not signed off</a>" in html
    assert f'<h2 id="breaches">New lab rule breaches: {len(breaches)}</h2>' in html
    assert '<h2 id="overdue">Overdue visits: 4</h2>' in html
    assert f'<h2 id="alerts">Unacknowledged alerts: {len(open_alerts)}</h2>' in html
    assert "1 of 1 participants" in html and 'href="http://127.0.0.1:5000/participants/S02-001"' in html
    assert digest_mail(db, "safety_sam@example.org")["status"] == "sent"


def test_it_says_the_same_facts_in_the_text_and_the_html_part(app, db, story, smtp_server):
    """Every listed line of the text part (participant included) is in the HTML part, and each breach names its subject."""
    app.test_cli_runner().invoke(args=["digest", "--now", "2026-06-15T10:00:00+00:00"])
    _, text, html = received(smtp_server, "safety_sam@example.org")
    shown = " ".join(lxml.html.fromstring(html).text_content().split())
    facts = [re.sub(r"\s+http://\S+$", "", ln.strip()[2:]) for ln in text.splitlines() if ln.startswith("  - ")]
    assert len(facts) >= 8
    for fact in facts:
        assert " ".join(fact.split()) in shown, fact
    breaches = text.split("NEW LAB RULE BREACHES")[1].split("OVERDUE VISITS")[0]
    listed = [ln for ln in breaches.splitlines() if ln.startswith("  - ")]
    assert listed and all(re.match(r"  - \[\w+\] S\d\d-\d{3}: ", ln) for ln in listed)
    assert lxml.html.fromstring(html).xpath("//h2[@id='breaches']/following-sibling::ul[1]/li[1]")[0].text_content() \
        .split("] ")[1].startswith("S01-001: ")


def test_it_scopes_an_investigators_digest_to_the_site(app, db, story, smtp_server):
    app.test_cli_runner().invoke(args=["digest", "--now", "2026-06-15T10:00:00+00:00"])
    msg, text, html = received(smtp_server, "investigator_ivan@example.org")
    assert "for site S01" in text and "NEW ADVERSE EVENTS: 2" in text and "OVERDUE VISITS: 2" in text
    assert "S02-001" not in text and "S02-001" not in html and "Headache" not in text
    assert "UNACKNOWLEDGED ALERTS" in text


def test_it_gives_nurses_their_sites_visits_and_events_but_no_alert_sections(app, db, story, smtp_server):
    app.test_cli_runner().invoke(args=["digest", "--now", "2026-06-15T10:00:00+00:00"])
    _, text, html = received(smtp_server, "nurse_noah@example.org")
    assert "for site S02" in text and "NEW ADVERSE EVENTS: 1" in text and "S02-001 Month 1" in text
    assert "S01-001" not in text and "UNACKNOWLEDGED ALERTS" not in text and "LAB RULE" not in text
    assert 'id="alerts"' not in html


def test_it_puts_no_participant_identity_beyond_the_subject_id_in_a_digest(app, db, story):
    queue_due_digests(db, app.extensions["rulebook"], app.config, NOW, force=True)
    for m in rows(db, "SELECT * FROM outbox WHERE kind = 'digest'"):
        for part in (m["subject"], m["body_text"], m["body_html"]):
            assert BIRTH_DATE not in part and "1968" not in part and "72.5" not in part


def test_it_builds_a_digest_at_each_roles_local_time_once_a_day(app, db, people):
    rb = app.extensions["rulebook"]
    # 15 June is summer time in Berlin (UTC+2): 07:00 local is 05:00 UTC, the investigator's 07:30 is 05:30.
    assert queue_due_digests(db, rb, app.config, utc("2026-06-15T04:59:00")) == 0
    assert queue_due_digests(db, rb, app.config, utc("2026-06-15T05:00:00")) == 3  # safety officer, 2 nurses
    assert queue_due_digests(db, rb, app.config, utc("2026-06-15T05:29:00")) == 0
    assert queue_due_digests(db, rb, app.config, utc("2026-06-15T05:30:00")) == 1  # the investigator
    assert queue_due_digests(db, rb, app.config, utc("2026-06-15T21:55:00")) == 0
    assert queue_due_digests(db, rb, app.config, utc("2026-06-15T22:00:00")) == 0  # 00:00 on the 16th: not yet
    assert queue_due_digests(db, rb, app.config, utc("2026-06-16T05:00:00")) == 3


def test_it_covers_what_happened_since_the_previous_digest(app, db, people, enrol):
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    enrol("S01-001")
    first_at, second_at = utc("2026-06-15T05:00:00"), utc("2026-06-16T05:00:00")
    sam = digest.Recipient("safety_sam@example.org", "Safety Sam", "safety_officer", None)
    assert digest.period_start(db, sam.email, first_at) == first_at - timedelta(days=1)
    queue_due_digests(db, rb, app.config, first_at)
    adverse_events.create(db, {"subject_id": "S01-001", "term": "Fatigue", "verbatim": "tired", "grade": 1,
                               "onset": "2026-06-15", "relatedness_product": "unlikely",
                               "relatedness_procedure": "unlikely", "expected": True, "outcome": "recovering"},
                          catalogue=rb.ctcae, study=rb.study, tz=tz, actor=people["nurse_nina"], now=NOW)
    assert digest.period_start(db, sam.email, second_at) == first_at
    assert "NEW ADVERSE EVENTS: 0" in digest_mail(db, sam.email)["body_text"]
    queue_due_digests(db, rb, app.config, second_at)
    second = digest_mail(db, sam.email)
    assert "NEW ADVERSE EVENTS: 1" in second["body_text"] and "Fatigue" in second["body_text"]
    assert second["period_start"] == "2026-06-15T05:00:00+00:00" and second["period_end"] == "2026-06-16T05:00:00+00:00"


def test_it_counts_an_egfr_fall_of_exactly_30_percent_and_not_one_just_short(app, db, people, enrol):
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    for sid, latest in (("S01-001", 42.0), ("S01-002", 42.1)):
        enrol(sid)
        for value, at in ((60, "2026-01-05T08:00:00+00:00"), (60, "2026-01-12T08:00:00+00:00"),
                          (latest, "2026-06-10T08:00:00+00:00")):
            labs.record(db, sid, {"analyte": "egfr", "value": value, "unit": "mL/min/1.73m2", "collected_at": at},
                        rules=rb.lab_rules, study=rb.study, tz=tz, user=people["nurse_nina"], source="form", now=NOW)
    figure = digest.egfr_decline_figure(db, rb.lab_rules, people["safety_sam"], NOW)
    assert figure == {"declined": 1, "evaluable": 2, "subjects": ["S01-001"]}
    assert digest.egfr_decline_figure(db, rb.lab_rules, people["nurse_noah"], NOW)["evaluable"] == 0


def test_it_prints_the_audit_chain_head_in_every_digest_and_it_verifies_later(app, db, story, smtp_server):
    """Issue 15: the anchor kept in the recipients' mailboxes, outside the database, checks the trail later."""
    from safety_service.domain import audit
    app.test_cli_runner().invoke(args=["digest", "--now", "2026-06-15T10:00:00+00:00"])
    _, text, html = received(smtp_server, "safety_sam@example.org")
    anchor = re.search(r"Audit chain head at this digest: (\d+:[0-9a-f]{64})", text).group(1)
    assert f"<code>{anchor}</code>" in html
    assert audit.verify(db, anchor=anchor).ok
    _, nurse_text, _ = received(smtp_server, "nurse_nina@example.org")
    assert "Audit chain head at this digest: " in nurse_text
