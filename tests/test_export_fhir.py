"""FHIR R4 Bundle of AdverseEvent: validated with fhir.resources' R4B models; codes, same rows, determinism."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fhir.resources.R4B.adverseevent import AdverseEvent
from fhir.resources.R4B.bundle import Bundle

from safety_service.exports.fhir import write_ae_fhir
from safety_service.exports.meta import ExportError
from test_export_rows import NOW, STUDY, active, ae, meta, sample_rows


def parsed(rows=None, m=None) -> dict:
    return json.loads(write_ae_fhir(sample_rows() if rows is None else rows, m or meta()))


def resources(doc: dict) -> dict[int, dict]:
    return {int(e["resource"]["identifier"]["value"]): e["resource"] for e in doc["entry"]}


def test_it_validates_as_an_r4_bundle_of_adverse_events():
    data = write_ae_fhir(sample_rows(), meta())
    bundle = Bundle.model_validate_json(data)
    assert bundle.type == "collection"
    assert len(bundle.entry) == len(active(sample_rows()))
    for entry in bundle.entry:
        assert isinstance(entry.resource, AdverseEvent)
        assert entry.resource.actuality == "actual"
        assert entry.fullUrl == f"urn:uuid:{entry.resource.id}"


def test_it_holds_the_same_active_rows_and_leaves_entered_in_error_out():
    got = resources(parsed())
    assert sorted(got) == sorted(r["id"] for r in active(sample_rows()))
    for r in active(sample_rows()):
        res = got[r["id"]]
        assert res["subject"]["identifier"]["value"] == r["subject_id"]
        assert res["event"]["coding"][0]["code"] == r["meddra_code"]
        assert res["event"]["coding"][0]["display"] == r["term"]
        assert res["event"]["text"] == r["verbatim"]
        assert res["date"] == r["onset"]
        assert res["study"][0]["identifier"]["value"] == STUDY


def test_it_codes_seriousness_severity_and_outcome_with_hl7_code_systems():
    got = resources(parsed())
    assert got[1]["seriousness"]["coding"][0]["code"] == "non-serious"
    assert got[3]["seriousness"]["coding"][0]["code"] == "serious"
    assert got[3]["seriousness"]["text"] == "Serious: hospitalization"
    sev = {i: [c["code"] for c in got[i]["severity"]["coding"]] for i in (1, 2, 3, 7)}
    # the exact CTCAE grade as its NCI Thesaurus concept (HL7 adverse-event-clinical-research-grades)
    assert sev == {1: ["mild", "C41338"], 2: ["moderate", "C41339"], 3: ["severe", "C41340"], 7: ["severe", "C48275"]}
    outcome = {i: got[i]["outcome"]["coding"][0]["code"] for i in (1, 2, 6, 7, 9)}
    assert outcome == {1: "resolved", 2: "recovering", 6: "ongoing", 7: "fatal", 9: "resolvedWithSequelae"}


def test_it_gives_causality_for_the_product_and_the_procedure():
    got = resources(parsed())
    suspects = got[3]["suspectEntity"]
    assert [s["instance"]["type"] for s in suspects] == ["Substance", "Procedure"]
    assert suspects[0]["causality"][0]["assessment"]["coding"][0]["code"] == "possible"
    assert suspects[1]["causality"][0]["assessment"]["coding"][0]["code"] == "certain"
    not_related = got[4]["suspectEntity"][0]["causality"][0]["assessment"]
    assert not_related == {"text": "Not related"}


def test_it_carries_expectedness_susar_and_phase_as_extensions():
    got = resources(parsed())
    ext = {e["url"].rsplit("/", 1)[1]: e for e in got[3]["extension"]}
    assert ext["expected"]["valueBoolean"] is False
    assert ext["susar"]["valueBoolean"] is True
    assert ext["phase"]["valueCode"] == "late"
    assert "expected" not in {e["url"].rsplit("/", 1)[1] for e in got[2]["extension"]}  # not assessed


def test_it_timestamps_the_bundle_with_the_export_time_only():
    later = NOW + timedelta(minutes=7)
    a, b = parsed(), parsed(m=meta(later))
    assert a["timestamp"] == NOW.isoformat() and b["timestamp"] == later.isoformat()
    assert a["entry"] == b["entry"]


def test_it_gives_the_same_bytes_for_the_same_rows_and_time():
    assert write_ae_fhir(sample_rows(), meta()) == write_ae_fhir(sample_rows(), meta())


def test_it_refuses_a_grade_outside_1_to_5():
    with pytest.raises(ExportError) as e:
        write_ae_fhir([ae(21, grade=6)], meta())
    assert e.value.field == "grade" and e.value.row == 21


def test_it_writes_an_empty_collection_for_no_rows():
    data = write_ae_fhir([], meta())
    bundle = Bundle.model_validate_json(data)
    assert bundle.type == "collection" and not bundle.entry
    assert "entry" not in json.loads(data)  # FHIR JSON has no empty arrays


def test_it_codes_the_ctcae_grade_with_nci_thesaurus_as_the_ae_research_ig_does():
    # HL7 adverse-event-clinical-research-grades: C41338 .. C48275 for CTCAE grades 1-5
    got = resources(parsed())
    grades = {i: [e["valueCodeableConcept"]["coding"][0]["code"] for e in got[i]["extension"]
                  if e["url"].endswith("/ae-grade")] for i in (1, 2, 3, 7)}
    assert grades == {1: ["C41338"], 2: ["C41339"], 3: ["C41340"], 7: ["C48275"]}
    ncit = got[3]["extension"][0]["valueCodeableConcept"]["coding"][0]
    assert ncit["system"] == "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
    assert ncit["display"] == "Grade 3 Severe Adverse Event"
    assert got[1]["event"]["coding"][0]["system"] == "http://terminology.hl7.org/CodeSystem/mdr"  # MedDRA kept


def test_it_tags_the_bundle_with_the_audit_chain_head_and_still_validates():
    from dataclasses import replace

    data = write_ae_fhir(sample_rows(), replace(meta(), audit_anchor="12:" + "ab" * 32))
    bundle = Bundle.model_validate_json(data)
    assert [(t.system, t.code) for t in bundle.meta.tag] == [("urn:safety-service:audit-anchor", "12:" + "ab" * 32)]
    assert "meta" not in parsed()  # no anchor given, no tag
