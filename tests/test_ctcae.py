"""The CTCAE v5.0 catalogue: its content, look-up, search and the loader's refusals."""
from __future__ import annotations

from pathlib import Path

import pytest

from safety_service.domain.ctcae import Catalogue, load_catalogue
from safety_service.domain.errors import InvalidInput
from safety_service.rulefiles import RulesError

RULES = Path(__file__).resolve().parent.parent / "rules" / "ctcae.toml"


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue(RULES)


# Every term ../shared/DOMAIN.md names, plus the renal/metabolic ones the brief lists.
DOMAIN_TERMS = [
    "Creatinine increased", "Chronic kidney disease", "Alanine aminotransferase increased",
    "Aspartate aminotransferase increased", "Blood bilirubin increased", "Anemia", "Platelet count decreased",
    "White blood cell decreased", "Neutrophil count decreased", "Hyperkalemia", "Fever", "Hypertension",
    "Proteinuria", "Acute kidney injury", "Hematuria", "Urinary tract infection", "Kidney infection",
    "Renal hemorrhage", "Retroperitoneal hemorrhage", "Flank pain", "Back pain", "Abdominal pain",
    "Injection site reaction", "Infusion related reaction", "Allergic reaction", "Anaphylaxis",
    "Cytokine release syndrome", "Chills", "Fatigue", "Nausea", "Vomiting", "Diarrhea", "Headache", "Hypotension",
    "Thromboembolic event", "Sepsis", "Hyperglycemia", "Hypoglycemia", "Edema limbs", "Dyspnea",
    "Rash maculo-papular", "Pruritus", "Neoplasms benign, malignant and unspecified (incl cysts and polyps) - Other, specify",
    "Hypokalemia", "Hyponatremia", "Hypoalbuminemia", "Renal calculi", "Urinary retention",
]


def test_it_is_version_5_0_published_27_nov_2017(cat):
    assert cat.version == "5.0"
    assert cat.published == "2017-11-27"


@pytest.mark.parametrize("name", DOMAIN_TERMS)
def test_it_carries_every_term_the_domain_names(cat, name):
    term = cat.get(name)
    assert term is not None and term.term == name


# CTCAE v5.0 MedDRA LLT codes (cross-checked: MII ConceptMap of the CTCAE LLT codes; v5.0/v6.0 listings).
@pytest.mark.parametrize("name,code", [
    ("Hematuria", "10019450"), ("Acute kidney injury", "10069339"), ("Chronic kidney disease", "10064848"),
    ("Creatinine increased", "10011368"), ("Anemia", "10002272"), ("Fever", "10016558"),
    ("Diarrhea", "10012727"), ("Dyspnea", "10013963"), ("Anaphylaxis", "10002218"), ("Nausea", "10028813"),
    ("Urinary tract infection", "10046571"), ("Kidney infection", "10023424"), ("Renal hemorrhage", "10038463"),
    ("Retroperitoneal hemorrhage", "10038981"), ("Injection site reaction", "10022095"),
    ("Infusion related reaction", "10051792"), ("Cytokine release syndrome", "10052015"),
    ("Thromboembolic event", "10043565"), ("Hypoalbuminemia", "10020943"),
])
def test_it_records_the_ctcae_meddra_code(cat, name, code):
    assert cat.get(name).meddra_code == code


def test_it_finds_hematuria_by_name_llt_code_pt_code_in_any_case(cat):
    assert cat.get("hematuria").term == "Hematuria"
    assert cat.get("  HEMATURIA ").term == "Hematuria"
    assert cat.get("10019450").term == "Hematuria"
    assert cat.get("10018867").term == "Hematuria"  # MedDRA PT "Haematuria"
    assert cat.get("blood in urine") is None  # a synonym is for search, not an exact look-up
    assert cat.get("") is None and cat.get(None) is None


def test_it_keeps_the_published_grade_texts_with_a_dash_for_missing_grades(cat):
    hematuria = cat.get("Hematuria")
    assert hematuria.grade_text(2) == ("Symptomatic; urinary catheter or bladder irrigation indicated; "
                                       "limiting instrumental ADL")
    assert hematuria.grade_text(5) == "Death"
    aki = cat.get("Acute kidney injury")
    assert aki.allowed_grades == (3, 4, 5)
    assert aki.grade_text(1) is None
    assert cat.get("Creatinine increased").grade_text(3) == ">3.0 x baseline; >3.0 - 6.0 x ULN"
    assert cat.get("Fever").grade_text(1) == "38.0 - 39.0 degrees C (100.4 - 102.2 degrees F)"
    assert cat.get("Proteinuria").allowed_grades == (1, 2, 3)


def test_it_grades_death_only_as_grade_5_everywhere(cat):
    for t in cat.terms:
        assert t.grade5 in ("Death", "-"), t.term
        assert all(t.grade_text(g) != "Death" for g in (1, 2, 3, 4)), t.term


def test_it_lists_hyperglycemia_as_clinically_graded_in_v5(cat):
    text = " ".join(cat.get("Hyperglycemia").grade_text(g) or "" for g in range(1, 6))
    assert "mg/dL" not in text and "mmol/L" not in text


@pytest.mark.parametrize("name,grade", [("Nausea", 4), ("Nausea", 5), ("Acute kidney injury", 1),
                                        ("Anaphylaxis", 2), ("Fatigue", 5), ("Syncope", 1),
                                        ("Creatinine increased", 5)])
def test_it_refuses_a_grade_the_term_does_not_have_naming_the_field(cat, name, grade):
    with pytest.raises(InvalidInput) as e:
        cat.check_grade(cat.get(name), grade)
    assert set(e.value.fields) == {"grade"}
    assert f"grade {grade} does not exist for {name}" in e.value.fields["grade"]


@pytest.mark.parametrize("grade", [0, 6, -1, True, "2", 2.0, None])
def test_it_refuses_a_grade_that_is_not_1_to_5(cat, grade):
    with pytest.raises(InvalidInput) as e:
        cat.check_grade(cat.get("Hematuria"), grade, field="ae_grade")
    assert "ae_grade" in e.value.fields


def test_it_accepts_every_allowed_grade(cat):
    for t in cat.terms:
        for g in t.allowed_grades:
            assert cat.check_grade(t, g) == g


def test_it_requires_a_known_term_naming_the_field(cat):
    with pytest.raises(InvalidInput) as e:
        cat.require("Haematuria-ish", field="term")
    assert "not a CTCAE v5.0 term" in e.value.fields["term"]
    assert cat.require("10069339").term == "Acute kidney injury"


def test_it_puts_prefix_matches_first_when_the_nurse_types_hemat(cat):
    names = [t.term for t in cat.search("hemat")]
    assert names[:2] == ["Hematoma", "Hematuria"]


def test_it_searches_synonyms_and_words(cat):
    assert cat.search("blood in")[0].term == "Hematuria"
    assert cat.search("AKI")[0].term == "Acute kidney injury"
    assert cat.search("uti")[0].term == "Urinary tract infection"
    kidney = [t.term for t in cat.search("kidney")]
    assert kidney[0] == "Kidney infection"  # name prefix before word matches
    assert "Acute kidney injury" in kidney and "Chronic kidney disease" in kidney
    # a synonym that starts with the text ("kidney stone") is a prefix match: before a word inside a name
    assert kidney.index("Renal calculi") < kidney.index("Acute kidney injury")


def test_it_searches_by_code_and_code_prefix(cat):
    assert [t.term for t in cat.search("10019450")] == ["Hematuria"]
    assert [t.term for t in cat.search("10018867")] == ["Hematuria"]
    assert all(any(c.startswith("100193") for c in t.codes) for t in cat.search("100193"))


def test_it_returns_nothing_for_a_blank_query_and_honours_the_limit(cat):
    assert cat.search("") == [] and cat.search("   ") == [] and cat.search(None) == []
    assert len(cat.search("e", limit=5)) == 5
    assert cat.search("zzzz-no-such") == []


def test_it_gives_the_api_shape_with_version_and_missing_grades_as_null(cat):
    d = cat.get("Acute kidney injury").to_dict(cat.version)
    assert d["grades"] == {"1": None, "2": None, "3": "Hospitalization indicated",
                           "4": "Life-threatening consequences; dialysis indicated", "5": "Death"}
    assert d["allowed_grades"] == [3, 4, 5] and d["ctcae_version"] == "5.0"
    assert d["soc"] == "Renal and urinary disorders" and d["meddra_code"] == "10069339"


# ------------------------------------------------------------------------------------------- the loader refuses

GOOD_TERM = '''
[[terms]]
term = "{term}"
soc = "Renal and urinary disorders"
meddra_code = "{code}"
definition = "A disorder."
grade1 = "{g1}"
grade2 = "Moderate"
grade3 = "Severe"
grade4 = "Life-threatening consequences"
grade5 = "{g5}"
synonyms = [{syn}]
'''
HEADER = 'version = "5.0"\npublished = "2017-11-27"\nsource = "test"\n'


def _write(tmp_path, *terms: str, header: str = HEADER) -> Path:
    path = tmp_path / "ctcae.toml"
    path.write_text(header + "".join(terms), encoding="utf-8")
    return path


def _term(term="Hematuria", code="10019450", g1="Mild", g5="Death", syn=""):
    return GOOD_TERM.format(term=term, code=code, g1=g1, g5=g5, syn=syn)


def test_it_loads_a_small_valid_file(tmp_path):
    cat = load_catalogue(_write(tmp_path, _term(), _term("Proteinuria", "10037032", syn='"protein in urine"')))
    assert [t.term for t in cat.terms] == ["Hematuria", "Proteinuria"]


@pytest.mark.parametrize("terms,problem", [
    ([_term(), _term("HEMATURIA", "10037032")], "duplicate term"),
    ([_term(), _term("Proteinuria", "10019450")], "duplicate MedDRA code 10019450"),
    ([_term(), _term("Proteinuria", "10037032", syn='"hematuria"')], "is the name of another term"),
    ([_term(code="1001945")], "meddra_code"),
    ([_term(g5="Fatal")], "grade 5"),
    ([_term(g1="")], "grade1"),
    ([_term(g1=" Mild")], "spaces"),
    ([_term(syn='"a", "A"')], "repeated synonym"),
])
def test_it_refuses_a_malformed_catalogue(tmp_path, terms, problem):
    with pytest.raises(RulesError) as e:
        load_catalogue(_write(tmp_path, *terms))
    assert problem in str(e.value)


def test_it_refuses_a_term_with_no_grade_at_all(tmp_path):
    text = _term().replace('"Mild"', '"-"').replace('"Moderate"', '"-"').replace('"Severe"', '"-"')
    text = text.replace('"Life-threatening consequences"', '"-"').replace('grade5 = "Death"', 'grade5 = "-"')
    with pytest.raises(RulesError) as e:
        load_catalogue(_write(tmp_path, text))
    assert "no grade defined" in str(e.value)


def test_it_refuses_a_missing_grade_naming_the_key(tmp_path):
    with pytest.raises(RulesError) as e:
        load_catalogue(_write(tmp_path, _term().replace('grade4 = "Life-threatening consequences"\n', "")))
    assert "terms.0.grade4" in str(e.value)


def test_it_refuses_a_misspelt_key_rather_than_ignoring_it(tmp_path):
    with pytest.raises(RulesError) as e:
        load_catalogue(_write(tmp_path, _term().replace("grade3 =", "grade_3 =")))
    assert "grade_3" in str(e.value) or "grade3" in str(e.value)


def test_it_refuses_an_unknown_system_organ_class(tmp_path):
    with pytest.raises(RulesError) as e:
        load_catalogue(_write(tmp_path, _term().replace("Renal and urinary disorders", "Kidney stuff")))
    assert "terms.0.soc" in str(e.value)


def test_it_refuses_a_missing_file_and_bad_syntax(tmp_path):
    with pytest.raises(RulesError):
        load_catalogue(tmp_path / "absent.toml")
    with pytest.raises(RulesError) as e:
        load_catalogue(_write(tmp_path, "[[terms]\n"))
    assert "(syntax)" in str(e.value)
