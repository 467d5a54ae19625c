"""The CTCAE v5.0 catalogue (rules/ctcae.toml): terms, their MedDRA codes and the grades each term allows.

A grade the catalogue marks "-" does not exist for that term (CTCAE v5.0, "Grades": "Not all Grades are
appropriate for all AEs"), so it is refused with an error naming the field rather than stored.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from ..rulefiles import StrictModel, load_toml
from .errors import InvalidInput

ABSENT = "-"  # CTCAE v5.0: "A single dash (-) indicates a Grade is not available."
GRADES = (1, 2, 3, 4, 5)

# The 27 MedDRA system organ classes CTCAE v5.0 groups its terms by (MedDRA v20.1).
MEDDRA_SOCS = frozenset({
    "Blood and lymphatic system disorders", "Cardiac disorders", "Congenital, familial and genetic disorders",
    "Ear and labyrinth disorders", "Endocrine disorders", "Eye disorders", "Gastrointestinal disorders",
    "General disorders and administration site conditions", "Hepatobiliary disorders", "Immune system disorders",
    "Infections and infestations", "Injury, poisoning and procedural complications", "Investigations",
    "Metabolism and nutrition disorders", "Musculoskeletal and connective tissue disorders",
    "Neoplasms benign, malignant and unspecified (incl cysts and polyps)", "Nervous system disorders",
    "Pregnancy, puerperium and perinatal conditions", "Psychiatric disorders", "Renal and urinary disorders",
    "Reproductive system and breast disorders", "Respiratory, thoracic and mediastinal disorders",
    "Skin and subcutaneous tissue disorders", "Social circumstances", "Surgical and medical procedures",
    "Vascular disorders", "Product issues",
})

_MEDDRA_CODE = r"^1\d{7}$"  # MedDRA codes are 8 digits starting with 1


class Term(StrictModel):
    """One CTCAE term: grade texts 1-5 exactly as published, "-" where the grade does not exist."""

    term: str = Field(min_length=2, max_length=200)
    soc: str
    meddra_code: str = Field(pattern=_MEDDRA_CODE)
    meddra_pt_code: str | None = Field(default=None, pattern=_MEDDRA_CODE)
    definition: str = Field(min_length=1)
    grade1: str = Field(min_length=1)
    grade2: str = Field(min_length=1)
    grade3: str = Field(min_length=1)
    grade4: str = Field(min_length=1)
    grade5: str = Field(min_length=1)
    synonyms: list[str] = []
    note: str | None = None

    @field_validator("soc")
    @classmethod
    def _known_soc(cls, v: str) -> str:
        if v not in MEDDRA_SOCS:
            raise ValueError(f"{v!r} is not a MedDRA system organ class")
        return v

    @field_validator("grade1", "grade2", "grade3", "grade4", "grade5", "definition")
    @classmethod
    def _trimmed(cls, v: str) -> str:
        if v != v.strip():
            raise ValueError("leading or trailing spaces")
        return v

    @field_validator("grade5")
    @classmethod
    def _grade5_is_death(cls, v: str) -> str:
        # CTCAE v5.0: "Grade 5 Death related to AE" - the only text grade 5 ever has.
        if v not in ("Death", ABSENT):
            raise ValueError('grade 5 must be "Death" or "-"')
        return v

    @field_validator("synonyms")
    @classmethod
    def _clean_synonyms(cls, v: list[str]) -> list[str]:
        if any(not s.strip() for s in v):
            raise ValueError("empty synonym")
        if len({s.casefold() for s in v}) != len(v):
            raise ValueError("repeated synonym")
        return v

    @model_validator(mode="after")
    def _some_grade(self):
        if not self.allowed_grades:
            raise ValueError(f"{self.term}: no grade defined (all five are '-')")
        if self.meddra_pt_code == self.meddra_code:
            raise ValueError(f"{self.term}: meddra_pt_code repeats meddra_code")
        return self

    def grade_text(self, grade: int) -> str | None:
        """The published text of a grade, or None where CTCAE has "-"."""
        text = getattr(self, f"grade{grade}")
        return None if text == ABSENT else text

    @property
    def allowed_grades(self) -> tuple[int, ...]:
        return tuple(g for g in GRADES if getattr(self, f"grade{g}") != ABSENT)

    @property
    def codes(self) -> tuple[str, ...]:
        return (self.meddra_code,) + ((self.meddra_pt_code,) if self.meddra_pt_code else ())

    def to_dict(self, version: str) -> dict:
        """The API and form shape: grades keyed "1".."5" with None where the grade does not exist."""
        return {
            "term": self.term, "soc": self.soc, "meddra_code": self.meddra_code,
            "meddra_pt_code": self.meddra_pt_code, "definition": None if self.definition == ABSENT else self.definition,
            "grades": {str(g): self.grade_text(g) for g in GRADES},
            "allowed_grades": list(self.allowed_grades), "synonyms": list(self.synonyms),
            "note": self.note, "ctcae_version": version,
        }


class Catalogue(StrictModel):
    """The loaded catalogue. Look terms up with ``get``; find them as the nurse types with ``search``."""

    version: str = Field(pattern=r"^\d+\.\d+$")
    published: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    source: str
    terms: list[Term] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self):
        # A term name, a code or a synonym must lead to one term only, or a search could record the wrong event.
        names: dict[str, str] = {}
        codes: dict[str, str] = {}
        for t in self.terms:
            if t.term.casefold() in names:
                raise ValueError(f"duplicate term {t.term!r}")
            names[t.term.casefold()] = t.term
            for c in t.codes:
                if c in codes:
                    raise ValueError(f"duplicate MedDRA code {c}: {codes[c]!r} and {t.term!r}")
                codes[c] = t.term
        for t in self.terms:
            for s in t.synonyms:
                other = names.get(s.casefold())
                if other and other != t.term:
                    raise ValueError(f"synonym {s!r} of {t.term!r} is the name of another term")
        return self

    @cached_property
    def _index(self) -> dict[str, Term]:
        index: dict[str, Term] = {}
        for t in self.terms:
            index[t.term.casefold()] = t
            for c in t.codes:
                index[c] = t
        return index

    @cached_property
    def _search_keys(self) -> list["_Keys"]:
        return [_Keys.of(t) for t in self.terms]

    def get(self, term_or_code: str | None) -> Term | None:
        """The term by its exact name (any case) or one of its MedDRA codes; None if the catalogue lacks it."""
        if not term_or_code or not isinstance(term_or_code, str):
            return None
        return self._index.get(term_or_code.strip().casefold())

    def require(self, term_or_code: str | None, field: str = "term") -> Term:
        """Like ``get`` but raises InvalidInput naming ``field`` when the term is not in the catalogue."""
        found = self.get(term_or_code)
        if found is None:
            raise InvalidInput({field: self.unknown_term_message(term_or_code)})
        return found

    def unknown_term_message(self, term_or_code) -> str:
        if not term_or_code or not str(term_or_code).strip():
            return "required: a CTCAE term or its MedDRA code"
        return f"{str(term_or_code).strip()!r} is not a CTCAE v{self.version} term or MedDRA code in the catalogue"

    def grade_error(self, term: Term, grade) -> str | None:
        """Why ``grade`` cannot be recorded for ``term`` (None if it can): not 1-5, or "-" in CTCAE v5.0."""
        if isinstance(grade, bool) or not isinstance(grade, int) or grade not in GRADES:
            return "must be a whole number from 1 to 5"
        if grade not in term.allowed_grades:
            allowed = ", ".join(str(g) for g in term.allowed_grades)
            return (f"grade {grade} does not exist for {term.term} in CTCAE v{self.version} "
                    f"(allowed: {allowed})")
        return None

    def check_grade(self, term: Term, grade, field: str = "grade") -> int:
        """Return ``grade`` if the term allows it; raises InvalidInput naming ``field`` otherwise."""
        error = self.grade_error(term, grade)
        if error:
            raise InvalidInput({field: error})
        return grade

    def search(self, q: str | None, limit: int = 20) -> list[Term]:
        """Terms matching ``q`` by name, synonym or code, case-insensitive; prefix matches come first.

        Ranks: name starts with q; a code starts with q; a synonym starts with q; a word of the name starts with
        q; a word of a synonym starts with q; q appears anywhere. Ties are alphabetical by name.
        """
        q = (q or "").strip().casefold()
        if not q:
            return []
        ranked: list[tuple[int, str, Term]] = []
        for keys in self._search_keys:
            rank = _rank(keys, q)
            if rank is not None:
                ranked.append((rank, keys.name, keys.term))
        ranked.sort(key=lambda r: (r[0], r[1]))
        return [t for _, _, t in ranked[:max(0, limit)]]


_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class _Keys:
    """A term's search keys, folded once at load: a search runs on every keystroke."""

    term: Term
    name: str
    codes: tuple[str, ...]
    synonyms: tuple[str, ...]
    name_words: tuple[str, ...]
    synonym_words: tuple[str, ...]

    @classmethod
    def of(cls, t: Term) -> "_Keys":
        name, syns = t.term.casefold(), tuple(s.casefold() for s in t.synonyms)
        return cls(t, name, t.codes, syns, tuple(_WORD.findall(name)),
                   tuple(w for s in syns for w in _WORD.findall(s)))


def _rank(k: _Keys, q: str) -> int | None:
    if k.name.startswith(q):
        return 0
    if any(c.startswith(q) for c in k.codes):
        return 1
    if any(s.startswith(q) for s in k.synonyms):
        return 2
    if any(w.startswith(q) for w in k.name_words):
        return 3
    if any(w.startswith(q) for w in k.synonym_words):
        return 4
    if q in k.name or any(q in s for s in k.synonyms):
        return 5
    return None


def load_catalogue(path: Path) -> Catalogue:
    """Read and validate rules/ctcae.toml. Raises RulesError naming the file, key and problem."""
    return load_toml(path, Catalogue)
