"""The rules guard: re-validate the rules folder while the service runs and raise an alert when it is broken.

Why: the rules are read once at start-up and the running service keeps the last good set in force; a rules
file edited into a broken state would only fail at the next restart (a night, a deploy) and stop the service
then. Validating the folder every few minutes tells the safety officer now, while the old rules still run.
A valid file that differs from the one running raises a lower alert: the change takes effect at restart.
Alerts have natural keys with the file's digest, so each broken version is raised once.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from sqlite_utils import Database

from ..domain import alerts
from ..rulebook import RULE_FILES, load_rulebook
from ..rulefiles import RulesError
from .scheduler import JOBS, Job

KIND = "rules_file"


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def check_rules_folder(db: Database, rulebook, config: dict, now: datetime) -> int:
    """Validate every rules file on disk against the running rulebook; returns the alerts raised now.

    Never raises for a bad rules file (that is what it reports); the running ``rulebook`` is not touched.
    """
    rules_dir = Path(rulebook.rules_dir)
    try:
        on_disk = load_rulebook(rules_dir)
    except RulesError as e:
        name = Path(e.path).name
        alert = alerts.raise_alert(
            db, key=f"rules_invalid:{name}:{_digest(rules_dir / name)[:16]}", kind=KIND, severity="high", now=now,
            rule=name, ref_entity="rules_file", ref_id=name,
            message=(f"Rules file {name} is broken on disk ({e.key}: {e.problem}). The service keeps running with "
                     f"the last good rules; fix the file before the next restart, which would refuse to start."))
        return int(alert is not None)
    raised = 0
    for filename, _loader in RULE_FILES.values():
        running, disk = rulebook.digests.get(filename), on_disk.digests.get(filename)
        if running != disk:
            alert = alerts.raise_alert(
                db, key=f"rules_changed:{filename}:{(disk or 'missing')[:16]}", kind=KIND, severity="low", now=now,
                rule=filename, ref_entity="rules_file", ref_id=filename,
                message=(f"Rules file {filename} was changed on disk and is valid; the running service still uses "
                         f"the version it started with. Restart to apply it (the change is audited at start)."))
            raised += alert is not None
    return raised


JOBS.append(Job("rules_guard", check_rules_folder, "interval", {"minutes": 5}))
