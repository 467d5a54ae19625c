"""The outbox: a message queued once per key, claimed by one sender, retried with backoff, failed with an alert.

Story: an SAE alert for S01-001 is mailed to safety_sam; the mail server misbehaves in every way it can.
"""
from __future__ import annotations

import multiprocessing
from datetime import timedelta

from safety_service.clock import iso
from safety_service.db import connect, rows
from safety_service.domain import alerts, audit, outbox
from safety_service.mail.routing import Delivery

from conftest import NOW

DELIVERY = Delivery(max_attempts=3, backoff_first_seconds=60, backoff_max_seconds=600, claim_timeout_seconds=300)


def queue(db, key="alert:1:sam@example.org", now=NOW, **kw):
    data = dict(kind="alert", template="alert", recipient="safety_sam@example.org", subject="[NCT] SAE S01-001",
                text="plain", html="<p>html</p>", mail_from="safety@trial.example", now=now)
    data.update(kw)
    return outbox.enqueue(db, key=key, **data)


def test_it_queues_a_message_once_per_key_with_a_stable_message_id_and_audits_it(db):
    first = queue(db)
    again = queue(db, subject="a second attempt to queue the same mail")
    assert first is not None and again is None
    msg = outbox.get(db, first)
    assert msg["status"] == "pending" and msg["attempts"] == 0 and msg["due_at"] == iso(NOW)
    assert msg["subject"] == "[NCT] SAE S01-001"
    assert msg["message_id"] == outbox.message_id("alert:1:sam@example.org", "safety@trial.example")
    assert msg["message_id"].endswith("@trial.example>") and msg["message_id"].startswith("<")
    assert [e["action"] for e in audit.history(db, "outbox", first)] == ["mail_queued"] * 3  # key, recipient, subject
    assert audit.verify(db).ok


def test_it_claims_a_due_message_once_and_never_one_not_yet_due(db):
    due = queue(db, key="a")
    later = queue(db, key="b", now=NOW + timedelta(minutes=2))
    msg = outbox.claim(db, NOW, DELIVERY.claim_timeout_seconds)
    assert msg["id"] == due and msg["status"] == "sending" and msg["attempts"] == 1 and msg["claimed_at"] == iso(NOW)
    assert outbox.claim(db, NOW, DELIVERY.claim_timeout_seconds) is None  # b is due in 2 minutes, a is taken
    assert outbox.claim(db, NOW + timedelta(minutes=2), DELIVERY.claim_timeout_seconds)["id"] == later


def test_it_marks_a_delivered_message_sent_and_audits_it(db):
    msg = outbox.claim(db, NOW, 300) if queue(db) else None
    assert outbox.mark_sent(db, msg, NOW + timedelta(seconds=2))
    stored = outbox.get(db, msg["id"])
    assert stored["status"] == "sent" and stored["sent_at"] == iso(NOW + timedelta(seconds=2))
    assert outbox.claim(db, NOW + timedelta(days=1), 300) is None
    assert "mail_sent" in [e["action"] for e in audit.history(db, "outbox", msg["id"])]


def test_it_retries_with_a_doubling_wait_capped_at_the_maximum():
    waits = [DELIVERY.backoff_seconds(n) for n in range(1, 7)]
    assert waits == [60, 120, 240, 480, 600, 600]


def test_it_puts_a_failed_attempt_back_after_the_backoff_keeping_the_error(db):
    queue(db)
    msg = outbox.claim(db, NOW, 300)
    status = outbox.mark_retry(db, msg, NOW, "cannot reach mail:25: refused", max_attempts=3,
                               backoff_seconds=DELIVERY.backoff_seconds(msg["attempts"]))
    stored = outbox.get(db, msg["id"])
    assert status == "pending" and stored["status"] == "pending" and stored["last_error"].startswith("cannot reach")
    assert stored["due_at"] == iso(NOW + timedelta(seconds=60))
    assert outbox.claim(db, NOW + timedelta(seconds=59), 300) is None
    again = outbox.claim(db, NOW + timedelta(seconds=60), 300)
    assert again["id"] == msg["id"] and again["attempts"] == 2


def test_it_gives_up_after_the_attempt_limit_and_raises_an_alert_in_the_same_transaction(db):
    sae = alerts.raise_alert(db, key="sae:77", kind="sae", severity="critical", message="SAE S01-001", now=NOW,
                             subject_id="S01-001", site="S01")
    queue(db, alert_id=sae["id"])
    at = NOW
    for attempt in range(1, 4):
        msg = outbox.claim(db, at, 300)
        assert msg["attempts"] == attempt
        status = outbox.mark_retry(db, msg, at, "421 try later", max_attempts=3,
                                   backoff_seconds=DELIVERY.backoff_seconds(attempt))
        at += timedelta(hours=1)
    assert status == "failed"
    stored = outbox.get(db, msg["id"])
    assert stored["status"] == "failed" and "gave up after 3 attempts" in stored["last_error"]
    assert outbox.claim(db, at + timedelta(days=1), 300) is None
    failed = rows(db, "SELECT * FROM alerts WHERE kind = 'mail_failed'")
    assert len(failed) == 1 and failed[0]["key"] == f"mail_failed:{msg['id']}"
    assert failed[0]["site"] == "S01" and failed[0]["subject_id"] == "S01-001"  # the alert the mail was about
    assert "safety_sam@example.org" in failed[0]["message"] and failed[0]["severity"] == "high"


def test_it_takes_over_a_claim_whose_sender_died_and_the_dead_sender_cannot_finish_it(db):
    queue(db)
    dead = outbox.claim(db, NOW, 300)
    assert outbox.claim(db, NOW + timedelta(seconds=299), 300) is None  # still within the claim timeout
    alive = outbox.claim(db, NOW + timedelta(seconds=300), 300)
    assert alive["id"] == dead["id"] and alive["attempts"] == 2
    assert not outbox.mark_sent(db, dead, NOW + timedelta(seconds=301))  # its claim was taken over
    assert outbox.mark_sent(db, alive, NOW + timedelta(seconds=302))
    assert outbox.get(db, alive["id"])["status"] == "sent"


def test_it_refuses_an_unknown_status_filter_naming_the_field(db):
    import pytest

    from safety_service.domain.errors import InvalidInput
    with pytest.raises(InvalidInput) as e:
        outbox.list_messages(db, status="lost")
    assert "status" in e.value.fields


def _claim_all(path: str, now_iso: str, out):
    from safety_service.clock import parse_datetime
    db = connect(path)
    got = []
    while True:
        msg = outbox.claim(db, parse_datetime(now_iso), 300)
        if msg is None:
            break
        got.append(msg["id"])
    db.conn.close()
    out.put(got)


def test_it_hands_each_message_to_exactly_one_of_four_competing_senders(app, db):
    for i in range(60):
        queue(db, key=f"k{i}")
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(app.config["DATABASE"], iso(NOW), out)) for _ in range(4)]
    for p in procs:
        p.start()
    claimed = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    everything = [i for got in claimed for i in got]
    assert sorted(everything) == sorted(r["id"] for r in rows(db, "SELECT id FROM outbox"))
    assert len(everything) == len(set(everything)) == 60
