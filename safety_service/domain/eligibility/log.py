"""The screening log, CONSORT style: how many were screened, how many failed each criterion, how many were enrolled
(CONSORT 2010 flow diagram: assessed for eligibility, excluded with reasons, allocated / received intervention).

Screened = every participant record (consented and screened); enrolled = injected. A participant can fail several
criteria, so the per-criterion counts may add up to more than the screen failures.
"""
from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from .. import participants
from .assess import assess
from .criteria import Criteria


def log_rows(db: Database, user: dict | None, criteria: Criteria, now: datetime, site: str | None = None) -> list[dict]:
    """One row per line of the log: stage, item, count and the subjects counted (site-scoped for site roles)."""
    people = participants.list_for(db, user, site=site)
    assessed = [(p, assess(db, p, criteria, now)) for p in people]

    def line(stage: str, item: str, members: list) -> dict:
        return {"stage": stage, "item": item, "count": len(members),
                "subjects": " ".join(p["subject_id"] for p, _ in members)}

    failures = [(p, a) for p, a in assessed if a.eligible is False]
    out = [line("screened", "participants assessed for eligibility", assessed),
           line("screen failure", "failed at least one criterion", failures)]
    for c in criteria.criteria:
        failed = [(p, a) for p, a in failures if c.id in a.failing]
        out.append(line("screen failure", f"{c.id} ({c.kind}) {c.text}", failed))
    injected = [(p, a) for p, a in assessed if p["injection_at"]]
    waiting = [(p, a) for p, a in assessed if not p["injection_at"]]
    out += [
        line("enrolled", "injected", injected),
        line("enrolled", "eligible: every criterion met", [(p, a) for p, a in injected if a.eligible is True]),
        line("enrolled", "after a signed protocol deviation",
             [(p, a) for p, a in injected if a.eligible is False and not a.unwaived]),
        # Screening results entered after the injection can reveal a failure no deviation documents yet: the
        # investigator documents it (signs a deviation) after the fact; until then it is listed here.
        line("enrolled", "failing a criterion without a signed deviation (to document)",
             [(p, a) for p, a in injected if a.unwaived]),
        line("enrolled", "eligibility not confirmed (criteria unknown)",
             [(p, a) for p, a in injected if a.eligible is None]),
        line("not enrolled", "screen failure, not injected", [(p, a) for p, a in waiting if a.eligible is False]),
        line("not enrolled", "screening in progress", [(p, a) for p, a in waiting if a.eligible is not False]),
    ]
    return out
