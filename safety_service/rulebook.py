"""All of the study's rules files, loaded and validated together at start-up.

Each entry names the attribute, the file under the rules folder and its loader (which raises RulesError
naming the file, key and problem). A file added here is checked on every start.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable

from .domain.corrections.plausibility import load_plausibility
from .domain.ctcae import load_catalogue
from .domain.eligibility.criteria import load_criteria
from .domain.lab_rules import load_rules as load_lab_rules
from .domain.queries.rules import load_query_rules
from .domain.sae.cioms_rules import load_cioms_rules
from .domain.stopping import load_safety_rules
from .domain.study import load_study
from .mail.routing import load_notifications

# attribute -> (file name, loader(path))
RULE_FILES: dict[str, tuple[str, Callable[[Path], Any]]] = {
    "study": ("study.toml", load_study),
    "stopping": ("stopping.toml", load_safety_rules),
    "lab_rules": ("safety_rules.toml", load_lab_rules),
    "plausibility": ("plausibility.toml", load_plausibility),  # lab delta and plausibility checks (issue 12)
    "notifications": ("notifications.toml", load_notifications),
    "ctcae": ("ctcae.toml", load_catalogue),
    "eligibility": ("eligibility.toml", load_criteria),  # protocol inclusion/exclusion criteria (issue 13)
    "queries": ("queries.toml", load_query_rules),
    "cioms": ("cioms.toml", load_cioms_rules),  # the CIOMS I form's product, sponsor and countries (issue 14)
}


class Rulebook:
    """The loaded rules; attributes as named in RULE_FILES (``rulebook.study`` ...)."""

    def __init__(self, rules_dir: Path, loaded: dict[str, Any], digests: dict[str, str]):
        self.rules_dir = rules_dir
        self.digests = digests
        for name, value in loaded.items():
            setattr(self, name, value)


def load_rulebook(rules_dir: str | Path) -> Rulebook:
    """Load every rules file. Raises RulesError on the first bad one."""
    rules_dir = Path(rules_dir)
    loaded, digests = {}, {}
    for attr, (filename, loader) in RULE_FILES.items():
        path = rules_dir / filename
        loaded[attr] = loader(path)
        digests[filename] = hashlib.sha256(path.read_bytes()).hexdigest()
    return Rulebook(rules_dir, loaded, digests)


def record_rule_changes(db, rulebook: Rulebook, now) -> list[str]:
    """Audit each rules file whose content differs from the last version the service ran with.

    A threshold edited in a rules file changes what the service raises, so the change must be traceable.
    """
    from .domain import audit

    changed = []
    for filename, digest in sorted(rulebook.digests.items()):
        last = db.execute("SELECT new_value FROM audit_log WHERE entity = 'rules_file' AND entity_id = ? "
                          "ORDER BY id DESC LIMIT 1", [filename]).fetchone()
        old = last[0] if last else None
        if old != digest:
            audit.record(db, actor="system", action="rules_loaded" if old is None else "rules_changed",
                         entity="rules_file", entity_id=filename, at=now,
                         changes={"sha256": (old, digest)}, reason="rules file read at start-up")
            changed.append(filename)
    return changed
