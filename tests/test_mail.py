"""Mail: rendered from one context into subject, text and HTML; routed by the rules file; delivered over real SMTP.

Story: nurse_nina records a serious Hematuria for S01-001; investigator_ivan (S01) and safety_sam get a mail at
once, nurse_noah (S02) does not. The mail server on loopback (aiosmtpd) goes down and comes back.
"""
from __future__ import annotations

import email
import socket
from email import policy
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from jinja2 import UndefinedError

from safety_service.db import rows
from safety_service.domain import adverse_events, alerts, outbox
from safety_service.jobs.mail import send_due
from safety_service.mail import smtp
from safety_service.mail.render import render
from safety_service.mail.routing import Route

from conftest import NOW

BIRTH_DATE = "1968-03-02"


# ---------------------------------------------------------------------------------------------- SMTP on loopback

class Inbox:
    """An aiosmtpd handler keeping every message it accepts; RCPT to nobody@... is refused for good (550)."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                      policy=policy.default))
        return "250 OK"


def free_port() -> int:
    """A port nobody listens on (Controller(port=0) does not work: bind, read the port, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    def __init__(self, **controller_kw):
        self.port, self.inbox, self.controller, self.kw = free_port(), Inbox(), None, controller_kw

    def start(self):
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **self.kw)
        self.controller.start()

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None

    def configure(self, app):
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=self.port, MAIL_FROM="safety@trial.example")


@pytest.fixture
def smtp_server(app):
    server = SmtpServer()
    server.configure(app)
    server.start()
    yield server
    server.stop()


def deliver(app, db, now=NOW) -> int:
    return send_due(db, app.extensions["rulebook"], app.config, now)


# ----------------------------------------------------------------------------------------------------- helpers

@pytest.fixture
def record_sae(app, db, people, enrol):
    rb = app.extensions["rulebook"]
    enrol("S01-001", birth_date=BIRTH_DATE)

    def make(**changes):
        data = {"subject_id": "S01-001", "term": "Hematuria", "verbatim": "blood in the urine <b>after</b> injection",
                "grade": 3, "onset": "2026-06-14", "relatedness_product": "possible",
                "relatedness_procedure": "probable", "expected": False, "outcome": "recovering", "serious": True,
                "seriousness": ["hospitalization"], "awareness_at": "2026-06-15T08:00:00+00:00"}
        data.update(changes)
        return adverse_events.create(db, data, catalogue=rb.ctcae, study=rb.study, tz=app.config["TIMEZONE"],
                                     actor=people["nurse_nina"], now=NOW)
    return make


def mails(db, kind="alert"):
    return rows(db, "SELECT * FROM outbox WHERE kind = ? ORDER BY recipient", [kind])


# ------------------------------------------------------------------------------------------------------ render

def test_it_renders_subject_text_and_html_from_one_context_escaping_only_the_html():
    alert = {"id": 3, "kind": "sae", "kind_label": "Serious adverse event", "severity": "critical",
             "subject_id": "S01-001", "site": "S01", "rule": "ae.serious", "raised_at": "2026-06-15 12:00 CEST",
             "message": "SAE <script>alert(1)</script> & co", "link": "http://127.0.0.1:5000/alerts/3"}
    m = render("alert", {"alert": alert, "recipient": {"name": "Sam", "role": "safety_officer"},
                         "study_id": "NCT07396155", "base_url": "http://127.0.0.1:5000", "timezone": "Europe/Berlin"})
    assert m.subject == "[NCT07396155] CRITICAL: Serious adverse event · S01-001"
    assert "\n" not in m.subject
    assert "SAE <script>alert(1)</script> & co" in m.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in m.html and "<script>" not in m.html
    assert 'href="http://127.0.0.1:5000/alerts/3"' in m.html and "http://127.0.0.1:5000/alerts/3" in m.text


def test_it_refuses_to_render_a_mail_with_a_missing_value():
    with pytest.raises(UndefinedError):
        render("alert", {"alert": {"id": 1}, "recipient": {"name": "x", "role": "nurse"}, "study_id": "N",
                         "base_url": "", "timezone": "UTC"})


def test_it_keeps_a_newline_in_a_value_out_of_the_subject_header():
    alert = {"id": 1, "kind": "x", "kind_label": "Bad\r\nBcc: evil@example.org", "severity": "low",
             "subject_id": None, "site": None, "rule": None, "raised_at": "", "message": "m", "link": "l"}
    m = render("alert", {"alert": alert, "recipient": {"name": "", "role": "admin"}, "study_id": "N",
                         "base_url": "", "timezone": "UTC"})
    assert "\n" not in m.subject and "\r" not in m.subject


# ----------------------------------------------------------------------------------------------------- routing

def test_it_mails_an_sae_at_once_to_the_sites_investigator_and_the_safety_officer_in_the_same_transaction(
        db, record_sae):
    ae = record_sae()
    sae_alert = rows(db, "SELECT * FROM alerts WHERE kind = 'sae'")[0]
    queued = mails(db)
    assert [m["recipient"] for m in queued] == ["investigator_ivan@example.org", "safety_sam@example.org"]
    assert {m["alert_id"] for m in queued} == {sae_alert["id"]}
    assert all(m["created_at"] == sae_alert["raised_at"] for m in queued)
    assert queued[0]["subject"] == "[NCT07396155] CRITICAL: Serious adverse event · S01-001"
    assert f"S01-001-AE{ae['seq']}: " in queued[0]["body_text"]  # the AE's one name (issue 16)


def test_it_rolls_the_mail_back_with_an_alert_whose_transaction_fails(db, people):
    from safety_service.db import atomic
    with pytest.raises(RuntimeError):
        with atomic(db):
            alerts.raise_alert(db, key="sae:99", kind="sae", severity="critical", message="m", now=NOW,
                               subject_id="S01-009", site="S01")
            raise RuntimeError("the AE save failed after the alert")
    assert rows(db, "SELECT * FROM alerts") == [] and rows(db, "SELECT * FROM outbox") == []


def test_it_keeps_grade_3_for_the_digest_and_mails_grade_4_at_once(db, record_sae):
    record_sae(serious=False, seriousness=[], grade=3)
    assert [a["kind"] for a in rows(db, "SELECT kind FROM alerts")] == ["ae_severe"]
    assert mails(db) == []
    record_sae(serious=False, seriousness=[], grade=4, term="Hypertension", verbatim="BP 230/130")
    assert len(mails(db)) == 2


def test_it_routes_by_the_first_matching_route_and_its_grade_condition():
    route = Route(kinds=["ae_severe"], min_grade=4, roles=["safety_officer"], immediate=True)
    assert route.matches({"kind": "ae_severe", "severity": "critical"}, 4)
    assert not route.matches({"kind": "ae_severe", "severity": "high"}, 3)
    assert not route.matches({"kind": "ae_severe", "severity": "critical"}, None)
    assert not route.matches({"kind": "sae", "severity": "critical"}, 5)
    assert Route(kinds=["*"], min_severity="high", roles=["admin"]).matches({"kind": "any", "severity": "critical"}, None)
    assert not Route(kinds=["*"], min_severity="high", roles=["admin"]).matches({"kind": "any", "severity": "medium"}, None)


def test_it_tells_a_site_bound_role_only_of_its_own_sites_alerts(db, people):
    alerts.raise_alert(db, key="sae:s02", kind="sae", severity="critical", message="SAE at S02", now=NOW,
                       subject_id="S02-001", site="S02")
    assert [m["recipient"] for m in mails(db)] == ["safety_sam@example.org"]  # no investigator at S02


def test_it_puts_no_participant_identity_beyond_the_subject_id_in_any_mail(db, record_sae):
    record_sae()
    for m in mails(db):
        for part in (m["subject"], m["body_text"], m["body_html"]):
            assert "S01-001" in part
            assert BIRTH_DATE not in part and "1968" not in part and "72.5" not in part


# --------------------------------------------------------------------------------------------- real SMTP server

def test_it_delivers_over_smtp_with_the_stored_message_id_and_both_parts(app, db, record_sae, smtp_server):
    record_sae()
    assert deliver(app, db) == 2
    got = sorted(smtp_server.inbox.messages, key=lambda m: m["To"])
    stored = mails(db)
    assert [m["To"] for m in got] == [m["recipient"] for m in stored]
    assert [m["Message-ID"] for m in got] == [m["message_id"] for m in stored]
    assert got[0]["Subject"] == stored[0]["subject"] and got[0]["From"] == "safety@trial.example"
    assert got[0]["Auto-Submitted"] == "auto-generated"
    text = got[0].get_body(("plain",)).get_content()
    html = got[0].get_body(("html",)).get_content()
    assert "Serious adverse event (critical) for participant S01-001" in text
    assert "<strong>S01-001</strong>" in html and "/alerts/" in html
    assert all(m["status"] == "sent" and m["sent_at"] for m in mails(db))
    assert deliver(app, db, NOW + timedelta(hours=1)) == 0 and len(smtp_server.inbox.messages) == 2


def test_it_keeps_mail_queued_while_the_server_is_down_and_delivers_it_once_when_it_is_back(app, db, record_sae):
    server = SmtpServer()
    server.configure(app)  # configured, not started: connection refused
    record_sae()
    assert deliver(app, db) == 0
    queued = mails(db)
    # The first refusal stops the batch: the second message was not even tried.
    assert sorted((m["status"], m["attempts"]) for m in queued) == [("pending", 0), ("pending", 1)]
    tried = next(m for m in queued if m["attempts"] == 1)
    assert "cannot reach 127.0.0.1" in tried["last_error"] and tried["due_at"] == "2026-06-15T10:01:00+00:00"
    assert deliver(app, db, NOW + timedelta(seconds=30)) == 0  # the other one, refused too
    assert deliver(app, db, NOW + timedelta(seconds=59)) == 0  # nothing due: both are waiting their backoff
    assert sorted(m["attempts"] for m in mails(db)) == [1, 1]
    assert deliver(app, db, NOW + timedelta(seconds=60)) == 0  # refused again: the wait doubles
    assert next(m for m in mails(db) if m["id"] == tried["id"])["due_at"] == "2026-06-15T10:03:00+00:00"
    server.start()
    try:
        assert deliver(app, db, NOW + timedelta(minutes=2)) == 1  # only the one whose wait is over
        assert deliver(app, db, NOW + timedelta(minutes=3)) == 1
        assert deliver(app, db, NOW + timedelta(minutes=10)) == 0
        assert sorted(m["To"] for m in server.inbox.messages) == ["investigator_ivan@example.org",
                                                                   "safety_sam@example.org"]
        assert len({m["Message-ID"] for m in server.inbox.messages}) == 2
    finally:
        server.stop()
    assert [m["status"] for m in mails(db)] == ["sent", "sent"]


def test_it_marks_a_mail_refused_for_good_as_failed_at_once_and_raises_an_alert(app, db, people, smtp_server):
    outbox.enqueue(db, key="x", kind="alert", template="alert", recipient="nobody@example.org", subject="s",
                   text="t", html="<p>h</p>", mail_from="safety@trial.example", now=NOW)
    assert deliver(app, db) == 0
    m = rows(db, "SELECT * FROM outbox")[0]
    assert m["status"] == "failed" and m["attempts"] == 1 and "550" in m["last_error"]
    failed = rows(db, "SELECT * FROM alerts WHERE kind = 'mail_failed'")
    assert len(failed) == 1 and "nobody@example.org" in failed[0]["message"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback test server only
def test_it_logs_in_when_a_user_is_configured(app, db, people):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"mailer", b"s3cret")
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself

    server = SmtpServer(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    server.configure(app)
    app.config.update(SMTP_USER="mailer", SMTP_PASSWORD="wrong")
    outbox.enqueue(db, key="y", kind="alert", template="alert", recipient="safety_sam@example.org", subject="s",
                   text="t", html="<p>h</p>", mail_from="safety@trial.example", now=NOW)
    server.start()
    try:
        assert deliver(app, db) == 0  # wrong password: kept, retried later (an operator can fix the setting)
        kept = rows(db, "SELECT status, last_error FROM outbox")[0]
        assert kept["status"] == "pending" and "SMTP login failed: 535" in kept["last_error"]
        app.config["SMTP_PASSWORD"] = "s3cret"
        assert deliver(app, db, NOW + timedelta(minutes=1)) == 1
        assert len(server.inbox.messages) == 1
    finally:
        server.stop()


def test_it_sends_nothing_without_an_smtp_host_and_keeps_the_mail_readable(app, db, record_sae):
    app.config["SMTP_HOST"] = ""
    record_sae()
    assert deliver(app, db) == 0
    assert [m["status"] for m in mails(db)] == ["pending", "pending"]


def test_it_sorts_smtp_failures_into_retryable_and_permanent(app):
    settings = smtp.SmtpSettings(host="127.0.0.1", port=free_port())
    with pytest.raises(smtp.RetryableError) as e:
        smtp.send({"subject": "s", "recipient": "a@b.c", "message_id": "<1@b.c>", "body_text": "t",
                   "body_html": "h"}, settings, NOW, timeout=5)
    assert e.value.connection
