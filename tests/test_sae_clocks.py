"""SAE report clocks, one per report of the series: the 24-hour initial report to the sponsor (ICH E6(R2) 4.11.1),
a SUSAR's expedited report (ICH E2A III.A: 7 calendar days if fatal or life-threatening, else 15) and the day-15
follow-up of a fatal or life-threatening one ("within 8 additional calendar days"). Each clock warns, then is
missed, once each, and its alerts are resolved when its report is recorded as sent.

Story: S01-001 (injected 12 Jan 2026) dies of an acute kidney injury the investigator thinks the cells possibly
caused; the site learns of it on 15 Jun 2026 at 12:00 Berlin time (10:00 UTC, NOW). Nobody has assessed whether
the reaction is expected yet, so it is a possible SUSAR and the conservative clocks run.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from safety_service.db import rows
from safety_service.domain import adverse_events, checks
from safety_service.domain.sae import clocks, reports

from conftest import NOW

FATAL = {"subject_id": "S01-001", "term": "Acute kidney injury", "verbatim": "anuria, died on dialysis", "grade": 5,
         "onset": "2026-06-14", "end_date": "2026-06-15", "serious": True, "seriousness": ["death"],
         "relatedness_product": "possible", "relatedness_procedure": "probable", "outcome": "fatal"}


@pytest.fixture
def ctx(app):
    rb = app.extensions["rulebook"]
    return {"catalogue": rb.ctcae, "study": rb.study, "tz": app.config["TIMEZONE"]}


@pytest.fixture
def fatal(db, people, enrol, ctx):
    enrol("S01-001")
    return adverse_events.create(db, dict(FATAL), actor=people["nurse_nina"], now=NOW, **ctx)


def run(app, db, now):
    return checks.run_all(db, app.extensions["rulebook"], app.config["TIMEZONE"], now)


def clock_alerts(db) -> list[tuple[str, str]]:
    return [(r["key"], r["status"]) for r in rows(db, "SELECT key, status FROM alerts WHERE kind IN "
                                                      "('sae_report_due', 'sae_report_missed') ORDER BY id")]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def test_it_gives_a_fatal_possible_susar_three_clocks_on_three_reports(fatal, ctx):
    found = [(c.name, c.number, c.due_at.isoformat(), c.citation) for c in clocks.clocks(fatal, ctx["tz"])]
    assert found == [
        ("initial_24h", 0, "2026-06-16T10:00:00+00:00", "ICH E6(R2) 4.11.1; protocol: 24 hours"),
        ("expedited_7d", 1, "2026-06-22T10:00:00+00:00", "ICH E2A III.A.1"),
        ("follow_up_15d", 2, "2026-06-30T10:00:00+00:00", "ICH E2A III.A.1"),
    ]
    assert fatal["susar"] is False and fatal["susar_status"] == "possible"


def test_it_warns_and_misses_the_day_7_and_day_15_clocks_of_a_fatal_susar_in_a_day_by_day_walk(app, db, fatal):
    aid = fatal["id"]
    seen = {}
    for day in range(0, 18):
        now = NOW + timedelta(days=day, hours=1)  # each morning's check at 11:00 UTC
        for alert in run(app, db, now).raised:
            if alert["kind"] in ("sae_report_due", "sae_report_missed"):
                seen.setdefault(alert["key"], day)
    assert seen == {
        # the 24 h clock (due 16 Jun 10:00) warns 6 h ahead, between two mornings: the hourly job warns of it
        f"sae_report_missed:{aid}": 1,
        f"sae_report_due:{aid}:expedited_7d": 5,        # due 22 Jun 10:00, warned two days ahead
        f"sae_report_missed:{aid}:expedited_7d": 7,
        f"sae_report_due:{aid}:follow_up_15d": 13,      # due 30 Jun 10:00
        f"sae_report_missed:{aid}:follow_up_15d": 15,
    }
    assert len(clock_alerts(db)) == 5  # each once, however many mornings the check ran
    [missed] = rows(db, "SELECT message, severity FROM alerts WHERE key = ?", [f"sae_report_missed:{aid}:expedited_7d"])
    assert missed["severity"] == "critical"
    assert missed["message"] == (
        "SAE S01-001-AE1 (Acute kidney injury, grade 5), a possible SUSAR (expectedness not yet assessed): the "
        "report 1, Expedited report of a fatal or life-threatening SUSAR to the authority (day 7) (ICH E2A III.A.1), "
        "was due 2026-06-22 12:00 CEST and is not recorded as sent (1 h 00 min late).")


def test_it_warns_of_the_24_hour_report_six_hours_ahead(app, db, fatal):
    assert [a["key"] for a in run(app, db, utc("2026-06-16T03:59:59")).raised if a["kind"] == "sae_report_due"] == []
    assert [a["key"] for a in run(app, db, utc("2026-06-16T04:00:00")).raised
            if a["kind"] == "sae_report_due"] == [f"sae_report_due:{fatal['id']}"]


def test_it_is_not_late_at_the_due_instant_and_is_one_second_after(app, db, fatal):
    aid = fatal["id"]
    run(app, db, utc("2026-06-22T10:00:00"))
    keys = dict(clock_alerts(db))
    assert f"sae_report_due:{aid}:expedited_7d" in keys and f"sae_report_missed:{aid}:expedited_7d" not in keys
    run(app, db, utc("2026-06-22T10:00:01"))
    assert f"sae_report_missed:{aid}:expedited_7d" in dict(clock_alerts(db))
    # exactly two days before the day-15 follow-up it warns; a second earlier it did not
    assert f"sae_report_due:{aid}:follow_up_15d" not in dict(clock_alerts(db))
    run(app, db, utc("2026-06-28T09:59:59"))
    assert f"sae_report_due:{aid}:follow_up_15d" not in dict(clock_alerts(db))
    run(app, db, utc("2026-06-28T10:00:00"))
    assert f"sae_report_due:{aid}:follow_up_15d" in dict(clock_alerts(db))


def test_it_resolves_each_clock_when_its_report_is_recorded_as_sent(app, db, people, fatal, ctx):
    aid = fatal["id"]
    for at in ("2026-06-16T05:00:00", "2026-06-21T00:00:00", "2026-06-23T00:00:00"):
        run(app, db, utc(at))  # 24 h and day-7 clocks warned, then missed
    sam = people["safety_sam"]
    # a sponsor-investigator's first report goes to the authority itself: it meets the 24 h and the day-7 clocks
    reports.record(db, aid, {"kind": "initial", "recipient": "BfArM and ethics committee", "expedited": True,
                             "sent_at": "2026-06-22T18:00"}, actor=sam, tz=ctx["tz"], now=utc("2026-06-23T00:00:00"))
    status = dict(clock_alerts(db))
    assert status == {f"sae_report_due:{aid}": "resolved", f"sae_report_missed:{aid}": "resolved",
                      f"sae_report_due:{aid}:expedited_7d": "resolved",
                      f"sae_report_missed:{aid}:expedited_7d": "resolved"}
    reason = rows(db, "SELECT resolve_comment FROM alerts WHERE key = ?", [f"sae_report_missed:{aid}"])[0]
    assert reason["resolve_comment"] == "report 0 of S01-001-AE1 recorded as sent"
    # the follow-up still runs: warned, missed, then met
    run(app, db, utc("2026-06-30T10:00:01"))
    assert dict(clock_alerts(db))[f"sae_report_missed:{aid}:follow_up_15d"] == "open"
    reports.record(db, aid, {"kind": "follow_up", "recipient": "BfArM", "summary": "autopsy: tubular necrosis",
                             "expedited": True}, actor=sam, tz=ctx["tz"], now=utc("2026-07-01T08:00:00"))
    assert {s for _, s in clock_alerts(db)} == {"resolved"}
    assert run(app, db, utc("2026-07-10T00:00:00")).counts["sae_clocks"] == 0


def test_it_keeps_the_day_7_clock_running_after_the_sites_24_hour_report_to_the_sponsor(app, db, people, fatal,
                                                                                      ctx):
    """The site's report to the sponsor meets the 24 h clock only: the sponsor's expedited report to the
    authority (ICH E2A) is still due on day 7, and its follow-up on day 15."""
    aid = fatal["id"]
    reports.record(db, aid, {"kind": "initial", "recipient": "Sponsor safety desk"},
                   actor=people["investigator_ivan"], tz=ctx["tz"], now=utc("2026-06-15T16:00:00"))
    raised = [a["key"] for a in run(app, db, utc("2026-06-20T11:00:00")).raised if a["kind"] == "sae_report_due"]
    assert raised == [f"sae_report_due:{aid}:expedited_7d"]
    listed = reports.series(db, aid, user=None, tz=ctx["tz"], now=utc("2026-06-20T11:00:00"))
    assert [(r["number"], r["status"], r["due_at"]) for r in listed] == [
        (0, "sent", "2026-06-16T10:00:00+00:00"), (1, "due", "2026-06-22T10:00:00+00:00"),
        (2, "due", "2026-06-30T10:00:00+00:00")]
    # a follow-up to the sponsor that is not the expedited report does not stop it either
    reports.record(db, aid, {"kind": "follow_up", "recipient": "Sponsor safety desk", "summary": "autopsy booked"},
                   actor=people["investigator_ivan"], tz=ctx["tz"], now=utc("2026-06-21T09:00:00"))
    assert [a["key"] for a in run(app, db, utc("2026-06-22T10:00:01")).raised if a["kind"] == "sae_report_missed"] \
        == [f"sae_report_missed:{aid}:expedited_7d"]
    sent = reports.record(db, aid, {"kind": "follow_up", "recipient": "BfArM, ethics committee",
                                    "summary": "CIOMS I to the authority", "expedited": True},
                          actor=people["safety_sam"], tz=ctx["tz"], now=utc("2026-06-22T12:00:00"))
    assert (sent["number"], sent["due_at"], sent["expedited"]) == (2, "2026-06-22T10:00:00+00:00", True)
    status = dict(clock_alerts(db))
    assert status[f"sae_report_missed:{aid}:expedited_7d"] == "resolved"
    assert [(r["number"], r["status"]) for r in reports.series(db, aid, user=None, tz=ctx["tz"],
                                                               now=utc("2026-06-22T12:00:00"))] == [
        (0, "sent"), (1, "sent"), (2, "sent"), (3, "due")]  # the day-15 follow-up is next


def test_it_gives_another_susar_one_15_day_expedited_clock(app, db, people, enrol, ctx):
    enrol("S01-001")
    ae = adverse_events.create(db, {**FATAL, "grade": 3, "seriousness": ["hospitalization"], "outcome": "recovering",
                                    "end_date": "", "expected": False}, actor=people["nurse_nina"], now=NOW, **ctx)
    assert ae["susar"] is True and ae["susar_status"] == "susar"
    assert [(c.name, c.number, c.due_at.isoformat()) for c in clocks.clocks(ae, ctx["tz"])] == [
        ("initial_24h", 0, "2026-06-16T10:00:00+00:00"), ("expedited_15d", 1, "2026-06-30T10:00:00+00:00")]


def test_it_gives_an_sae_that_is_expected_or_unrelated_only_the_24_hour_clock(db, people, enrol, ctx):
    enrol("S01-001")
    expected = adverse_events.create(db, {**FATAL, "expected": True}, actor=people["nurse_nina"], now=NOW, **ctx)
    assert [c.name for c in clocks.clocks(expected, ctx["tz"])] == ["initial_24h"]
    unrelated = adverse_events.create(db, {**FATAL, "relatedness_product": "not_related",
                                           "relatedness_procedure": "unlikely"},
                                      actor=people["nurse_nina"], now=NOW, **ctx)
    assert [c.name for c in clocks.clocks(unrelated, ctx["tz"])] == ["initial_24h"]


def test_it_resolves_the_expedited_alerts_when_the_ae_is_assessed_expected(app, db, people, fatal, ctx):
    aid = fatal["id"]
    run(app, db, utc("2026-06-21T00:00:00"))
    assert dict(clock_alerts(db))[f"sae_report_due:{aid}:expedited_7d"] == "open"
    adverse_events.amend(db, aid, {"expected": True}, reason="IB 4.2 lists AKI", actor=people["investigator_ivan"],
                         now=utc("2026-06-21T01:00:00"), **ctx)
    run(app, db, utc("2026-06-21T02:00:00"))
    status = dict(clock_alerts(db))
    assert status[f"sae_report_due:{aid}:expedited_7d"] == "resolved"
    assert status[f"sae_report_missed:{aid}"] == "open"  # the 24 h report is still not sent


def test_it_keeps_the_first_rounds_keys_for_the_24_hour_clock(fatal):
    c = clocks.clocks(fatal, "Europe/Berlin")[0]
    assert clocks.alert_keys(fatal["id"], c) == (f"sae_report_due:{fatal['id']}", f"sae_report_missed:{fatal['id']}")


# ------------------------------------------------------------------------------------------- possible SUSAR

def test_it_lists_a_possible_susar_in_the_safety_officers_inbox_until_expectedness_is_assessed(
        app, db, people, fatal, ctx, web):
    [alert] = rows(db, "SELECT * FROM alerts WHERE kind = 'possible_susar'")
    assert alert["status"] == "open" and alert["ref_id"] == str(fatal["id"])
    assert "assess expectedness" in alert["message"].lower()
    inbox = web("safety_sam").get("/alerts").get_data(as_text=True)
    assert "Possible SUSAR S01-001-AE1" in inbox
    page = web("safety_sam").get(f"/ae/{fatal['id']}").get_data(as_text=True)
    assert "possible SUSAR: assess expectedness" in page and 'data-susar="possible"' in page
    assert ">SUSAR<" not in page
    # assessed unexpected: a settled SUSAR now, the inbox entry resolved with the reason
    new = adverse_events.amend(db, fatal["id"], {"expected": False}, reason="not in the IB", now=NOW,
                               actor=people["investigator_ivan"], **ctx)
    assert new["susar"] is True and new["susar_status"] == "susar"
    [alert] = rows(db, "SELECT * FROM alerts WHERE kind = 'possible_susar'")
    assert alert["status"] == "resolved" and "a SUSAR" in alert["resolve_comment"]
    page = web("safety_sam").get(f"/ae/{fatal['id']}").get_data(as_text=True)
    assert 'data-susar="susar"' in page and "possible SUSAR" not in page


def test_it_raises_the_possible_susar_alert_once(app, db, fatal):
    run(app, db, NOW)
    run(app, db, NOW + timedelta(hours=1))
    assert len(rows(db, "SELECT id FROM alerts WHERE kind = 'possible_susar'")) == 1
