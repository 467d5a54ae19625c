"""The SAE report series (domain/sae/reports.py and its API): report 0 is the initial report, 1.. follow-ups,
each with its due date, when and to whom it went, and what changed; the first round's single "report sent" is
report 0; and the investigator's sign-off through the API.

Story: S01-001 is hospitalised with a haematuria the cells possibly caused, assessed unexpected (a SUSAR): the
investigator sends the initial report to the sponsor, the safety officer later a follow-up.
"""
from __future__ import annotations

import pytest

from safety_service import migrations
from safety_service.db import connect, rows
from safety_service.domain import adverse_events
from safety_service.domain.sae import reports

from conftest import NOW, PASSWORD

SAE = {"subject_id": "S01-001", "term": "Hematuria", "verbatim": "clots, admitted", "grade": 3, "onset": "2026-06-14",
       "serious": True, "seriousness": ["hospitalization"], "relatedness_product": "possible",
       "relatedness_procedure": "probable", "expected": False, "action_taken": "not_applicable",
       "outcome": "recovering", "awareness_at": "2026-06-15T08:30:00+00:00"}


@pytest.fixture
def sae(api, enrol):
    enrol("S01-001")
    r = api("nurse_nina").post("/api/v1/adverse-events", json=SAE)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def url(ae, tail="reports"):
    return f"/api/v1/adverse-events/{ae['id']}/{tail}"


def test_it_lists_the_reports_due_before_any_is_sent(api, sae):
    listed = api("safety_sam").get(url(sae)).get_json()
    assert [(r["number"], r["kind"], r["status"], r["due_at"], r["sent_at"]) for r in listed] == [
        (0, "initial", "due", "2026-06-16T08:30:00+00:00", None),
        (1, "follow_up", "due", "2026-06-30T08:30:00+00:00", None)]
    assert [c["clock"] for c in listed[0]["clocks"]] == ["initial_24h"]
    assert [c["clock"] for c in listed[1]["clocks"]] == ["expedited_15d"] and listed[1]["expedited"] is True


def test_it_records_the_initial_report_and_a_numbered_follow_up_with_what_changed(api, sae, clock):
    ivan, nina, sam = api("investigator_ivan"), api("nurse_nina"), api("safety_sam")
    r = ivan.post(url(sae), json={"kind": "initial", "recipient": "Sponsor safety desk", "sent_at": "2026-06-15T11:00"})
    assert r.status_code == 201, r.get_json()
    first = r.get_json()
    assert (first["number"], first["kind"], first["status"], first["sent_at"], first["due_at"], first["sent_by"]) == (
        0, "initial", "sent", "2026-06-15T09:00:00+00:00", "2026-06-16T08:30:00+00:00", "investigator_ivan@example.org")
    assert first["changes"] == [] and first["ae_version"] == 1
    # the first round's fields follow report 0
    assert ivan.get(f"/api/v1/adverse-events/{sae['id']}").get_json()["report_sent_at"] == "2026-06-15T09:00:00+00:00"
    amended = nina.patch(f"/api/v1/adverse-events/{sae['id']}", json={"outcome": "recovered", "end_date": "2026-06-15",
                                                                        "reason": "discharged", "version": 1})
    assert amended.status_code == 200, amended.get_json()
    r = sam.post(url(sae), json={"kind": "follow_up", "recipient": "BfArM", "summary": "recovered, discharged",
                                 "expedited": True})
    assert r.status_code == 201, r.get_json()
    follow = r.get_json()
    assert (follow["number"], follow["kind"], follow["changes"], follow["ae_version"], follow["expedited"]) == (
        1, "follow_up", ["end_date", "end_day", "outcome"], 2, True)
    assert follow["due_at"] == "2026-06-30T08:30:00+00:00"  # it met the 15-day expedited clock
    listed = sam.get(url(sae)).get_json()
    assert [(r["number"], r["status"]) for r in listed] == [(0, "sent"), (1, "sent")]
    more = sam.post(url(sae), json={"kind": "follow_up", "recipient": "BfArM", "summary": "biopsy result"})
    assert more.get_json()["due_at"] is None  # a 15-day SUSAR has no day-15 follow-up clock of its own
    history = [e for e in ivan.get(f"/api/v1/adverse-events/{sae['id']}/versions").get_json()]
    assert len(history) == 2


def test_it_carries_the_day_15_follow_up_due_date_of_a_fatal_susar(api, enrol):
    enrol("S01-001")
    fatal = api("nurse_nina").post("/api/v1/adverse-events", json={
        **SAE, "grade": 5, "seriousness": ["death"], "outcome": "fatal", "end_date": "2026-06-15"}).get_json()
    listed = api("safety_sam").get(url(fatal)).get_json()
    assert [(r["number"], r["kind"], r["due_at"]) for r in listed] == [
        (0, "initial", "2026-06-16T08:30:00+00:00"), (1, "follow_up", "2026-06-22T08:30:00+00:00"),
        (2, "follow_up", "2026-06-30T08:30:00+00:00")]
    assert [[c["clock"] for c in r["clocks"]] for r in listed] == [["initial_24h"], ["expedited_7d"],
                                                                   ["follow_up_15d"]]
    assert listed[2]["clocks"][0]["citation"] == "ICH E2A III.A.1"


@pytest.mark.parametrize("body,fields", [
    ({"kind": "final", "recipient": "x"}, {"kind"}),
    ({"kind": "initial"}, {"recipient"}),
    ({"kind": "initial", "recipient": "x", "sent_at": "yesterday"}, {"sent_at"}),
    ({"kind": "initial", "recipient": "x", "sent_at": "2026-06-16T09:00:00+00:00"}, {"sent_at"}),  # future
    ({"kind": "initial", "recipient": "x", "sent_at": "2026-06-15T08:00:00+00:00"}, {"sent_at"}),  # before aware
    ({"kind": "follow_up", "recipient": "x", "summary": "y"}, {"kind"}),  # no initial report yet
    ({"kind": "initial", "recipient": "x", "colour": "red"}, {"colour"}),
    ({"kind": "initial", "recipient": "a\x00b"}, {"recipient"}),
])
def test_it_refuses_a_bad_report_naming_each_field_and_stores_nothing(api, sae, db, body, fields):
    r = api("investigator_ivan").post(url(sae), json=body)
    assert r.status_code == 422 and set(r.get_json()["error"]["fields"]) == fields
    assert rows(db, "SELECT count(*) AS n FROM sae_reports")[0]["n"] == 0


def test_it_asks_a_follow_up_to_say_what_is_new_and_refuses_a_second_initial_report(api, sae):
    ivan = api("investigator_ivan")
    assert ivan.post(url(sae), json={"kind": "initial", "recipient": "sponsor"}).status_code == 201
    assert ivan.post(url(sae), json={"kind": "initial", "recipient": "sponsor"}).status_code == 409
    r = ivan.post(url(sae), json={"kind": "follow_up", "recipient": "sponsor"})
    assert r.status_code == 422 and "summary" in r.get_json()["error"]["fields"]


def test_it_refuses_reports_for_a_non_serious_ae_and_hides_another_sites(api, enrol, sae):
    mild = api("nurse_nina").post("/api/v1/adverse-events", json={
        **SAE, "serious": False, "seriousness": [], "grade": 1}).get_json()
    assert api("investigator_ivan").post(url(mild), json={"kind": "initial", "recipient": "s"}).status_code == 409
    assert api("nurse_noah").get(url(sae)).status_code == 404
    assert api("nurse_nina").post(url(sae), json={"kind": "initial", "recipient": "s"}).status_code == 403


def test_it_audits_each_report(api, sae, db):
    api("investigator_ivan").post(url(sae), json={"kind": "initial", "recipient": "sponsor", "summary": "first"})
    audited = {(e["field"], e["new_value"]) for e in rows(
        db, "SELECT field, new_value FROM audit_log WHERE action = 'sae_report_sent' AND entity_id = ?",
        [str(sae["id"])])}
    assert {("sae_report_number", "0"), ("sae_report_kind", "initial"), ("sae_report_recipient", "sponsor"),
            ("report_sent_at", "2026-06-15T10:00:00+00:00")} <= audited


def test_it_keeps_the_first_rounds_report_sent_route_as_report_0(api, sae):
    r = api("safety_sam").post(url(sae, "report-sent"), json={})
    assert r.status_code == 200 and r.get_json()["report_sent_at"] == "2026-06-15T10:00:00+00:00"
    report = api("safety_sam").get(url(sae)).get_json()[0]
    assert (report["number"], report["recipient"], report["sent_at"]) == (0, "sponsor", "2026-06-15T10:00:00+00:00")


def test_it_never_changes_or_deletes_a_sent_report(api, sae, db):
    api("investigator_ivan").post(url(sae), json={"kind": "initial", "recipient": "sponsor"})
    for sql in ("UPDATE sae_reports SET recipient = 'x'", "DELETE FROM sae_reports"):
        with pytest.raises(Exception, match="never"):
            db.execute(sql)


def test_it_makes_a_report_sent_before_the_series_existed_report_0(tmp_path):
    """Migration 0085 on a database of the first round: report_sent_at becomes report 0."""
    db = connect(tmp_path / "old.db")
    chosen = migrations.migration_set()
    older = [m for m in chosen._migrations if m.name < "m0085"]
    chosen._migrations = older
    from safety_service.db import atomic
    with atomic(db):
        chosen.apply(db)
    db.execute("INSERT INTO users (id, email, role, password_hash, created_at) VALUES "
               "(1, 'i@x.org', 'investigator', 'x', '2026-01-01T00:00:00+00:00')")
    db.execute("INSERT INTO participants (id, subject_id, site, sex, birth_date, weight_kg, consent_on, enrolled_on, "
               "created_at, created_by) VALUES (1, 'S01-001', 'S01', 'F', '1968-03-02', 70, '2026-01-05', "
               "'2026-01-08', '2026-01-08T00:00:00+00:00', 'i@x.org')")
    base = ("INSERT INTO adverse_events (id, participant_id, subject_id, site, seq, term, meddra_code, soc, "
            "ctcae_version, verbatim, grade, serious, relatedness_product, relatedness_procedure, related, "
            "action_taken, outcome, onset, treatment_emergent, awareness_at, report_due_at, susar, version, "
            "created_at, created_by, updated_at, updated_by, report_sent_at, report_sent_by) VALUES "
            "(?, 1, 'S01-001', 'S01', ?, 'Hematuria', '1', 'R', '5.0', 'v', 3, 1, 'possible', 'possible', 1, "
            "'not_applicable', 'recovering', '2026-06-14', 1, '2026-06-15T08:00:00+00:00', "
            "'2026-06-16T08:00:00+00:00', 1, 1, 'c', 'i@x.org', 'c', 'i@x.org', ?, ?)")
    db.execute(base, [1, 1, "2026-06-15T12:00:00+00:00", "i@x.org"])
    db.execute(base, [2, 2, None, None])
    assert migrations.apply(db)[0].startswith("m0085")
    moved = rows(db, "SELECT ae_id, number, kind, sent_at, sent_by, recipient, due_at FROM sae_reports")
    assert moved == [{"ae_id": 1, "number": 0, "kind": "initial", "sent_at": "2026-06-15T12:00:00+00:00",
                      "sent_by": "i@x.org", "recipient": "sponsor", "due_at": "2026-06-16T08:00:00+00:00"}]


# ----------------------------------------------------------------------------------------- sign-off via API

def test_it_signs_off_an_sae_through_the_api_with_the_password(api, sae, db):
    r = api("investigator_ivan").post(url(sae, "sign-off"), json={"password": PASSWORD})
    assert r.status_code == 200, r.get_json()
    signed = r.get_json()
    assert (signed["signed_off_by"], signed["signed_off_version"], signed["signed_off_at"]) == (
        "investigator_ivan@example.org", 1, "2026-06-15T10:00:00+00:00")
    meaning = rows(db, "SELECT new_value FROM audit_log WHERE action = 'e_signature' AND field = 'signature_meaning'")
    assert meaning[0]["new_value"] == adverse_events.SIGNATURE_MEANING
    assert api("investigator_ivan").post(url(sae, "sign-off"), json={"password": PASSWORD}).status_code == 409


def test_it_refuses_a_wrong_password_and_audits_the_failed_signature(api, sae, db):
    r = api("investigator_ivan").post(url(sae, "sign-off"), json={"password": "guess"})
    assert r.status_code == 422 and "password" in r.get_json()["error"]["fields"]
    assert api("investigator_ivan").get(f"/api/v1/adverse-events/{sae['id']}").get_json()["signed_off_at"] is None
    # on the AE (and, through domain/users, on the account, where failed signatures count toward the lockout)
    assert rows(db, "SELECT count(*) AS n FROM audit_log WHERE action = 'e_signature_failed' "
                    "AND entity = 'adverse_event'")[0]["n"] == 1
    empty = api("investigator_ivan").post(url(sae, "sign-off"), json={})
    assert empty.status_code == 422 and "password" in empty.get_json()["error"]["fields"]


def test_it_lets_only_the_investigator_sign(api, sae):
    for persona in ("nurse_nina", "safety_sam", "auditor_ada"):
        assert api(persona).post(url(sae, "sign-off"), json={"password": PASSWORD}).status_code == 403


def test_it_asks_for_a_new_signature_after_an_amendment_over_the_api(api, sae):
    api("investigator_ivan").post(url(sae, "sign-off"), json={"password": PASSWORD})
    r = api("nurse_nina").patch(f"/api/v1/adverse-events/{sae['id']}",
                                json={"grade": 4, "seriousness": ["hospitalization", "life_threatening"],
                                      "reason": "ICU", "version": 1})
    assert r.status_code == 200 and r.get_json()["signed_off_at"] is None
    again = api("investigator_ivan").post(url(sae, "sign-off"), json={"password": PASSWORD})
    assert again.status_code == 200 and again.get_json()["signed_off_version"] == 2


def test_it_reads_the_report_series_in_the_domain_as_the_api_does(db, sae, people):
    listed = reports.series(db, sae["id"], user=people["auditor_ada"], tz="Europe/Berlin", now=NOW)
    assert listed[0]["status"] == "due"


def test_it_keeps_the_audit_chain_and_the_rows_in_agreement_after_reports(app, api, sae):
    """`safety audit verify` compares each AE row with its last audited version: the reports must not blur it."""
    ivan = api("investigator_ivan")
    ivan.post(url(sae), json={"kind": "initial", "recipient": "sponsor"})
    ivan.post(url(sae), json={"kind": "follow_up", "recipient": "BfArM", "summary": "more"})
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output


def test_it_lists_each_report_under_signatures_and_reports_on_the_ae_page(web, api, sae):
    ivan = api("investigator_ivan")
    ivan.post(url(sae), json={"kind": "initial", "recipient": "sponsor"})
    ivan.post(url(sae), json={"kind": "follow_up", "recipient": "BfArM", "summary": "discharged"})
    html = web("safety_sam").get(f"/ae/{sae['id']}").get_data(as_text=True)
    assert "sae report sent 0" in html and "sae report sent 1 (discharged)" in html
