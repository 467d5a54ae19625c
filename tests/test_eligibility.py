"""Eligibility screening against protocol NCT07396155's criteria (issue 13): the checklist, the nurse's answers
with source notes, the investigator-signed protocol deviation that alone lets a failing participant be injected,
GET /api/v1/participants/<id>/eligibility and the CONSORT-style screening log."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from conftest import NOW, PASSWORD
from safety_service.domain import audit, eligibility, labs
from safety_service.domain.eligibility.criteria import load_criteria
from safety_service.domain.errors import Conflict, Forbidden, InvalidInput
from safety_service.rulefiles import RulesError

RULES = Path(__file__).resolve().parent.parent / "rules" / "eligibility.toml"
ANSWERED = ("IN01", "IN04", "IN08", "IN09", "EX01", "EX05", "EX06", "EX07", "EX08")
# A screening panel that meets every lab criterion of the protocol (values in the canonical units).
GOOD_LABS = {"egfr": (42, "mL/min/1.73m2"), "uacr": (450, "mg/g"), "hba1c": (7.9, "%"), "sbp": (138, "mmHg"),
             "dbp": (82, "mmHg"), "alt": (30, "U/L"), "ast": (28, "U/L"), "hemoglobin": (11.2, "g/dL"),
             "platelets": (220, "10^3/uL")}


@pytest.fixture
def screening(app, db, people, enrol):
    """A participant consented and screened, not yet injected, and helpers acting as the S01 site team."""
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    p = enrol("S01-001", injection_at="")

    class Screening:
        subject = p["subject_id"]

        def lab(self, analyte, value, unit=None, when="2026-06-10T08:00:00+00:00", **kw):
            unit = unit or GOOD_LABS[analyte][1]
            return labs.record(db, self.subject, {"analyte": analyte, "value": value, "unit": unit,
                                                  "collected_at": when, **kw},
                               rules=rb.lab_rules, study=rb.study, tz=tz, user=people["nurse_nina"], source="api",
                               now=NOW)

        def labs(self, **override):
            for analyte, (value, _) in {**GOOD_LABS, **override}.items():
                self.lab(analyte, value)

        def answer(self, cid, met=True, note="source: clinic notes", persona="nurse_nina", **kw):
            return eligibility.answer(db, self.subject, cid, {"met": "met" if met else "not_met",
                                                              "source_note": note, **kw},
                                      criteria=rb.eligibility, actor=people[persona], now=NOW)

        def answer_all(self, **failing):
            for cid in ANSWERED:
                self.answer(cid, met=failing.get(cid, cid.startswith("IN")))

        def assess(self):
            from safety_service.domain import participants
            return eligibility.assess(db, participants.get(db, self.subject, user=None), rb.eligibility, NOW)

        def inject(self, persona="nurse_nina", when="2026-06-14T09:00:00+02:00"):
            return eligibility.record_injection(db, self.subject, {"injection_at": when}, criteria=rb.eligibility,
                                                study=rb.study, tz=tz, actor=people[persona], now=NOW)

        def sign(self, persona="investigator_ivan", password=PASSWORD, description="PI accepts: see note to file"):
            return eligibility.sign_deviation(db, self.subject, {"description": description, "password": password},
                                              criteria=rb.eligibility, actor=people[persona], now=NOW)

    return Screening()


def met_of(assessment, cid):
    return next(f for f in assessment.findings if f.criterion.id == cid).met


# --- the rules file ------------------------------------------------------------------------------------------

def test_it_carries_every_criterion_of_the_protocol():
    c = load_criteria(RULES)
    assert [x.id for x in c.criteria] == ["IN01", "IN02", "IN03", "IN04", "IN05", "IN06", "IN07", "IN08", "IN09",
                                          "EX01", "EX02", "EX03", "EX04", "EX05", "EX06", "EX07", "EX08"]
    # Protocol NCT07396155: HbA1c < 10.0 % is an inclusion criterion; ALT/AST >= 2 x ULN an exclusion.
    assert (c.get("IN06").kind, c.get("IN06").operator, c.get("IN06").threshold) == ("inclusion", "<", 10.0)
    assert (c.get("EX02").analytes, c.get("EX02").combine, c.get("EX02").uln_multiple) == (["alt", "ast"], "any", 2.0)


@pytest.mark.parametrize("old, new, key, problem", [
    ('analytes = ["uacr"]', 'analytes = ["albumen"]', "criteria.4.analytes", "unknown analyte 'albumen'"),
    ('id = "IN02"', 'id = "IN01"', "criteria", "criterion id 'IN01' appears twice"),
    ('operator = "<"\nthreshold = 10.0', 'operator = "<"', "criteria.5", "needs exactly one of range"),
    ('id = "EX08"', 'id = "IN10"', "criteria.16", "starts with EX"),
    ('check = "age"', 'check = "aged"', "criteria.1.check", "Input should be"),
])
def test_it_refuses_a_bad_criteria_file_naming_the_key(tmp_path, old, new, key, problem):
    text = RULES.read_text()
    assert old in text
    bad = tmp_path / "eligibility.toml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(RulesError) as e:
        load_criteria(bad)
    assert e.value.key == key and problem in e.value.problem


# --- what is computed ------------------------------------------------------------------------------------------

def test_a_new_screening_participant_has_every_criterion_unknown_but_the_age(screening):
    a = screening.assess()
    assert a.eligible is None
    assert met_of(a, "IN02") is True  # born 1968-03-02, consent 2026-01-05: 57 (protocol: 40-65)
    assert {f.criterion.id for f in a.findings if f.met is None} == {
        "IN01", "IN03", "IN04", "IN05", "IN06", "IN07", "IN08", "IN09", "EX01", "EX02", "EX03", "EX04", "EX05",
        "EX06", "EX07", "EX08"}


@pytest.mark.parametrize("analyte, value, cid, met", [
    ("egfr", 15, "IN03", True), ("egfr", 14.9, "IN03", False),        # protocol: eGFR 15-60 (inclusive)
    ("egfr", 60, "IN03", True), ("egfr", 60.1, "IN03", False),
    ("uacr", 30, "IN05", True), ("uacr", 29.9, "IN05", False),        # UACR 30-3000 mg/g
    ("uacr", 3000, "IN05", True), ("uacr", 3000.1, "IN05", False),
    ("hba1c", 9.99, "IN06", True), ("hba1c", 10.0, "IN06", False),     # HbA1c < 10.0 %: exactly 10.0 fails
    ("sbp", 160, "IN07", True), ("sbp", 161, "IN07", False),          # SBP 100-160 and DBP 60-100 mmHg
    ("dbp", 59, "IN07", False), ("dbp", 100, "IN07", True),
    ("hemoglobin", 8.0, "EX03", False), ("hemoglobin", 7.9, "EX03", True),    # exclusion: Hb < 8 g/dL
    ("platelets", 100, "EX04", False), ("platelets", 99, "EX04", True),       # exclusion: platelets < 100,000/uL
])
def test_it_computes_each_lab_criterion_from_the_screening_results_at_its_boundary(screening, analyte, value, cid, met):
    screening.labs(**{analyte: (value, None)})
    a = screening.assess()
    assert met_of(a, cid) is met
    fails = met is (cid.startswith("EX"))
    assert (cid in a.failing) is fails


@pytest.mark.parametrize("alt, ast, met", [(79.9, 30, False), (80, 30, True), (30, 80, True)])
def test_it_excludes_alt_or_ast_at_twice_the_uln(screening, alt, ast, met):
    # Protocol exclusion: ALT or AST >= 2 x ULN (ULN 40 U/L as the lab reported): exactly 2 x ULN excludes.
    screening.labs(alt=(alt, None), ast=(ast, None))
    for analyte, value in (("alt", alt), ("ast", ast)):
        screening.lab(analyte, value, when="2026-06-11T08:00:00+00:00", uln=40)
    assert met_of(screening.assess(), "EX02") is met


def test_it_reads_egfr_by_ckd_epi_2021_from_the_screening_creatinine(screening):
    # Female, 58 on 2026-06-10: creatinine 1.2 mg/dL -> CKD-EPI 2021 eGFR 51.4 (in 15-60).
    screening.lab("creatinine", 1.2, unit="mg/dL")
    finding = next(f for f in screening.assess().findings if f.criterion.id == "IN03")
    assert finding.met is True and "CKD-EPI 2021 from creatinine" in finding.evidence


def test_it_uses_only_results_collected_before_the_injection(screening):
    screening.labs(uacr=(450, None))
    screening.inject()
    screening.lab("uacr", 5000, when="2026-06-14T12:00:00+00:00")   # after the injection: safety, not screening
    f = next(f for f in screening.assess().findings if f.criterion.id == "IN05")
    assert f.met is True and "450" in f.evidence


def test_pregnancy_does_not_apply_to_a_man(app, db, people, enrol):
    p = enrol("S01-002", sex="M", injection_at="")
    a = eligibility.assess(db, p, app.extensions["rulebook"].eligibility, NOW)
    f = next(f for f in a.findings if f.criterion.id == "EX06")
    assert f.met is False and "not applicable" in f.evidence


# --- the nurse's answers ---------------------------------------------------------------------------------------

def test_the_nurse_answers_a_criterion_with_a_source_note_and_it_is_audited(db, screening):
    screening.answer("IN04", note="renal biopsy report 2025-11-03, class III")
    f = next(f for f in screening.assess().findings if f.criterion.id == "IN04")
    assert (f.met, f.evidence, f.answered_by) == (True, "renal biopsy report 2025-11-03, class III",
                                                   "nurse_nina@example.org")
    entry = [h for h in audit.history(db, "participant", "S01-001") if h["action"] == "eligibility_answer"]
    assert len(entry) == 1 and "class III" in entry[0]["new_value"]


def test_an_answer_needs_met_and_a_source_note_and_a_change_needs_a_reason(db, screening):
    with pytest.raises(InvalidInput) as e:
        eligibility.answer(db, "S01-001", "IN04", {"met": "maybe", "source_note": " "},
                           criteria=load_criteria(RULES), actor={"email": "x", "role": "nurse", "site": "S01"},
                           now=NOW)
    assert set(e.value.fields) == {"met", "source_note"}
    screening.answer("EX01", met=False, note="history taken 2026-06-01")
    screening.answer("EX01", met=False, note="history taken 2026-06-01")   # the same form again: no change
    with pytest.raises(InvalidInput) as e:
        screening.answer("EX01", met=True, note="oncology letter")
    assert set(e.value.fields) == {"reason"}
    screening.answer("EX01", met=True, note="oncology letter", reason="letter found after the interview")
    assert met_of(screening.assess(), "EX01") is True
    assert db.execute("SELECT version FROM eligibility_answers WHERE criterion = 'EX01'").fetchone()[0] == 2


def test_a_lab_or_age_criterion_is_not_answered_by_hand(screening):
    for cid in ("IN03", "IN02"):
        with pytest.raises(InvalidInput) as e:
            screening.answer(cid)
        assert "criterion" in e.value.fields


# --- the injection gate and the signed deviation ---------------------------------------------------------------

def test_an_eligible_participant_is_injected(screening):
    screening.labs()
    screening.answer_all()
    assert screening.assess().eligible is True
    p = screening.inject()
    assert p["injection_at"] == "2026-06-14T07:00:00+00:00" and p["dose_cells"] == pytest.approx(72.5e6)


def test_unknown_criteria_do_not_block_the_injection(screening):
    # Policy (domain/eligibility/screening.py): an injection given must be recordable; unknown shows "not confirmed".
    assert screening.assess().eligible is None
    assert screening.inject()["injection_at"]


def test_a_failed_criterion_blocks_the_injection_until_the_investigator_signs_a_deviation(db, screening):
    screening.labs(uacr=(3500, None))              # protocol IN05: UACR 30-3000 mg/g
    screening.answer_all()
    with pytest.raises(InvalidInput) as e:
        screening.inject()
    assert "IN05" in e.value.fields["injection_at"] and "deviation" in e.value.fields["injection_at"]
    with pytest.raises(Forbidden):
        screening.sign(persona="nurse_nina")
    with pytest.raises(InvalidInput) as e:
        screening.sign(password="wrong")
    assert set(e.value.fields) == {"password"}
    d = screening.sign()
    assert d["criteria"] == ["IN05"] and d["signed_by"] == "investigator_ivan@example.org"
    a = screening.assess()
    assert a.eligible is False and a.unwaived == [] and a.findings[4].waived_by == d["id"]
    assert screening.inject()["injection_at"]
    signed = {h["field"]: h["new_value"] for h in audit.history(db, "protocol_deviation", d["id"])
              if h["action"] == "e_signature"}
    assert signed["signed_by"] == "investigator_ivan@example.org" and signed["signer_name"]
    assert "protocol deviation" in signed["signature_meaning"] and "IN05" in signed["criteria"]
    assert [h["action"] for h in audit.history(db, "participant", "S01-001")].count("e_signature_failed") == 1


def test_a_deviation_covers_only_the_criteria_failing_when_it_was_signed(screening):
    screening.labs(uacr=(3500, None))
    screening.sign()
    screening.answer("EX08", met=True, note="took part in MSC-CKD-01 in 2024")   # a new failure
    with pytest.raises(InvalidInput) as e:
        screening.inject()
    assert "EX08" in e.value.fields["injection_at"] and "IN05" not in e.value.fields["injection_at"]


def test_no_deviation_is_signed_when_nothing_fails(screening):
    with pytest.raises(Conflict):
        screening.sign()


def test_a_participant_is_injected_once(screening):
    screening.inject()
    with pytest.raises(Conflict):
        screening.inject()


# --- the API, the pages and the screening log ------------------------------------------------------------------

def test_the_api_shows_each_criterion_met_not_met_or_unknown_with_its_evidence(api, screening):
    screening.lab("hba1c", 10.2)
    body = api("investigator_ivan").get("/api/v1/participants/S01-001/eligibility").get_json()
    assert body["eligible"] is False
    by_id = {c["id"]: c for c in body["criteria"]}
    assert set(by_id["IN06"]) >= {"id", "text", "met", "evidence"}
    assert (by_id["IN06"]["met"], by_id["IN06"]["text"]) == (False, "HbA1c < 10.0 %")
    assert "10.2 %" in by_id["IN06"]["evidence"] and by_id["IN01"]["met"] is None
    assert api("nurse_noah").get("/api/v1/participants/S01-001/eligibility").status_code == 404


def test_the_nurse_uses_the_checklist_page_and_the_participant_page_shows_it(web, screening):
    nina = web("nurse_nina")
    page = nina.get("/participants/S01-001/screening")
    assert page.status_code == 200 and "IN04" in page.text
    r = nina.post_form("/participants/S01-001/screening/IN04", {"met": "met", "source_note": ""},
                       from_page="/participants/S01-001/screening")
    assert r.status_code == 422 and "source_note" in r.text
    r = nina.post_form("/participants/S01-001/screening/IN04", {"met": "met", "source_note": "biopsy report"},
                       from_page="/participants/S01-001/screening")
    assert r.status_code == 302
    detail = nina.get("/participants/S01-001").text
    assert 'id="eligibility"' in detail and 'data-criterion="IN04" data-met="yes"' in detail


def test_the_investigator_signs_on_the_page_and_the_nurse_then_records_the_injection(web, screening):
    screening.labs(platelets=(90, None))           # protocol EX04: platelets < 100,000/uL
    nina, ivan = web("nurse_nina"), web("investigator_ivan")
    page = "/participants/S01-001/screening"
    refused = nina.post_form("/participants/S01-001/injection", {"injection_at": "2026-06-14T09:00"}, from_page=page)
    assert refused.status_code == 422 and "EX04" in refused.text
    assert 'id="deviation-form"' in ivan.get(page).text and 'id="deviation-form"' not in nina.get(page).text
    signed = ivan.post_form("/participants/S01-001/deviations", {"description": "PI decision, sponsor informed",
                                                                 "password": PASSWORD}, from_page=page)
    assert signed.status_code == 302
    assert "accepted by PD1" in nina.get(page).text
    done = nina.post_form("/participants/S01-001/injection", {"injection_at": "2026-06-14T09:00"}, from_page=page)
    assert done.status_code == 302


def test_the_screening_log_counts_screened_failures_by_criterion_and_enrolled(app, db, api, enrol, people,
                                                                              screening):
    screening.labs(uacr=(3500, None))
    screening.sign()
    screening.inject()                                   # enrolled after a signed deviation
    enrol("S01-002")                                     # injected, nothing screened: not confirmed
    enrol("S01-003", injection_at="")
    rb = app.extensions["rulebook"]
    labs.record(db, "S01-003", {"analyte": "egfr", "value": 75, "unit": "mL/min/1.73m2",
                                "collected_at": "2026-06-10T08:00:00+00:00"}, rules=rb.lab_rules, study=rb.study,
                tz=app.config["TIMEZONE"], user=people["nurse_nina"],
                source="api", now=NOW)                   # screen failure: eGFR above 60
    response = api("safety_sam").get("/api/v1/exports/screening-log.csv")
    assert response.status_code == 200
    lines = {(r["Stage"], r["Item"]): (int(r["Participants"]), r["Subjects"])
             for r in csv.DictReader(io.StringIO(response.data.decode("utf-8")))}
    assert lines[("screened", "participants assessed for eligibility")] == (3, "S01-001 S01-002 S01-003")
    assert lines[("screen failure", "failed at least one criterion")] == (2, "S01-001 S01-003")
    assert lines[("screen failure", "IN03 (inclusion) CKD stage 3-4: eGFR 15-60 mL/min/1.73 m2 (CKD-EPI)")] == (
        1, "S01-003")
    assert lines[("screen failure", "IN05 (inclusion) UACR 30-3000 mg/g")] == (1, "S01-001")
    assert lines[("enrolled", "after a signed protocol deviation")] == (1, "S01-001")
    assert lines[("enrolled", "eligibility not confirmed (criteria unknown)")] == (1, "S01-002")
    assert lines[("not enrolled", "screen failure, not injected")] == (1, "S01-003")
    recorded = {h["field"]: h["new_value"] for h in audit.history(db, "export", response.headers[
        "Content-Disposition"].split('"')[1])}
    assert "screening_log" in recorded["kind"]


def test_the_cli_writes_the_screening_log_and_refuses_to_overwrite(app, tmp_path, screening):
    out = tmp_path / "log.csv"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["export", "screening-log", "-o", str(out), "--now", "2026-06-15T10:00:00Z"])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("Stage,Item,Participants,Subjects")
    again = runner.invoke(args=["export", "screening-log", "-o", str(out)])
    assert again.exit_code != 0 and "--force" in again.output


def test_the_demo_has_a_screen_failure_and_a_participant_enrolled_after_a_signed_deviation(app, db):
    from safety_service.demo import load_demo
    from safety_service.domain import participants

    load_demo(db, app.extensions["rulebook"], app.config, now=NOW)
    criteria = app.extensions["rulebook"].eligibility
    failure = participants.get(db, "S01-011", user=None)
    a = eligibility.assess(db, failure, criteria, NOW)
    assert (a.eligible, a.failing, failure["injection_at"]) == (False, ["IN03"], None)   # eGFR above 60
    enrolled = participants.get(db, "S01-012", user=None)
    a = eligibility.assess(db, enrolled, criteria, NOW)
    assert (a.eligible, a.failing, a.unwaived) == (False, ["IN05"], []) and enrolled["injection_at"]
    assert a.deviations[0]["signed_by"].startswith("investigator.s01")


def test_a_failure_found_after_the_injection_is_listed_until_a_deviation_documents_it(app, db, people, enrol):
    # Screening results entered after the fact: the injection was given; the log asks for the deviation.
    enrol("S01-001")                                     # injected 2026-01-12
    rb = app.extensions["rulebook"]
    labs.record(db, "S01-001", {"analyte": "platelets", "value": 80, "unit": "10^3/uL",
                                "collected_at": "2026-01-05T08:00:00+00:00"}, rules=rb.lab_rules, study=rb.study,
                tz=app.config["TIMEZONE"], user=people["nurse_nina"], source="api", now=NOW)

    def enrolled(item):
        from safety_service.domain.eligibility.log import log_rows
        return next(r["subjects"] for r in log_rows(db, None, rb.eligibility, NOW)
                    if (r["stage"], r["item"]) == ("enrolled", item))

    assert enrolled("failing a criterion without a signed deviation (to document)") == "S01-001"
    eligibility.sign_deviation(db, "S01-001", {"description": "documented after the fact", "password": PASSWORD},
                               criteria=rb.eligibility, actor=people["investigator_ivan"], now=NOW)
    assert enrolled("failing a criterion without a signed deviation (to document)") == ""
    assert enrolled("after a signed protocol deviation") == "S01-001"
