"""rules/notifications.toml: who is told of which alert, whether at once or in the digest, and delivery limits.

Routing is data so the study team can change who is told without a release; the first matching route decides.
"""
from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from sqlite_utils import Database

from ..db import row, rows
from ..domain.permissions import SITE_BOUND
from ..rulefiles import StrictModel, load_toml

Role = Literal["nurse", "investigator", "safety_officer", "auditor", "admin"]
Severity = Literal["low", "medium", "high", "critical"]
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class Route(StrictModel):
    kinds: list[str] = Field(min_length=1)
    min_severity: Severity | None = None
    min_grade: int | None = Field(default=None, ge=1, le=5)
    roles: list[Role] = Field(min_length=1)
    immediate: bool = False

    def matches(self, alert: dict, grade: int | None) -> bool:
        """True if this route covers the alert; ``grade`` is the CTCAE grade of the AE it refers to, if any."""
        if "*" not in self.kinds and alert["kind"] not in self.kinds:
            return False
        if self.min_severity and SEVERITY_RANK[alert["severity"]] < SEVERITY_RANK[self.min_severity]:
            return False
        if self.min_grade is not None and (grade is None or grade < self.min_grade):
            return False
        return True


class Checks(StrictModel):
    sae_report_warning_hours: float = Field(default=6, gt=0, le=24)


class QueryNotices(StrictModel):
    """[queries]: a query waiting for the site's answer more than ``overdue_days`` days alerts the site."""
    overdue_days: int = Field(default=7, ge=1, le=365)


class Delivery(StrictModel):
    max_attempts: int = Field(default=8, ge=1, le=50)
    backoff_first_seconds: int = Field(default=60, gt=0)
    backoff_max_seconds: int = Field(default=3600, gt=0)
    claim_timeout_seconds: int = Field(default=600, gt=0)
    batch_size: int = Field(default=100, ge=1)

    @model_validator(mode="after")
    def _ordered(self):
        if self.backoff_max_seconds < self.backoff_first_seconds:
            raise ValueError("backoff_max_seconds is below backoff_first_seconds")
        return self

    def backoff_seconds(self, attempts: int) -> int:
        """Wait after the ``attempts``-th failed attempt: first, 2 x first, 4 x first ... capped at the max."""
        return min(self.backoff_first_seconds * 2 ** max(attempts - 1, 0), self.backoff_max_seconds)


class Notifications(StrictModel):
    routes: list[Route] = Field(min_length=1)
    digest: dict[Role, str] = {}
    checks: Checks = Checks()
    queries: QueryNotices = QueryNotices()
    delivery: Delivery = Delivery()

    @field_validator("digest")
    @classmethod
    def _times(cls, v: dict[str, str]) -> dict[str, str]:
        for role, text in v.items():
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
                raise ValueError(f"{role}: {text!r} is not a time HH:MM (24 h)")
        return v

    def route_for(self, alert: dict, grade: int | None = None) -> Route | None:
        return next((r for r in self.routes if r.matches(alert, grade)), None)

    def digest_time(self, role: str) -> time | None:
        text = self.digest.get(role)
        return time.fromisoformat(text) if text else None


def load_notifications(path: Path) -> Notifications:
    """Load rules/notifications.toml. Raises RulesError naming the file, key and problem."""
    return load_toml(path, Notifications)


def alert_grade(db: Database, alert: dict) -> int | None:
    """The CTCAE grade of the adverse event an alert refers to, or None (not about an AE, or no AE table)."""
    if alert.get("ref_entity") not in ("ae", "adverse_event") or alert.get("ref_id") is None:
        return None
    if not db["adverse_events"].exists():
        return None
    found = row(db, "SELECT grade FROM adverse_events WHERE id = ?", (alert["ref_id"],))
    return found["grade"] if found else None


def recipients(db: Database, roles: list[str], site: str | None) -> list[dict]:
    """Active users with one of ``roles`` who may see an alert of ``site``, by e-mail.

    Site-bound roles (nurse, investigator) are told only of their own site's alerts, the ones their inbox shows.
    """
    found = []
    placeholders = ",".join("?" for _ in roles)
    for u in rows(db, f"SELECT id, email, name, role, site FROM users WHERE active = 1 AND role IN ({placeholders})"
                      " ORDER BY email", list(roles)):
        if u["role"] in SITE_BOUND and (site is None or u["site"] != site):
            continue
        found.append(u)
    return found
