"""The protocol's eligibility criteria as data (rules/eligibility.toml), validated at start-up.

Each criterion is a statement that is met or not: an inclusion must be met, an exclusion must not be. Lab
criteria are computed from the screening results, the age from the birth and consent dates, the rest answered by
the site with a source note. Raises RulesError (via load_toml) naming the file, key and problem.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ...rulefiles import StrictModel, load_toml
from ..units import ANALYTES

OPERATORS = {"<": Decimal.__lt__, "<=": Decimal.__le__, ">": Decimal.__gt__, ">=": Decimal.__ge__}


class Criterion(StrictModel):
    """One inclusion or exclusion criterion of the protocol."""

    id: str = Field(pattern=r"^(IN|EX)\d{2}$")
    kind: Literal["inclusion", "exclusion"]
    text: str = Field(min_length=3, max_length=200)
    check: Literal["answer", "age", "lab"]
    sex: Literal["F", "M"] | None = None
    # age
    min: int | None = None
    max: int | None = None
    # lab
    analytes: list[str] = []
    combine: Literal["all", "any"] = "all"
    range: tuple[float, float] | None = None
    ranges: dict[str, tuple[float, float]] = {}
    operator: Literal["<", "<=", ">", ">="] | None = None
    threshold: float | None = None
    uln_multiple: float | None = Field(default=None, gt=0)

    @field_validator("analytes")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = [a for a in v if a not in ANALYTES]
        if unknown:
            raise ValueError(f"unknown analyte {unknown[0]!r}; known: {', '.join(ANALYTES)}")
        return v

    @model_validator(mode="after")
    def _complete(self):
        if self.id[:2] != ("IN" if self.kind == "inclusion" else "EX"):
            raise ValueError(f"{self.id}: an {self.kind} criterion's id starts with {self.kind[:2].upper()}")
        if self.check == "age" and (self.min is None or self.max is None or self.min > self.max):
            raise ValueError(f"{self.id}: an age check needs min <= max")
        if self.check == "lab":
            if not self.analytes:
                raise ValueError(f"{self.id}: a lab check needs analytes")
            for a in self.analytes:
                ways = [self.bounds(a) is not None, self.operator is not None and self.threshold is not None,
                        self.operator is not None and self.uln_multiple is not None]
                if sum(ways) != 1:
                    raise ValueError(f"{self.id}: {a} needs exactly one of range, operator + threshold, "
                                     "operator + uln_multiple")
            if set(self.ranges) - set(self.analytes):
                raise ValueError(f"{self.id}: ranges names an analyte not in analytes")
        elif self.analytes or self.range or self.ranges or self.operator or self.threshold is not None:
            raise ValueError(f"{self.id}: only a lab check has analytes and limits")
        return self

    def bounds(self, analyte: str) -> tuple[float, float] | None:
        return self.ranges.get(analyte) or self.range

    def holds(self, analyte: str, value: float, uln: float | None) -> bool | None:
        """Whether one screening value makes the statement true; None when it needs a ULN the result lacks."""
        v = Decimal(repr(float(value)))
        bounds = self.bounds(analyte)
        if bounds is not None:  # inclusive: "eGFR 15-60" admits 15 and 60
            return Decimal(repr(bounds[0])) <= v <= Decimal(repr(bounds[1]))
        if self.uln_multiple is not None:
            if uln is None:
                return None
            return OPERATORS[self.operator](v, Decimal(repr(self.uln_multiple)) * Decimal(repr(float(uln))))
        return OPERATORS[self.operator](v, Decimal(repr(self.threshold)))

    def limit_text(self, analyte: str) -> str:
        bounds = self.bounds(analyte)
        if bounds is not None:
            return f"{bounds[0]:g}-{bounds[1]:g}"
        if self.uln_multiple is not None:
            return f"{self.operator} {self.uln_multiple:g} x ULN"
        return f"{self.operator} {self.threshold:g}"


class Criteria(StrictModel):
    """The protocol's criteria, in protocol order."""

    protocol: str
    version: str
    criteria: list[Criterion] = Field(min_length=1)

    @field_validator("criteria")
    @classmethod
    def _unique(cls, v: list[Criterion]) -> list[Criterion]:
        seen = set()
        for c in v:
            if c.id in seen:
                raise ValueError(f"criterion id {c.id!r} appears twice")
            seen.add(c.id)
        return v

    def get(self, criterion_id: str) -> Criterion | None:
        return next((c for c in self.criteria if c.id == criterion_id), None)


def load_criteria(path: Path) -> Criteria:
    """Read and validate rules/eligibility.toml. Raises RulesError naming the file, key and problem."""
    return load_toml(path, Criteria)
