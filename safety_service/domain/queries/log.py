"""The query log: one row per query with its age and turnaround, for the CSV/Excel export and the API.

Age: days from raised to closed, or to now while not closed. Turnaround: days from raised to the site's first
answer (None while unanswered). Both in days with one decimal, computed from the stored instants and ``now``.
"""
from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from ...clock import parse_datetime
from ...db import rows
from .workflow import search


def _days(start: str | None, end: str | datetime | None) -> float | None:
    if not start or not end:
        return None
    end_dt = end if isinstance(end, datetime) else parse_datetime(end)
    return round((end_dt - parse_datetime(start)).total_seconds() / 86400, 1)


def log_rows(db: Database, user: dict | None, filters: dict | None, now: datetime) -> list[dict]:
    """Every query the user may see that passes the filters (all pages), oldest first, with age and turnaround."""
    f = {k: v for k, v in (filters or {}).items() if k not in ("limit", "offset")}
    total = search(db, user, {**f, "limit": 1})[1]
    found = []
    for offset in range(0, total, 500):
        found += search(db, user, {**f, "limit": 500, "offset": offset})[0]
    firsts = {r["query_id"]: r for r in rows(
        db, "SELECT query_id, min(at) AS at, count(*) AS n FROM query_messages WHERE step = 'answered'"
            " GROUP BY query_id")}
    reopened = {r["query_id"]: r["n"] for r in rows(
        db, "SELECT query_id, count(*) AS n FROM query_messages WHERE step = 'reopened' GROUP BY query_id")}
    out = []
    for q in sorted(found, key=lambda q: q["id"]):
        first = firsts.get(q["id"])
        out.append({**q, "query": f"Q{q['id']}", "first_answered_at": first["at"] if first else None,
                    "answers": first["n"] if first else 0, "reopened": reopened.get(q["id"], 0),
                    "age_days": _days(q["raised_at"], q["closed_at"] or now),
                    "turnaround_days": _days(q["raised_at"], first["at"] if first else None)})
    return out
