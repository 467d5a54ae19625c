"""Sample AE rows and participants for the export tests (the agreed AE dict shape), and checks on them.

Personas: nurse_nina enters AEs, investigator_ivan signs off, auditor_ada exports.
"""
from __future__ import annotations

from datetime import datetime, timezone

from safety_service.exports.columns import AE_COLUMNS
from safety_service.exports.meta import ExportMeta

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
STUDY = "NCT07396155"
LONG_VERBATIM = ("Persistent dull ache in the right flank starting the evening after the injection, "
                 "worse on deep breathing and when lying on the right side, not relieved by paracetamol, "
                 "with no fever, no haematuria and no change in urine output over the following three days")

AE_KEYS = ("id", "subject_id", "site", "seq", "term", "meddra_code", "soc", "verbatim", "grade", "serious",
           "seriousness", "relatedness_product", "relatedness_procedure", "related", "expected", "action_taken",
           "other_action", "outcome", "onset", "onset_time", "end_date", "onset_day", "end_day", "phase",
           "treatment_emergent", "awareness_at", "report_due_at", "expedited_due_at", "susar", "status", "version",
           "description", "created_at", "created_by", "updated_at", "signed_off_at", "signed_off_by",
           "report_sent_at")


def meta(at: datetime = NOW, **filters) -> ExportMeta:
    return ExportMeta(STUDY, at, "auditor_ada@example.org", filters)


def ae(id: int, subject_id: str = "S01-001", seq: int = 1, **kw) -> dict:
    """One AE in the agreed shape, non-serious flank pain by default."""
    row = {
        "id": id, "subject_id": subject_id, "site": subject_id.split("-")[0], "seq": seq,
        "term": "Flank pain", "meddra_code": "10016750", "soc": "Musculoskeletal and connective tissue disorders",
        "verbatim": "flank pain", "grade": 1, "serious": False, "seriousness": [],
        "relatedness_product": "unlikely", "relatedness_procedure": "possible", "related": True, "expected": True,
        "action_taken": "not_applicable", "other_action": "", "outcome": "recovered",
        "onset": "2026-01-11", "onset_time": None, "end_date": "2026-01-13", "onset_day": 2, "end_day": 4,
        "phase": "early", "treatment_emergent": True, "awareness_at": "2026-01-11T10:00:00+00:00",
        "report_due_at": None, "expedited_due_at": None, "susar": False, "status": "active", "version": 1,
        "description": "", "created_at": "2026-01-11T10:05:00+00:00", "created_by": "nurse_nina@example.org",
        "updated_at": "2026-01-11T10:05:00+00:00", "signed_off_at": None, "signed_off_by": None,
        "report_sent_at": None,
    }
    row.update(kw)
    return row


def sample_rows() -> list[dict]:
    """Nine AEs in four participants, covering the awkward cases every writer must survive."""
    return [
        ae(1, "S01-001", 1),
        ae(2, "S01-001", 2, term="Fever", meddra_code="10016558", soc="General disorders and administration site "
           "conditions", verbatim="Fièvre ≥ 38 °C", grade=2, onset="2026-01-10", onset_time="18:45", onset_day=1,
           end_date=None, end_day=None, outcome="recovering", relatedness_product="probable",
           relatedness_procedure="not_related", expected=None),
        ae(3, "S01-002", 1, term="Hematuria", meddra_code="10019450", soc="Renal and urinary disorders",
           verbatim="=HYPERLINK(\"http://evil\",\"x\")", grade=3, serious=True, seriousness=["hospitalization"],
           relatedness_product="possible", relatedness_procedure="definite", expected=False, susar=True,
           action_taken="not_applicable", other_action="@SUM(1+1) bladder irrigation", outcome="recovered",
           onset="2026-01-20", end_date="2026-01-25", onset_day=11, end_day=16, phase="late",
           report_due_at="2026-01-21T10:00:00+00:00", expedited_due_at="2026-02-04T10:00:00+00:00",
           signed_off_at="2026-01-20T15:00:00+00:00", signed_off_by="investigator_ivan@example.org"),
        ae(4, "S01-002", 2, term="Back pain", meddra_code="10003988", verbatim="-back pain after biopsy",
           grade=1, onset="2026-01-08", end_date="2026-01-09", onset_day=-2, end_day=-1, phase=None,
           treatment_emergent=False, relatedness_product="not_related", relatedness_procedure="not_related",
           related=False),
        ae(5, "S02-001", 1, term="Flank pain", verbatim=LONG_VERBATIM, grade=2, relatedness_product="not_related",
           relatedness_procedure="probable", phase="early", description="+ Tramadol started"),
        ae(6, "S02-001", 2, term="Flank pain", verbatim="flank pain again", grade=3, onset="2026-02-20",
           end_date=None, end_day=None, onset_day=42, phase="late", outcome="not_recovered",
           relatedness_product="not_related", relatedness_procedure="not_related", related=False,
           action_taken="unknown"),
        ae(7, "S02-002", 1, term="Sepsis", meddra_code="10040047", soc="Infections and infestations",
           verbatim="urosepsis", grade=5, serious=True, seriousness=["death", "hospitalization"],
           relatedness_product="unlikely", relatedness_procedure="unlikely", related=False, expected=False,
           outcome="fatal", onset="2026-02-01", end_date="2026-02-03", onset_day=23, end_day=25, phase="late"),
        ae(8, "S02-002", 2, term="Nausea", meddra_code="10028813", soc="Gastrointestinal disorders",
           verbatim="nausea", status="entered_in_error", version=2),
        ae(9, "S01-001", 3, term="Nausea", meddra_code="10028813", soc="Gastrointestinal disorders",
           verbatim="nausea", grade=2, onset="2026-01-10", onset_day=1, end_date="2026-01-10", end_day=1,
           relatedness_product="definite", relatedness_procedure="not_related", action_taken="dose_not_changed",
           outcome="recovered_with_sequelae"),
    ]


def participants() -> list[dict]:
    """Four injected participants and one still in screening (not in the safety population)."""
    def p(sid, injected):
        return {"subject_id": sid, "site": sid[:3], "sex": "F", "birth_date": "1965-04-01", "weight_kg": 70.0,
                "consent_on": "2025-12-01", "enrolled_on": "2025-12-15",
                "injection_at": "2026-01-10T08:00:00+00:00" if injected else None,
                "dose_cells": 70.0e6, "status": "active"}
    return [p("S01-001", True), p("S01-002", True), p("S02-001", True), p("S02-002", True), p("S02-003", False)]


def active(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["status"] == "active"]


def test_it_builds_sample_rows_in_the_agreed_shape():
    for row in sample_rows():
        assert tuple(row) == AE_KEYS


def test_it_lists_every_agreed_ae_key_as_a_listing_column():
    assert tuple(c.key for c in AE_COLUMNS) == AE_KEYS
