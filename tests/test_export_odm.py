"""CDISC ODM 1.3.2 export: valid against the ODM 1.3.2 XSD (shipped by odmlib), read back with odmlib and compared
with the API's lists, audit records with who/when/why, the audit anchor it was made at, the same bytes for the same
data, entered-in-error records left out by default, site scope; CLI, API and the exports page."""
from __future__ import annotations

import io
import os
import re

import odmlib
import odmlib.loader as odm_loader
import odmlib.odm_loader as odm_xml
import pytest
import xmlschema
from lxml import etree

from safety_service.domain import audit
from safety_service.exports import odm

from conftest import NOW

XSD = os.path.join(os.path.dirname(odmlib.__file__), "schemas", "odm", "1.3.2", "ODM1-3-2.xsd")
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}


@pytest.fixture(scope="module")
def schema():
    return xmlschema.XMLSchema(XSD)


def hematuria(**changes):
    data = {"subject_id": "S01-001", "term": "Hematuria", "verbatim": "pink urine & clots <2 days>", "grade": 2,
            "onset": "2026-01-13", "relatedness_product": "unlikely", "relatedness_procedure": "probable",
            "outcome": "recovering"}
    return {**data, **changes}


@pytest.fixture
def trial(api, enrol):
    """Two participants at two sites with AEs (one amended, one entered in error), labs (one entered in error),
    a visit, con-meds (one linked as treatment given) and medical history."""
    enrol("S01-001")
    enrol("S02-001", sex="M")
    nina, noah = api("nurse_nina"), api("nurse_noah")
    first = nina.post("/api/v1/adverse-events", json=hematuria()).get_json()
    r = nina.patch(f"/api/v1/adverse-events/{first['id']}", json={"grade": 3, "reason": "transfusion needed",
                                                                   "version": 1})
    assert r.status_code == 200, r.get_json()
    wrong = nina.post("/api/v1/adverse-events", json=hematuria(term="Nausea", verbatim="queasy")).get_json()
    assert nina.patch(f"/api/v1/adverse-events/{wrong['id']}", json={
        "status": "entered_in_error", "reason": "other participant", "version": 1}).status_code == 200
    noah.post("/api/v1/adverse-events", json=hematuria(subject_id="S02-001", term="Fever", verbatim="38.4 C",
                                                       grade=1, serious=False))
    for value, when in ((1.1, "2026-01-10T08:00:00+00:00"), (1.3, "2026-02-11T08:00:00+00:00")):
        r = nina.post("/api/v1/participants/S01-001/labs", json={"analyte": "creatinine", "value": value,
                                                                 "unit": "mg/dL", "collected_at": when,
                                                                 "visit": "SCR" if value == 1.1 else "M1"})
        assert r.status_code == 201, r.get_json()
    bad = nina.post("/api/v1/participants/S01-001/labs", json={"analyte": "hemoglobin", "value": 12.9, "unit": "g/dL",
                                                               "collected_at": "2026-02-11T08:05:00+00:00"}).get_json()
    assert nina.post(f"/api/v1/labs/{bad['id']}/entered-in-error", json={"reason": "haemolysed sample"}
                     ).status_code == 200
    assert nina.post("/api/v1/participants/S01-001/visits/M1", json={"visit_date": "2026-02-11"}).status_code == 200
    cm = nina.post("/api/v1/participants/S01-001/conmeds", json={
        "name": "Ramipril", "dose": 5, "unit": "mg", "route": "oral", "indication": "Diabetic nephropathy",
        "start_date": "2024-03", "ongoing": True}).get_json()
    nina.client.put(f"/api/v1/adverse-events/{first['id']}/treatments", json={"conmed_ids": [cm["id"]]},
                    headers=nina.headers)
    nina.post("/api/v1/participants/S01-001/medical-history", json={"condition": "Hypertension", "onset": "2012",
                                                                    "ongoing": True})
    return {"ae": first, "wrong": wrong, "bad_lab": bad, "conmed": cm}


def export_bytes(db, app, user=None, include_entered_in_error=False, **filters) -> bytes:
    sink = io.BytesIO()
    odm.write(db, sink, study=app.extensions["rulebook"].study, sites={"S01": "North", "S02": "City", "S03": "Reg"},
              selection=odm.Selection(user, filters, include_entered_in_error), now=NOW, anchor=audit.anchor(db),
              file_oid="F.1")
    return sink.getvalue()


def test_it_is_valid_against_the_odm_1_3_2_schema(api, trial, schema, tmp_path):
    r = api("auditor_ada").get("/api/v1/exports/odm.xml")
    assert r.status_code == 200 and r.content_type.startswith("application/xml")
    path = tmp_path / "odm.xml"
    path.write_bytes(r.data)
    errors = [str(e)[:300] for e in schema.iter_errors(str(path))]
    assert errors == []


def test_it_reads_back_with_odmlib_as_the_apis_lists_say(api, trial, tmp_path):
    auditor = api("auditor_ada")
    path = tmp_path / "odm.xml"
    path.write_bytes(auditor.get("/api/v1/exports/odm.xml").data)
    loader = odm_loader.ODMLoader(odm_xml.XMLODMLoader(model_package="odm_1_3_2", ns_uri=NS["odm"]))
    loader.open_odm_document(str(path))
    doc = loader.root()
    assert doc.ODMVersion == "1.3.2" and doc.FileType == "Snapshot"
    mdv = doc.Study[0].MetaDataVersion[0]
    assert {e.OID for e in mdv.StudyEventDef} >= {"SE.M1", "SE.M3", "SE.M6", "SE.M9", "SE.M12", "SE.COMMON"}
    items = {i.OID: i for i in mdv.ItemDef}
    assert (items["IT.AE.AETOXGR"].DataType, items["IT.AE.AETOXGR"].CodeListRef.CodeListOID) == ("integer", "CL.GRADE")
    decodes = {c.OID: {i.CodedValue: i.Decode.TranslatedText[0]._content for i in c.CodeListItem}
               for c in mdv.CodeList}
    assert decodes["CL.REL"]["not_related"] == "Not related"
    subjects = {s.SubjectKey: s for s in doc.ClinicalData[0].SubjectData}
    assert sorted(subjects) == sorted(p["subject_id"] for p in auditor.get("/api/v1/participants").get_json())

    def forms(subject, form_oid):
        return [{i.ItemOID: i.Value for g in f.ItemGroupData for i in g.ItemData}
                for e in subjects[subject].StudyEventData for f in e.FormData if f.FormOID == form_oid]

    for sid in subjects:
        api_aes = auditor.get(f"/api/v1/adverse-events?subject_id={sid}").get_json()
        got = forms(sid, "F.AE")
        assert [(int(a["IT.AE.AESEQ"]), a["IT.AE.AEDECOD"], a["IT.AE.AETERM"], int(a["IT.AE.AETOXGR"]),
                 a["IT.AE.AESTDTC"], a["IT.AE.AESER"], a["IT.AE.RELPROD"], a["IT.AE.AEOUT"]) for a in got] == \
            [(a["seq"], a["term"], a["verbatim"], a["grade"], a["onset"], "true" if a["serious"] else "false",
              a["relatedness_product"], a["outcome"]) for a in api_aes]
        api_labs = auditor.get(f"/api/v1/participants/{sid}/labs").get_json()
        assert sorted((lb["IT.LB.TESTCD"], float(lb["IT.LB.ORRES"]), lb["IT.LB.DTC"]) for lb in forms(sid, "F.LB")) == \
            sorted((x["analyte"], x["value"], x["collected_at"]) for x in api_labs)
        api_cms = auditor.get(f"/api/v1/participants/{sid}/conmeds").get_json()
        assert [(c["IT.CM.CMTRT"], c.get("IT.CM.CMSTDTC")) for c in forms(sid, "F.CM")] == \
            [(c["name"], c["start_date"]) for c in api_cms]
    assert forms("S01-001", "F.AE")[0]["IT.AE.TREAT"] == "CM1"
    assert forms("S01-001", "F.MH")[0] == {"IT.MH.MHSEQ": "1", "IT.MH.MHTERM": "Hypertension",
                                           "IT.MH.MHSTDTC": "2012", "IT.MH.ONGOING": "true", "IT.MH.STATUS": "active"}
    assert forms("S01-001", "F.SV") == [{"IT.SV.SVSTDTC": "2026-02-11"}]


def test_each_form_carries_who_when_and_why_of_its_last_change(api, trial, people):
    tree = etree.fromstring(api("safety_sam").get("/api/v1/exports/odm.xml").data)
    ae = tree.xpath("//odm:SubjectData[@SubjectKey='S01-001']//odm:FormData[@FormOID='F.AE']", namespaces=NS)[0]
    record = ae.find("odm:AuditRecord", NS)
    who = record.find("odm:UserRef", NS).get("UserOID")
    assert who == "USR." + people["nurse_nina"]["email"]
    assert record.find("odm:LocationRef", NS).get("LocationOID") == "LOC.S01"
    assert record.findtext("odm:DateTimeStamp", namespaces=NS) == NOW.isoformat()
    assert record.findtext("odm:ReasonForChange", namespaces=NS) == "transfusion needed"
    users = tree.xpath("//odm:AdminData/odm:User/@OID", namespaces=NS)
    assert who in users


def test_it_states_the_audit_anchor_it_was_made_at(api, trial, db):
    ada = api("auditor_ada")  # a new token is audited too
    before = audit.anchor(db)
    r = ada.get("/api/v1/exports/odm.xml")
    description = etree.fromstring(r.data).get("Description")
    assert re.search(r"audit chain head \(safety audit anchor\) (\d+:[0-9a-f]{64})$", description)[1] == before
    assert r.headers["X-Audit-Anchor"] == before
    # the export itself is audited after it, with the anchor and the file's hash
    entry = {e["field"]: e["new_value"] for e in db.query("SELECT * FROM audit_log WHERE action = 'export' AND "
                                                             "entity_id LIKE '%odm%'")}
    assert entry["audit_anchor"] == before and entry["sha256"] == r.headers["X-Content-SHA256"]
    assert audit.anchor(db) != before


def test_the_same_data_gives_the_same_bytes(app, db, trial):
    assert export_bytes(db, app) == export_bytes(db, app)


def test_entered_in_error_records_are_left_out_unless_asked_for(app, db, trial):
    default = etree.fromstring(export_bytes(db, app))
    terms = default.xpath("//odm:ItemData[@ItemOID='IT.AE.AEDECOD']/@Value", namespaces=NS)
    assert "Nausea" not in terms and "Hematuria" in terms
    assert "hemoglobin" not in default.xpath("//odm:ItemData[@ItemOID='IT.LB.TESTCD']/@Value", namespaces=NS)
    full = etree.fromstring(export_bytes(db, app, include_entered_in_error=True))
    statuses = full.xpath("//odm:FormData[@FormOID='F.AE']//odm:ItemData[@ItemOID='IT.AE.STATUS']/@Value",
                          namespaces=NS)
    assert sorted(statuses) == ["active", "active", "entered_in_error"]
    lab = full.xpath("//odm:FormData[@FormOID='F.LB'][.//odm:ItemData[@Value='hemoglobin']]", namespaces=NS)[0]
    assert lab.findtext("odm:AuditRecord/odm:ReasonForChange", namespaces=NS) == "haemolysed sample"


def test_a_site_role_gets_its_own_site_and_filters_follow_the_ae_list(api, trial):
    tree = etree.fromstring(api("investigator_ivan").get("/api/v1/exports/odm.xml").data)
    assert tree.xpath("//odm:SubjectData/@SubjectKey", namespaces=NS) == ["S01-001"]
    tree = etree.fromstring(api("safety_sam").get("/api/v1/exports/odm.xml?min_grade=3").data)
    assert tree.xpath("//odm:ItemData[@ItemOID='IT.AE.AEDECOD']/@Value", namespaces=NS) == ["Hematuria"]
    r = api("safety_sam").get("/api/v1/exports/odm.xml?min_grade=9&colour=red")
    assert r.status_code == 422 and set(r.get_json()["error"]["fields"]) == {"min_grade", "colour"}
    assert api("nurse_nina").get("/api/v1/exports/odm.xml").status_code == 403


def test_special_characters_survive_the_round_trip(app, db, trial):
    tree = etree.fromstring(export_bytes(db, app))
    assert "pink urine & clots <2 days>" in tree.xpath("//odm:ItemData[@ItemOID='IT.AE.AETERM']/@Value",
                                                       namespaces=NS)


def test_safety_export_odm_writes_the_file_and_refuses_to_overwrite(app, trial, tmp_path, schema):
    out = tmp_path / "trial.xml"
    runner = app.test_cli_runner()
    r = runner.invoke(args=["export", "odm", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "2 adverse events" in r.output and "audit anchor" in r.output
    assert schema.is_valid(str(out))
    r = runner.invoke(args=["export", "odm", "-o", str(out)])
    assert r.exit_code == 1 and "exists" in r.output
    assert runner.invoke(args=["export", "odm", "-o", str(out), "--force"]).exit_code == 0
    assert not list(tmp_path.glob("*.part"))


def test_the_exports_page_offers_it(web, trial):
    html = web("auditor_ada").get("/exports").get_data(as_text=True)
    assert "/exports/odm.xml" in html


def test_the_file_names_what_safety_audit_anchor_printed_just_before(app, trial, tmp_path):
    runner = app.test_cli_runner()
    printed = runner.invoke(args=["audit", "anchor"])
    assert printed.exit_code == 0, printed.output
    out = tmp_path / "odm.xml"
    assert runner.invoke(args=["export", "odm", "-o", str(out)]).exit_code == 0
    description = etree.parse(str(out)).getroot().get("Description")
    assert description.endswith(f"(safety audit anchor) {printed.output.strip()}")
