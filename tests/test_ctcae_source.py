"""rules/ctcae.toml against NCI CTCAE v5.0 itself (issue 13): every term, code, SOC, grade and definition.

The source is the vendored copy of the NCI workbook, tests/data/ctcae_v5.json (see tests/data/README.md); the
catalogue's only deliberate differences are listed, each with its reason, in tests/data/ctcae_differences.toml.
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from safety_service.domain.ctcae import load_catalogue
from safety_service.domain.errors import InvalidInput

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
CATALOGUE = load_catalogue(ROOT / "rules" / "ctcae.toml")
SOURCE = {t["term"].casefold(): t for t in json.loads((DATA / "ctcae_v5.json").read_text(encoding="utf-8"))}
DIFFERENCES = tomllib.loads((DATA / "ctcae_differences.toml").read_text(encoding="utf-8"))["differences"]
FIELDS = ("soc", "definition", "grade1", "grade2", "grade3", "grade4", "grade5")


def source_value(entry: dict, field: str) -> str:
    if field.startswith("grade"):
        return entry["grades"][field[-1]]
    return entry[field]


def adult_paragraph(text: str) -> str:
    """The "Adult:" paragraph of a CTCAE grade text that also has pediatric paragraphs, without its joining ";"."""
    return text.replace("\r\n", "\n").split("\n\n")[0].strip().rstrip(";").rstrip()


def differences(terms) -> list[tuple[str, str, str]]:
    """(term, field, what differs) for every difference between ``terms`` and the source: name, code, SOC, grades,
    definition."""
    found = []
    for t in terms:
        src = SOURCE.get(t.term.casefold())
        if src is None:
            found.append((t.term, "term", "not a CTCAE v5.0 term"))
            continue
        if src["term"] != t.term:
            found.append((t.term, "term", f"CTCAE v5.0 spells it {src['term']!r}"))
        if str(src["meddra_code"]) != t.meddra_code:
            found.append((t.term, "meddra_code", f"{t.meddra_code}, CTCAE v5.0 has {src['meddra_code']}"))
        for field in FIELDS:
            ours, theirs = getattr(t, field), source_value(src, field)
            if ours != theirs:
                found.append((t.term, field, f"{ours!r} != CTCAE v5.0 {theirs!r}"))
    return found


DELIBERATE = {(d["term"], d["field"]) for d in DIFFERENCES}


def test_it_vendors_all_837_terms_of_ctcae_v5():
    assert len(SOURCE) == 837


def test_it_differs_from_ctcae_v5_only_where_the_differences_file_says_why():
    unexplained = [f"{term}: {field} {what}" for term, field, what in differences(CATALOGUE.terms)
                   if (term, field) not in DELIBERATE]
    assert unexplained == [], "\n".join(unexplained)


def test_it_lists_each_deliberate_difference_once_with_a_reason():
    assert len(DELIBERATE) == len(DIFFERENCES)
    for d in DIFFERENCES:
        assert set(d) == {"term", "field", "kind", "catalogue", "reason"}
        assert d["field"] in FIELDS and len(d["reason"]) > 20


@pytest.mark.parametrize("d", DIFFERENCES, ids=lambda d: f"{d['term']}-{d['field']}")
def test_it_keeps_each_deliberate_difference_exactly_as_listed(d):
    term = CATALOGUE.get(d["term"])
    src = source_value(SOURCE[d["term"].casefold()], d["field"])
    assert getattr(term, d["field"]) == d["catalogue"]
    assert d["catalogue"] != src, "no longer a difference: remove the entry"
    assert d["kind"] == "adult_only"
    # The adult criteria are the source's own words, verbatim: only the pediatric paragraphs are left out.
    assert d["catalogue"] == adult_paragraph(src) and d["catalogue"].startswith("Adult: ")
    assert "Pediatric" in src or "Children" in src or "Adolescent" in src


def test_it_names_every_difference_it_finds():
    # The comparison must be able to fail: each kind of drift is reported by term and field.
    malaise = CATALOGUE.get("Malaise")
    drifted = [
        malaise.model_copy(update={"grade3": "-", "soc": "Investigations", "meddra_code": "10000001"}),
        malaise.model_copy(update={"term": "Malaise NOS"}),
        CATALOGUE.get("Chills").model_copy(update={"definition": "A sensation of coldness."}),
    ]
    assert [(t, f) for t, f, _ in differences(drifted)] == [
        ("Malaise", "meddra_code"), ("Malaise", "soc"), ("Malaise", "grade3"), ("Malaise NOS", "term"),
        ("Chills", "definition")]


# --- the errors issue 13 found, each pinned to its CTCAE v5.0 text --------------------------------------------

def grade_text(term: str, grade: int) -> str | None:
    return CATALOGUE.get(term).grade_text(grade)


def test_it_accepts_kidney_infection_grade_2_treated_orally():
    # CTCAE v5.0 Kidney infection grade 2 (v5.0 change: "Addition: Grade 2"): a pyelonephritis treated with oral
    # antibiotics after the intra-renal injection must be recordable.
    t = CATALOGUE.get("Kidney infection")
    assert CATALOGUE.check_grade(t, 2) == 2
    assert grade_text("Kidney infection", 2) == "Oral intervention indicated (e.g., antibiotic, antifungal, or antiviral)"
    with pytest.raises(InvalidInput):
        CATALOGUE.check_grade(t, 1)  # CTCAE v5.0 Kidney infection grade 1: "-"


def test_it_accepts_malaise_grade_3():
    # CTCAE v5.0 Malaise grade 3 (v5.0 change: "Addition: Grade 3").
    assert CATALOGUE.check_grade(CATALOGUE.get("Malaise"), 3) == 3
    assert grade_text("Malaise", 3) == "Uneasiness or lack of well being limiting self-care ADL"


def test_it_words_urinary_tract_infection_grade_2_as_oral_intervention():
    # CTCAE v5.0 Urinary tract infection grade 2.
    assert grade_text("Urinary tract infection", 2) == (
        "Localized; oral intervention indicated (e.g., antibiotic, antifungal, or antiviral)")


@pytest.mark.parametrize("term", ["Renal hemorrhage", "Retroperitoneal hemorrhage"])
def test_it_words_renal_and_retroperitoneal_hemorrhage_grades_3_and_4_as_v5(term):
    # CTCAE v5.0 Renal hemorrhage / Retroperitoneal hemorrhage grades 3-4 (v5.0 clarifications).
    assert grade_text(term, 3) == "Transfusion indicated; invasive intervention indicated; hospitalization"
    assert grade_text(term, 4) == "Life-threatening consequences; urgent intervention indicated"


def test_it_files_urine_output_decreased_under_investigations():
    # CTCAE v5.0 Urine output decreased: SOC Investigations, a finding based on test results.
    t = CATALOGUE.get("Urine output decreased")
    assert t.soc == "Investigations"
    assert t.definition == "A finding based on test results that indicate urine production is less relative to previous output."


def test_it_defines_chills_and_acute_kidney_injury_as_v5():
    # CTCAE v5.0 Chills and Acute kidney injury definitions ("within 2 weeks").
    assert CATALOGUE.get("Chills").definition == (
        "A disorder characterized by a sensation of cold that often marks a physiologic response to sweating after a fever.")
    assert "acute loss of renal function (within 2 weeks)" in CATALOGUE.get("Acute kidney injury").definition


def test_it_words_hyperglycemia_grade_2_for_a_diabetic():
    # CTCAE v5.0 Hyperglycemia grade 2: the participants are all diabetic, so "from baseline for a diabetic" matters.
    assert grade_text("Hyperglycemia", 2) == (
        "Change in daily management from baseline for a diabetic; oral antiglycemic agent initiated; workup for diabetes")


def test_it_words_urinary_tract_obstruction_grade_1_with_intervention_not_indicated():
    # CTCAE v5.0 Urinary tract obstruction grade 1.
    assert grade_text("Urinary tract obstruction", 1) == (
        "Asymptomatic; clinical or diagnostic observations only; intervention not indicated")


@pytest.mark.parametrize("term", [t.term for t in CATALOGUE.terms if t.term.endswith("- Other, specify")])
def test_it_words_other_specify_grade_3_without_disabling(term):
    # CTCAE v5.0 "<SOC> - Other, specify" grade 3 (v5.0 change "Clarification: Grade 3": "disabling" removed).
    assert grade_text(term, 3) == ("Severe or medically significant but not immediately life-threatening; "
                                   "hospitalization or prolongation of existing hospitalization indicated; "
                                   "limiting self care ADL")
