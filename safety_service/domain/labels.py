"""What people read for a stored code ("Not related", not "not_related"): one table for pages, forms and listings.

SDTM, ODM and FHIR keep their own controlled terms; this is only for human readers.
"""
from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "relatedness": {"not_related": "Not related", "unlikely": "Unlikely related", "possible": "Possibly related",
                    "probable": "Probably related", "definite": "Definitely related"},
    "action_taken": {"not_applicable": "Not applicable", "dose_not_changed": "Dose not changed",
                     "drug_withdrawn": "Drug withdrawn", "drug_interrupted": "Drug interrupted", "unknown": "Unknown"},
    "outcome": {"recovered": "Recovered/resolved", "recovering": "Recovering/resolving",
                "not_recovered": "Not recovered/not resolved",
                "recovered_with_sequelae": "Recovered/resolved with sequelae", "fatal": "Fatal", "unknown": "Unknown"},
    "seriousness": {"death": "Results in death", "life_threatening": "Life-threatening",
                    "hospitalization": "Hospitalization (initial or prolonged)",
                    "disability": "Persistent or significant disability/incapacity",
                    "congenital_anomaly": "Congenital anomaly/birth defect",
                    "important_medical_event": "Other important medical event"},
    "phase": {"early": "Early", "late": "Late"},
    "status": {"active": "Active", "entered_in_error": "Entered in error", "valid": "Valid"},
    "participant_status": {"active": "Active", "withdrawn": "Withdrawn (consent withdrawn)",
                           "lost_to_follow_up": "Lost to follow-up", "died": "Died", "completed": "Completed"},
    "sex": {"F": "Female", "M": "Male"},
    # con-med routes (domain/history/conmeds.ROUTES holds their CDISC ROUTE submission values)
    "route": {"oral": "Oral", "intravenous": "Intravenous", "subcutaneous": "Subcutaneous",
              "intramuscular": "Intramuscular", "topical": "Topical", "transdermal": "Transdermal",
              "inhalation": "Inhalation", "sublingual": "Sublingual", "rectal": "Rectal", "nasal": "Nasal",
              "ophthalmic": "Ophthalmic"},
}
# The same vocabulary under the field names the AE record uses.
FIELD_VOCABULARY = {"relatedness_product": "relatedness", "relatedness_procedure": "relatedness"}


def label(field: str, code) -> str:
    """The label for a code of a field; an unknown code is shown as it is, never hidden."""
    if code is None or code == "":
        return ""
    if isinstance(code, bool):
        return "Yes" if code else "No"
    table = LABELS.get(FIELD_VOCABULARY.get(field, field), {})
    return table.get(code, str(code))


def choices(field: str) -> list[tuple[str, str]]:
    """(code, label) pairs in the vocabulary's order, for select boxes and radio groups."""
    return list(LABELS[FIELD_VOCABULARY.get(field, field)].items())
