"""The queries in each recipient's daily digest: what waits for the site's answer (the longest waiting first, those
past [queries] overdue_days marked) and the answers waiting for the recipient's review. Scoped like the pages."""
from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from ...db import rows
from ..permissions import site_scope
from .overdue import waiting_days

LIST_LIMIT = 25


def _line(q: dict, now: datetime, base_url: str, overdue_days: int) -> dict:
    days = waiting_days(q, now)
    return {"id": q["id"], "label": q["label"], "field": (q["field"] or "").replace("_", " "), "text": q["text"],
            "status": q["status"], "days": int(days), "overdue": q["status"] == "open" and days > overdue_days,
            "link": f"{base_url}/queries/{q['id']}"}


def for_digest(db: Database, user: dict, *, now: datetime, base_url: str, overdue_days: int) -> dict:
    """{"open_count", "open", "overdue_count", "review_count", "review"}: open queries the user may see (for a
    site role: waiting for their answer) and the answered queries the user may close (raised by them, or any for
    the safety officer)."""
    scope = site_scope(user)
    where, params = ("WHERE site = ?", [scope]) if scope else ("", [])
    open_ = rows(db, f"SELECT * FROM queries {where} {'AND' if where else 'WHERE'} status = 'open'"
                     " ORDER BY waiting_since, id", params)
    review_sql = "SELECT * FROM queries WHERE status = 'answered'" + (" AND site = ?" if scope else "")
    review_params = list(params)
    if user["role"] != "safety_officer":
        review_sql += " AND raised_by = ?"
        review_params.append(user["email"])
    review = rows(db, review_sql + " ORDER BY answered_at, id", review_params)
    lines = [_line(q, now, base_url, overdue_days) for q in open_]
    return {"open_count": len(open_), "open": lines[:LIST_LIMIT],
            "overdue_count": sum(1 for x in lines if x["overdue"]), "overdue_days": overdue_days,
            "review_count": len(review), "review": [_line(q, now, base_url, overdue_days) for q in review[:LIST_LIMIT]],
            "link": f"{base_url}/queries"}
