"""rules/cioms.toml: the fixed parts of the CIOMS I form (suspect product, sponsor); each site's country is in
rules/study.toml, the one place SDTM and CIOMS read it from.."""
from __future__ import annotations

from pathlib import Path

from ...rulefiles import StrictModel, load_toml


class Product(StrictModel):
    name: str
    dose: str
    route: str
    indication: str
    duration: str


class Sponsor(StrictModel):
    name: str
    address: list[str]


class CiomsRules(StrictModel):
    product: Product
    sponsor: Sponsor


def load_cioms_rules(path: Path) -> CiomsRules:
    """rules/cioms.toml; RulesError names the file, key and problem."""
    return load_toml(path, CiomsRules)
