"""Con-meds and medical history in the domain: validated, numbered per subject, amended with a reason and a
version, entered in error, site-scoped, audited in the same transaction; "treatment given" links; CSV import."""
from __future__ import annotations

import pytest

from safety_service.domain import adverse_events, audit
from safety_service.domain.errors import Conflict, InvalidInput, NotFound
from safety_service.domain.history import conmeds, importing, medical_history, treatments
from safety_service.domain.labs_import import ImportRefused

from conftest import NOW

TZ = "Europe/Berlin"
RAMIPRIL = {"name": "Ramipril", "dose": 5, "unit": "mg", "route": "oral", "indication": "Diabetic nephropathy",
            "start_date": "2024-03", "ongoing": True}


@pytest.fixture
def s01(enrol):
    return enrol("S01-001")


def count(db, table):
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def add(db, people, who="nurse_nina", subject="S01-001", **changes):
    return conmeds.create(db, subject, {**RAMIPRIL, **changes}, actor=people[who], tz=TZ, now=NOW)


def test_it_records_a_conmed_numbered_per_subject_and_audited(db, people, s01):
    first = add(db, people)
    second = add(db, people, name="Metformin", dose=1000, indication="Type 2 diabetes", start_date="2015")
    assert (first["seq"], second["seq"], first["display_id"]) == (1, 2, "S01-001-CM1")
    assert (first["dose"], first["route"], first["ongoing"], first["stop_date"]) == (5.0, "oral", True, None)
    entries = audit.history(db, "conmed", first["id"])
    assert {e["field"]: e["new_value"] for e in entries}["name"] == "Ramipril"
    assert {e["actor"] for e in entries} == {people["nurse_nina"]["email"]}


def test_it_names_every_bad_field_and_stores_nothing(db, people, s01):
    before = count(db, "audit_log")
    with pytest.raises(InvalidInput) as e:
        add(db, people, name=" ", dose="-1", route="by mouth", start_date="2026-13", ongoing="maybe", colour="red")
    assert set(e.value.fields) == {"name", "dose", "route", "start_date", "ongoing", "colour"}
    assert count(db, "conmeds") == 0 and count(db, "audit_log") == before


@pytest.mark.parametrize("changes, field, why", [
    ({"ongoing": False}, "stop_date", "required unless"),
    ({"stop_date": "2025-01-01"}, "stop_date", "empty while"),
    ({"ongoing": False, "stop_date": "2024-02-28"}, "stop_date", "before the start"),
    ({"start_date": "2026-06-16"}, "start_date", "future"),          # NOW is 2026-06-15 in Berlin
    ({"dose": 5, "unit": ""}, "unit", "with a dose"),
])
def test_it_refuses_dates_and_doses_that_cannot_be(db, people, s01, changes, field, why):
    with pytest.raises(InvalidInput) as e:
        add(db, people, **changes)
    assert why in e.value.fields[field]


def test_partial_dates_compare_on_what_both_know(db, people, s01):
    # Stopped in March 2024 after starting "in 2024": not before it.
    done = add(db, people, start_date="2024", ongoing=False, stop_date="2024-03-10")
    assert (done["start_date"], done["stop_date"], done["ongoing"]) == ("2024", "2024-03-10", False)
    assert add(db, people, start_date="2026-06-15")["start_date"] == "2026-06-15"   # today is allowed


def test_a_site_sees_and_records_only_its_own_participants(db, people, s01, enrol):
    enrol("S02-001")
    with pytest.raises(NotFound):
        add(db, people, who="nurse_noah", subject="S01-001")
    cm = add(db, people)
    with pytest.raises(NotFound):
        conmeds.get(db, cm["id"], user=people["nurse_noah"])
    with pytest.raises(NotFound):
        conmeds.list_for(db, "S01-001", user=people["nurse_noah"])
    assert conmeds.get(db, cm["id"], user=people["safety_sam"])["name"] == "Ramipril"


def test_it_amends_with_a_reason_into_a_new_version_and_keeps_the_old_value(db, people, s01, clock):
    cm = add(db, people)
    new = conmeds.amend(db, cm["id"], {"dose": 10}, reason="dose doubled at M1", actor=people["nurse_nina"],
                        tz=TZ, now=NOW, expected_version=1)
    assert (new["dose"], new["version"]) == (10.0, 2)
    amended = [e for e in audit.history(db, "conmed", cm["id"]) if e["action"] == "amend"]
    assert {(e["field"], e["old_value"], e["new_value"]) for e in amended} >= {("dose", "5.0", "10.0")}
    assert {e["reason"] for e in amended} == {"dose doubled at M1"}


def test_stopping_an_ongoing_medication_needs_only_the_stop_date(db, people, s01):
    cm = add(db, people)
    new = conmeds.amend(db, cm["id"], {"stop_date": "2026-05-01"}, reason="switched to losartan",
                        actor=people["nurse_nina"], tz=TZ, now=NOW)
    assert (new["ongoing"], new["stop_date"]) == (False, "2026-05-01")


def test_an_amendment_needs_a_reason_a_real_change_and_the_current_version(db, people, s01):
    cm = add(db, people)
    nina = people["nurse_nina"]
    with pytest.raises(InvalidInput) as e:
        conmeds.amend(db, cm["id"], {"dose": 10}, reason=" ", actor=nina, tz=TZ, now=NOW)
    assert set(e.value.fields) == {"reason"}
    with pytest.raises(InvalidInput) as e:
        conmeds.amend(db, cm["id"], {"dose": "5"}, reason="typo", actor=nina, tz=TZ, now=NOW)
    assert "changes" in e.value.fields
    conmeds.amend(db, cm["id"], {"dose": 10}, reason="dose doubled", actor=nina, tz=TZ, now=NOW, expected_version=1)
    with pytest.raises(Conflict):
        conmeds.amend(db, cm["id"], {"dose": 20}, reason="again", actor=nina, tz=TZ, now=NOW, expected_version=1)
    assert conmeds.get(db, cm["id"], user=nina)["dose"] == 10.0


def test_entered_in_error_keeps_the_record_out_of_the_list_and_frozen(db, people, s01):
    cm = add(db, people)
    nina = people["nurse_nina"]
    with pytest.raises(InvalidInput):
        conmeds.mark_entered_in_error(db, cm["id"], reason="", actor=nina, now=NOW)
    gone = conmeds.mark_entered_in_error(db, cm["id"], reason="wrong participant", actor=nina, now=NOW)
    assert (gone["status"], gone["version"]) == ("entered_in_error", 2)
    assert conmeds.list_for(db, "S01-001", user=nina) == []
    assert [c["status"] for c in conmeds.list_for(db, "S01-001", user=nina, include_entered_in_error=True)] == \
        ["entered_in_error"]
    with pytest.raises(Conflict):
        conmeds.amend(db, cm["id"], {"dose": 10}, reason="x", actor=nina, tz=TZ, now=NOW)
    with pytest.raises(Exception, match="never deleted"):
        db.execute("DELETE FROM conmeds")


def test_medical_history_takes_partial_onsets(db, people, s01):
    nina = people["nurse_nina"]
    htn = medical_history.create(db, "S01-001", {"condition": "Hypertension", "onset": "2012", "ongoing": "on"},
                                 actor=nina, tz=TZ, now=NOW)
    assert (htn["display_id"], htn["onset"], htn["ongoing"]) == ("S01-001-MH1", "2012", True)
    with pytest.raises(InvalidInput) as e:
        medical_history.create(db, "S01-001", {"condition": "", "onset": "12/2012"}, actor=nina, tz=TZ, now=NOW)
    assert set(e.value.fields) == {"condition", "onset"}
    new = medical_history.amend(db, htn["id"], {"onset": "2012-04"}, reason="month from the GP letter",
                                actor=nina, tz=TZ, now=NOW, expected_version=1)
    assert (new["onset"], new["version"]) == ("2012-04", 2)


def hematuria(app, db, people):
    rb = app.extensions["rulebook"]
    return adverse_events.create(db, {"subject_id": "S01-001", "term": "Hematuria", "verbatim": "pink urine",
                                      "grade": 2, "onset": "2026-01-13", "relatedness_product": "unlikely",
                                      "relatedness_procedure": "probable", "outcome": "recovering"},
                                 catalogue=rb.ctcae, study=rb.study, tz=TZ, actor=people["nurse_nina"], now=NOW)


def test_treatment_given_links_conmeds_to_the_ae_audited_on_the_ae(app, db, people, s01, enrol):
    ae = hematuria(app, db, people)
    tranexamic = add(db, people, name="Tranexamic acid", dose=1000, indication="Hematuria", start_date="2026-01-13",
                     ongoing=False, stop_date="2026-01-15")
    ramipril = add(db, people)
    nina = people["nurse_nina"]
    linked = treatments.set_for_ae(db, ae["id"], [str(tranexamic["id"])], actor=nina, now=NOW)
    assert [c["name"] for c in linked] == ["Tranexamic acid"]
    treatments.set_for_ae(db, ae["id"], [tranexamic["id"], ramipril["id"]], actor=nina, now=NOW)
    treatments.set_for_ae(db, ae["id"], [ramipril["id"]], actor=nina, now=NOW)
    trail = [(e["old_value"], e["new_value"]) for e in audit.history(db, "adverse_event", ae["id"])
             if e["action"] == "treatment_given"]
    assert trail == [("[]", '["S01-001-CM1"]'), ('["S01-001-CM1"]', '["S01-001-CM1","S01-001-CM2"]'),
                     ('["S01-001-CM1","S01-001-CM2"]', '["S01-001-CM2"]')]
    enrol("S02-001")
    other = add(db, people, who="nurse_noah", subject="S02-001")
    with pytest.raises(InvalidInput) as e:
        treatments.set_for_ae(db, ae["id"], [other["id"]], actor=nina, now=NOW)
    assert "treatment_given" in e.value.fields
    assert [c["id"] for c in treatments.for_ae(db, ae["id"])] == [ramipril["id"]]


CM_CSV = ("subject_id,name,dose,unit,route,indication,start_date,stop_date,ongoing\n"
          "S01-001,Ramipril,5,mg,oral,Diabetic nephropathy,2024-03,,yes\n"
          "S01-001,Metformin,1000,mg,oral,Type 2 diabetes,2015,,yes\n")


def test_the_csv_import_stores_every_row_or_none(db, people, s01):
    assert importing.import_csv(db, "conmeds", CM_CSV, user=None, actor="cli", tz=TZ, now=NOW) == 2
    assert [c["display_id"] for c in conmeds.list_for(db, "S01-001", user=None)] == ["S01-001-CM1", "S01-001-CM2"]
    bad = CM_CSV + "S01-001,Aspirin,100,,oral,,2020,2019,no\nS09-001,Aspirin,100,mg,oral,Pain,2020,,yes\n"
    before = count(db, "audit_log")
    with pytest.raises(ImportRefused) as e:
        importing.import_csv(db, "conmeds", bad, user=None, actor="cli", tz=TZ, now=NOW)
    assert [(p.row, p.column) for p in e.value.problems] == [(4, "indication"), (4, "stop_date"), (4, "unit"),
                                                             (5, "subject_id")]
    assert count(db, "conmeds") == 2 and count(db, "audit_log") == before


def test_the_csv_import_names_header_problems_and_keeps_to_the_users_site(db, people, s01, enrol):
    with pytest.raises(ImportRefused) as e:
        importing.import_csv(db, "medical-history", "subject_id,diagnosis\nS01-001,T2DM\n", user=None,
                             actor="cli", tz=TZ, now=NOW)
    assert {(p.row, p.column) for p in e.value.problems} == {(1, "condition"), (1, "diagnosis")}
    with pytest.raises(ImportRefused) as e:
        importing.import_csv(db, "medical-history", "subject_id,condition\nS01-001,T2DM\n",
                             user=people["nurse_noah"], actor="noah", tz=TZ, now=NOW)
    assert [(p.row, p.column) for p in e.value.problems] == [(2, "subject_id")]
    assert importing.import_csv(db, "medical-history", "subject_id,condition,onset,ongoing\nS01-001,T2DM,2009,true\n",
                                user=people["nurse_nina"], actor="nina", tz=TZ, now=NOW) == 1
