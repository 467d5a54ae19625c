"""FHIR R4 Bundle (type collection) of AdverseEvent resources.

Plain dicts serialised with json: fhir.resources is a test dependency used to validate the
output against the R4B models (AdverseEvent is unchanged between R4 and R4B).
Code systems (HL7 terminology, R4): adverse-event-seriousness, adverse-event-severity,
adverse-event-outcome, adverse-event-causality-assess (WHO-UMC categories); MedDRA as
http://terminology.hl7.org/CodeSystem/mdr.

The CTCAE grade is also coded with NCI Thesaurus (C41338/C41339/C41340/C41337/C48275 for grades 1-5, the HL7
value set adverse-event-clinical-research-grades) in severity and in the AE Clinical Research IG's ae-grade
extension; the term keeps its MedDRA code (the catalogue has no NCIt codes for CTCAE terms). The Bundle's
meta.tag states the audit chain head it was made at.

R4 AdverseEvent has no status element, so entered-in-error AEs are left out of the Bundle rather
than asserted as actual events; the expectedness and SUSAR flags (not R4 elements) travel as
extensions of this study.
"""
from __future__ import annotations

import json
import uuid
from typing import Sequence

from .meta import ExportError, ExportMeta

SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
OUTCOME = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
CAUSALITY = "http://terminology.hl7.org/CodeSystem/adverse-event-causality-assess"
MEDDRA = "http://terminology.hl7.org/CodeSystem/mdr"
CTGOV = "https://clinicaltrials.gov"
EXT_BASE = "urn:safety-service:fhir:StructureDefinition"
ID_SYSTEM = "urn:safety-service:adverse-event"
SUBJECT_SYSTEM = "urn:safety-service:subject"
NAMESPACE = uuid.UUID("6f1c2b1e-6a0e-4d8e-9c3b-5b1f0c7a2d10")  # fixed: the same AE gets the same urn:uuid

# adverse-event-outcome codes (R4)
OUTCOMES = {"recovered": ("resolved", "Resolved"), "recovering": ("recovering", "Recovering"),
            "not_recovered": ("ongoing", "Ongoing"),
            "recovered_with_sequelae": ("resolvedWithSequelae", "Resolved with Sequelae"),
            "fatal": ("fatal", "Fatal"), "unknown": ("unknown", "Unknown")}
# CTCAE grade -> adverse-event-severity (mild/moderate/severe): grade 1 mild, 2 moderate, 3-5 severe (CTCAE v5.0
# grade definitions); the exact grade is coded with NCI Thesaurus as a second coding and in the ae-grade extension
SEVERITIES = {1: ("mild", "Mild"), 2: ("moderate", "Moderate"), 3: ("severe", "Severe"), 4: ("severe", "Severe"),
              5: ("severe", "Severe")}
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
# CTCAE v5.0 grades as NCI Thesaurus concepts: HL7 value set adverse-event-clinical-research-grades
# (terminology.hl7.org, OID 2.16.840.1.113883.11.21027), as the mCODE / AE Clinical Research IGs code them
NCIT_GRADES = {1: ("C41338", "Grade 1 Mild Adverse Event"), 2: ("C41339", "Grade 2 Moderate Adverse Event"),
               3: ("C41340", "Grade 3 Severe Adverse Event"),
               4: ("C41337", "Grade 4 Life Threatening or Disabling Adverse Event"),
               5: ("C48275", "Grade 5 Death Related to Adverse Event")}
# HL7 AE Clinical Research R4 Backport IG: the grade extension (value from the grades value set above)
AE_GRADE_EXT = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade"
ANCHOR_SYSTEM = "urn:safety-service:audit-anchor"
# investigator causality -> WHO-UMC categories of adverse-event-causality-assess; "not related" has no WHO-UMC
# category and is sent as text
CAUSALITIES = {"definite": ("certain", "Certain"), "probable": ("probably-likely", "Probably/Likely"),
               "possible": ("possible", "Possible"), "unlikely": ("unlikely", "Unlikely")}


def _coding(system: str, code: str, display: str) -> dict:
    return {"system": system, "code": code, "display": display}


def _causality(value: str | None, what: str, row) -> dict | None:
    if value is None:
        return None
    if value == "not_related":
        return {"assessment": {"text": "Not related"}, "productRelatedness": f"not related to {what}"}
    if value not in CAUSALITIES:
        raise ExportError(f"{value!r} is not a causality category", field=f"relatedness ({what})", row=row)
    code, display = CAUSALITIES[value]
    return {"assessment": {"coding": [_coding(CAUSALITY, code, display)], "text": display},
            "productRelatedness": f"{value} ({what})"}


def resource_id(ae: dict, meta: ExportMeta) -> str:
    """A UUID derived from study and AE id: stable across exports, usable as urn:uuid and as resource id."""
    return str(uuid.uuid5(NAMESPACE, meta.study_id + "/" + str(ae.get("id"))))


def adverse_event(ae: dict, meta: ExportMeta) -> dict:
    """One AdverseEvent resource; ExportError names the AE and field for values with no code."""
    rid = ae.get("id")
    res: dict = {"resourceType": "AdverseEvent", "id": resource_id(ae, meta)}
    ext = []
    grade = ae.get("grade")
    if grade is not None:
        if grade not in NCIT_GRADES:
            raise ExportError(f"grade {grade!r} is not 1-5", field="grade", row=rid)
        ext.append({"url": AE_GRADE_EXT, "valueCodeableConcept": {
            "coding": [_coding(NCIT, *NCIT_GRADES[grade])], "text": f"CTCAE v5.0 grade {grade}"}})
    if ae.get("expected") is not None:
        ext.append({"url": f"{EXT_BASE}/expected", "valueBoolean": bool(ae["expected"])})
    if ae.get("susar") is not None:
        ext.append({"url": f"{EXT_BASE}/susar", "valueBoolean": bool(ae["susar"])})
    if ae.get("phase"):
        ext.append({"url": f"{EXT_BASE}/phase", "valueCode": str(ae["phase"])})
    if ext:
        res["extension"] = ext
    res["identifier"] = {"system": ID_SYSTEM, "value": str(rid)}
    res["actuality"] = "actual"
    text = ae.get("verbatim") or ae.get("term")
    event = {"text": text} if text else {}
    if ae.get("meddra_code"):
        coding = {"system": MEDDRA, "code": str(ae["meddra_code"])}
        event["coding"] = [coding | {"display": ae["term"]} if ae.get("term") else coding]
    res["event"] = event
    res["subject"] = {"identifier": {"system": SUBJECT_SYSTEM, "value": ae["subject_id"]}, "display": ae["subject_id"]}
    onset = ae.get("onset")
    if onset:
        # date only unless a time was recorded; a time without a zone is not a valid FHIR dateTime, so the
        # time stays in the listing exports
        res["date"] = onset
    if ae.get("awareness_at"):
        res["detected"] = ae["awareness_at"]
    if ae.get("created_at"):
        res["recordedDate"] = ae["created_at"]
    res["seriousness"] = {"coding": [_coding(SERIOUSNESS, "serious", "Serious") if ae.get("serious")
                                     else _coding(SERIOUSNESS, "non-serious", "Non-serious")]}
    if ae.get("seriousness"):
        res["seriousness"]["text"] = "Serious: " + ", ".join(ae["seriousness"])
    if grade is not None:
        code, display = SEVERITIES[grade]
        res["severity"] = {"coding": [_coding(SEVERITY, code, display), _coding(NCIT, *NCIT_GRADES[grade])],
                           "text": f"CTCAE v5.0 grade {grade}"}
    outcome = ae.get("outcome")
    if outcome is not None:
        if outcome not in OUTCOMES:
            raise ExportError(f"{outcome!r} has no FHIR outcome code", field="outcome", row=rid)
        code, display = OUTCOMES[outcome]
        res["outcome"] = {"coding": [_coding(OUTCOME, code, display)]}
    if ae.get("created_by"):
        res["recorder"] = {"display": ae["created_by"]}
    suspects = []
    for key, what, ref in (("relatedness_product", "UC-MSC", {"type": "Substance", "display": "UC-MSC (study product)"}),
                           ("relatedness_procedure", "intra-renal injection procedure",
                            {"type": "Procedure", "display": "Intra-renal injection (study procedure)"})):
        c = _causality(ae.get(key), what, rid)
        if c is not None:
            suspects.append({"instance": ref, "causality": [c]})
    if suspects:
        res["suspectEntity"] = suspects
    res["study"] = [{"identifier": {"system": CTGOV, "value": meta.study_id}, "display": meta.study_id}]
    return res


def bundle(rows: Sequence[dict], meta: ExportMeta) -> dict:
    """A collection Bundle, entries ordered by subject and sequence; entered-in-error AEs left out."""
    active = [r for r in rows if r.get("status", "active") == "active"]
    active.sort(key=lambda r: (str(r.get("subject_id")), r.get("seq") or 0, r.get("id") or 0))
    entries = [{"fullUrl": f"urn:uuid:{resource_id(r, meta)}", "resource": adverse_event(r, meta)} for r in active]
    # Bundle.total is for searchset/history only (bdl-1), so a collection carries none
    # and FHIR JSON has no empty arrays, so an empty collection carries no entry either
    doc: dict = {"resourceType": "Bundle"}
    if meta.audit_anchor:
        # the audit chain head the Bundle was made at (`safety audit anchor`), as a tag an auditor can read
        doc["meta"] = {"tag": [{"system": ANCHOR_SYSTEM, "code": meta.audit_anchor,
                                "display": "audit chain head when exported"}]}
    doc |= {"type": "collection", "timestamp": meta.exported_at_iso}
    return doc | {"entry": entries} if entries else doc


def write_ae_fhir(rows: Sequence[dict], meta: ExportMeta) -> bytes:
    """The Bundle as UTF-8 JSON (stable key order, so the same rows give the same bytes)."""
    return (json.dumps(bundle(rows, meta), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
