"""Issue 12 (part A): a lab result can be put right. The nurse's typo is warned about before saving, saved only
when confirmed, then marked entered in error: its alerts resolve with the reason, its AE offer is withdrawn, the
people mailed about it get one correction notice, and it leaves series, charts and exports; the right value is
an ordinary new result for the same sample. A baseline entered late re-grades what was graded against it."""
from __future__ import annotations


from conftest import NOW
from safety_service.charts import sources
from safety_service.db import rows
from safety_service.domain import audit

BASELINE = "2026-01-10T08:00:00+00:00"   # before the injection (2026-01-12 09:30 UTC)
M1 = "2026-02-10T08:00:00+00:00"
M3 = "2026-04-13T08:00:00+00:00"


def creatinine(api_user, value, at, **extra):
    return api_user.post("/api/v1/participants/S01-001/labs", json={
        "analyte": "creatinine", "value": value, "unit": "mg/dL", "collected_at": at, **extra})


def alerts_of(db, lab_id):
    return rows(db, "SELECT * FROM alerts WHERE ref_entity = 'lab' AND ref_id = ? ORDER BY id", [str(lab_id)])


def test_it_warns_of_a_typo_saves_it_only_when_confirmed_and_audits_the_confirmation(enrol, api, db):
    enrol("S01-001")
    nina = api("nurse_nina")
    assert creatinine(nina, 1.2, BASELINE).status_code == 201
    assert creatinine(nina, 1.3, M1).status_code == 201
    refused = creatinine(nina, 13.0, M3)
    assert refused.status_code == 422
    why = refused.get_json()["error"]["fields"]["value"]
    assert "creatinine_delta_3x_90d" in why and "tenfold_unit_slip" in why and "10 x the previous result 1.3" in why
    assert db.execute("SELECT count(*) FROM labs").fetchone()[0] == 2          # nothing written
    assert creatinine(nina, 13.0, M3, confirmed="perhaps").get_json()["error"]["fields"] == {
        "confirmed": "must be true or false"}
    saved = creatinine(nina, 13.0, M3, confirmed=True)
    assert saved.status_code == 201
    lab = saved.get_json()
    assert lab["confirmed_checks"] == "creatinine_delta_3x_90d,tenfold_unit_slip" and lab["status"] == "valid"
    confirmed = [h for h in audit.history(db, "lab", lab["id"]) if h["action"] == "plausibility_confirmed"]
    assert len(confirmed) == 1 and confirmed[0]["actor"] == "nurse_nina@example.org"


def test_exactly_three_times_the_previous_value_is_not_more_than_three_times(enrol, api):
    enrol("S01-001")
    nina = api("nurse_nina")
    creatinine(nina, 1.2, M1)
    assert creatinine(nina, 3.6, M3).status_code == 201           # 3.0 x: not flagged (CTCAE-style "more than")
    assert creatinine(nina, 10.81, "2026-05-01T08:00:00+00:00").status_code == 422   # just over 3 x of 3.6


def test_a_typo_corrected_end_to_end(enrol, api, db, app):
    enrol("S01-001")
    nina, sam = api("nurse_nina"), api("safety_sam")
    creatinine(nina, 1.2, BASELINE)
    creatinine(nina, 1.3, M1)
    typo = creatinine(nina, 13.0, M3, confirmed=True).get_json()
    raised = alerts_of(db, typo["id"])
    assert {a["rule"] for a in raised} >= {"egfr_below_15", "ctcae_grade_3"} and typo["egfr"] < 15
    mailed = {r["recipient"] for r in rows(db, "SELECT recipient FROM outbox WHERE kind = 'alert'")}
    assert mailed == {"investigator_ivan@example.org", "safety_sam@example.org"}
    assert rows(db, "SELECT status FROM lab_ae_offers WHERE lab_id = ?", [typo["id"]]) == [{"status": "open"}]

    assert nina.post(f"/api/v1/labs/{typo['id']}/entered-in-error", json={}).get_json()["error"]["fields"] == {
        "reason": "is required: say what was wrong (e.g. typed 19.0 for 1.9)"}
    marked = nina.post(f"/api/v1/labs/{typo['id']}/entered-in-error", json={"reason": "typed 13.0 for 1.3"})
    assert marked.status_code == 200
    assert marked.get_json()["status"] == "entered_in_error" and marked.get_json()["error_reason"] == "typed 13.0 for 1.3"
    assert nina.post(f"/api/v1/labs/{typo['id']}/entered-in-error", json={"reason": "again"}).status_code == 409
    assert sam.get(f"/api/v1/labs/{typo['id']}").get_json()["status"] == "entered_in_error"
    assert api("nurse_noah").get(f"/api/v1/labs/{typo['id']}").status_code == 404       # another site's result

    # every alert it raised is resolved with the reason, and its AE offer withdrawn
    why = "source result entered in error by nurse_nina@example.org: typed 13.0 for 1.3"
    assert [(a["status"], a["resolve_comment"]) for a in alerts_of(db, typo["id"])] == [("resolved", why)] * len(raised)
    assert sam.get("/api/v1/alerts?status=open").get_json() == []
    assert rows(db, "SELECT status, withdraw_reason FROM lab_ae_offers WHERE lab_id = ?", [typo["id"]]) == [
        {"status": "withdrawn", "withdraw_reason": why}]
    # one short correction notice per person mailed, however many of their alerts it resolved
    notices = rows(db, "SELECT recipient, subject, body_text FROM outbox WHERE kind = 'correction' ORDER BY recipient")
    assert [n["recipient"] for n in notices] == ["investigator_ivan@example.org", "safety_sam@example.org"]
    assert "S01-001" in notices[0]["subject"] and "typed 13.0 for 1.3" in notices[0]["body_text"]

    # it leaves the series, the eGFR chart's data and the default export; the export can include it, flagged
    series = nina.get("/api/v1/participants/S01-001/labs?analyte=creatinine").get_json()
    assert [r["value"] for r in series] == [1.2, 1.3]
    everything = nina.get("/api/v1/participants/S01-001/labs?analyte=creatinine&include_entered_in_error=true")
    assert [(r["value"], r["status"]) for r in everything.get_json()] == [
        (1.2, "valid"), (1.3, "valid"), (13.0, "entered_in_error")]
    assert typo["id"] not in [r["id"] for r in sources.lab_series(db, "S01-001", None, "egfr")]
    listing = sam.get("/api/v1/exports/labs.csv").get_data(as_text=True)
    assert "typed 13.0 for 1.3" not in listing and f"\n{typo['id']}," not in listing and "\n2," in listing
    flagged = sam.get("/api/v1/exports/labs.csv?include_entered_in_error=true").get_data(as_text=True)
    assert "entered_in_error" in flagged and "typed 13.0 for 1.3" in flagged

    # the right value for the same sample is an ordinary new result, with no alert, naming the one it replaces
    assert creatinine(nina, 1.3, M3, corrects=1).get_json()["error"]["fields"] == {
        "corrects": "is not a creatinine result of S01-001 entered in error"}
    right = creatinine(nina, 1.3, M3, corrects=typo["id"])
    assert right.status_code == 201 and right.get_json()["breaches"] == []
    assert [r["value"] for r in nina.get("/api/v1/participants/S01-001/labs?analyte=creatinine").get_json()] == [
        1.2, 1.3, 1.3]
    # the audit trail keeps both, and the chain still verifies
    actions = [h["action"] for h in audit.history(db, "lab", typo["id"])]
    assert actions[0] == "create" and "plausibility_confirmed" in actions and "entered_in_error" in actions
    assert [h["action"] for h in audit.history(db, "lab", right.get_json()["id"])] == ["create", "corrects"]
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output


def test_a_result_row_can_only_be_marked_entered_in_error_once_and_never_changed(enrol, api, db):
    import sqlite3

    import pytest
    enrol("S01-001")
    lab = creatinine(api("nurse_nina"), 1.2, M1).get_json()
    for sql in ("UPDATE labs SET value = 2", "UPDATE labs SET status = 'entered_in_error'",   # no reason, who, when
                "UPDATE labs SET status = 'entered_in_error', error_reason = 'x', error_at = 't', error_by = 'b', "
                "value = 2"):
        with pytest.raises(sqlite3.DatabaseError, match="never changed"):
            db.execute(sql)
    db.execute("UPDATE labs SET status = 'entered_in_error', error_reason = 'x', error_at = 't', error_by = 'b'")
    with pytest.raises(sqlite3.DatabaseError, match="never changed"):
        db.execute("UPDATE labs SET status = 'valid'")
    with pytest.raises(sqlite3.DatabaseError, match="never deleted"):
        db.execute("DELETE FROM labs")
    assert lab["id"] == 1


def test_a_baseline_entered_late_regrades_raises_and_its_error_resolves(enrol, api, db):
    enrol("S01-001")
    nina = api("nurse_nina")
    # No baseline yet: creatinine 1.45 x ULN 1.1 is grade 1, its eGFR about 37 is CKD grade 2 (eGFR 59-30): grade 2.
    post = creatinine(nina, 1.6, M1).get_json()
    assert (post["ctcae_term"], post["ctcae_grade"]) == ("Chronic kidney disease", 2)
    assert rows(db, "SELECT rule FROM alerts") == []
    late = creatinine(nina, 0.5, BASELINE)                      # the screening value, entered late
    assert late.status_code == 201
    # CTCAE v5.0 Creatinine increased grade 3: > 3.0 x baseline (1.6 / 0.5 = 3.2)
    now_graded = nina.get(f"/api/v1/labs/{post['id']}").get_json()
    assert (now_graded["ctcae_term"], now_graded["ctcae_grade"]) == ("Creatinine increased", 3)
    assert "entered by nurse_nina@example.org" in now_graded["regrade_reason"]
    assert [r["ctcae_grade"] for r in nina.get("/api/v1/participants/S01-001/labs?analyte=creatinine").get_json()] == [
        None, 3]
    raised = {a["rule"]: a for a in rows(db, "SELECT * FROM alerts WHERE status = 'open'")}
    assert {"ctcae_grade_3", "egfr_decline_30_early"} <= set(raised)
    assert [h["action"] for h in audit.history(db, "lab", post["id"])].count("regraded") == 1

    # the late baseline was itself a mistake: grades go back, and what no longer breaches is resolved, with why
    nina.post(f"/api/v1/labs/{late.get_json()['id']}/entered-in-error", json={"reason": "another patient's sample"})
    assert nina.get(f"/api/v1/labs/{post['id']}").get_json()["ctcae_grade"] == 2
    for rule in ("ctcae_grade_3", "egfr_decline_30_early"):
        a = rows(db, "SELECT status, resolve_comment FROM alerts WHERE id = ?", [raised[rule]["id"]])[0]
        assert a["status"] == "resolved" and "another patient's sample" in a["resolve_comment"], a
    assert [h["action"] for h in audit.history(db, "lab", post["id"])].count("regraded") == 2
    # the right screening sample, entered at last: the breach is back, raised again (its old alert stays resolved)
    assert creatinine(nina, 0.5, BASELINE).status_code == 201
    again = rows(db, "SELECT key, message FROM alerts WHERE status = 'open' AND rule = 'ctcae_grade_3'")
    assert [a["key"] for a in again] == [f"lab:S01-001:ctcae_grade_3:{post['id']}:{raised['ctcae_grade_3']['id']}"]
    assert "breaches again: baseline creatinine of 2026-01-10 entered by nurse_nina@example.org" in again[0]["message"]


def test_the_csv_import_refuses_an_implausible_row_unless_confirmed(enrol, api, app, db):
    from safety_service.domain.labs_import import ImportRefused, import_labs

    import pytest
    enrol("S01-001")
    creatinine(api("nurse_nina"), 1.2, M1)
    rb = app.extensions["rulebook"]

    def run(text):
        return import_labs(db, text, rules=rb.lab_rules, study=rb.study, tz=app.config["TIMEZONE"], user=None,
                           actor="cli", now=NOW, plausibility=rb.plausibility)
    header = "subject_id,analyte,value,unit,collected_at"
    with pytest.raises(ImportRefused) as refused:
        run(f"{header}\nS01-001,creatinine,12,mg/dL,{M3}\n")
    assert [(p.row, p.column) for p in refused.value.problems] == [(2, "value")]
    assert "a confirmed column saying true" in refused.value.problems[0].message
    report = run(f"{header},confirmed\nS01-001,creatinine,12,mg/dL,{M3},true\n")
    assert report.imported == 1
    assert rows(db, "SELECT confirmed_checks FROM labs WHERE value = 12") == [
        {"confirmed_checks": "creatinine_delta_3x_90d,tenfold_unit_slip"}]


def test_the_demo_alerts_one_hemoglobin_breach_once_and_shows_a_correction_and_a_withdrawal(app, db):
    """The demo's S01-007 has hemoglobin 7.6 g/dL at two visits in a row: one breach (one episode), one alert, and
    CTCAE v5.0 Anemia grade 3 (< 8.0 g/dL) is the same finding, not a second alert (the cause of the doubled alert)."""
    from safety_service.demo import load_demo

    load_demo(db, app.extensions["rulebook"], app.config, now=NOW)
    low = rows(db, "SELECT id FROM labs WHERE subject_id = 'S01-007' AND analyte = 'hemoglobin' AND value_si < 8")
    assert len(low) >= 2
    hb = rows(db, "SELECT rule, ref_id FROM alerts WHERE subject_id = 'S01-007' AND kind = 'lab_rule'")
    assert hb == [{"rule": "hemoglobin_below_8", "ref_id": str(low[0]["id"])}]
    # one typo put right, one participant withdrawn, with nothing overdue after the withdrawal
    wrong = rows(db, "SELECT * FROM labs WHERE status = 'entered_in_error'")
    assert len(wrong) == 1 and rows(db, "SELECT count(*) AS n FROM labs WHERE participant_id = ? AND analyte = ? AND "
                                        "collected_at = ? AND status = 'valid'",
                                    [wrong[0]["participant_id"], wrong[0]["analyte"], wrong[0]["collected_at"]]) == [{"n": 1}]
    assert rows(db, "SELECT count(*) AS n FROM outbox WHERE kind = 'correction'")[0]["n"] >= 1
    gone = rows(db, "SELECT subject_id, status_on FROM participants WHERE status = 'withdrawn'")
    assert len(gone) == 1
    assert rows(db, "SELECT key FROM alerts WHERE kind = 'visit_overdue' AND subject_id = ? AND status != 'resolved' "
                    "AND raised_at > ?", [gone[0]["subject_id"], gone[0]["status_on"]]) == []
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output


def test_a_result_entered_in_error_leaves_the_data_cuts_made_after_and_stays_in_those_held_before(app, enrol, api, db):
    from datetime import timedelta

    from safety_service.clock import FixedClock
    from safety_service.reports import datacut
    enrol("S01-001")
    nina = api("nurse_nina")
    creatinine(nina, 1.2, BASELINE)
    typo = creatinine(nina, 13.0, M3, confirmed=True).get_json()
    clock = app.config["CLOCK"]
    assert isinstance(clock, FixedClock)
    clock.advance(hours=2)                               # marked two hours after it was entered
    nina.post(f"/api/v1/labs/{typo['id']}/entered-in-error", json={"reason": "typed 13.0 for 1.3"})
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    ids = lambda cut: {r["id"] for r in cut.labs}       # noqa: E731
    now_cut = datacut.load(db, rb.study, as_of=clock.now(), cutoff=clock.now().date(), tz=tz)
    held_before = datacut.load(db, rb.study, as_of=NOW + timedelta(hours=1), cutoff=NOW.date(), tz=tz)
    assert typo["id"] not in ids(now_cut) and typo["id"] in ids(held_before)
    from safety_service.domain import digest
    assert digest.egfr_decline_figure(db, rb.lab_rules, None, clock.now())["evaluable"] == 0
