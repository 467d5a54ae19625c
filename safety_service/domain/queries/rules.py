"""rules/queries.toml: which automatic data checks open a query to the site, and the question each one asks."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ...rulefiles import StrictModel, load_toml

CheckName = Literal["sae_without_seriousness", "recovered_without_end_date", "end_before_onset", "grade5_not_died"]


class AutoRule(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    check: CheckName
    text: str = Field(min_length=10, max_length=2000)
    enabled: bool = True


class QueryRules(StrictModel):
    auto: list[AutoRule] = []

    @model_validator(mode="after")
    def _unique(self):
        ids = [r.id for r in self.auto]
        if len(set(ids)) != len(ids):
            raise ValueError("auto rule ids repeat")
        return self


def load_query_rules(path: Path) -> QueryRules:
    """Load rules/queries.toml. Raises RulesError naming the file, key and problem."""
    return load_toml(path, QueryRules)
