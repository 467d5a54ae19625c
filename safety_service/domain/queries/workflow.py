"""A query's life: raised (open) -> answered by the site -> closed by whoever raised it or the safety officer;
reopened when the answer does not settle it. Every step is a message of the query's thread and an audit entry,
written in the same transaction as the state change (21 CFR 11.10(e); ICH E6(R2) 5.18.4(n): the monitor informs
the investigator of an entry error or omission and the answer is traceable).

Who: the safety officer, an auditor (monitor) or the site's investigator raises; the site's nurse or
investigator answers; the raiser or the safety officer closes and reopens. A query of another site is NotFound.
"""
from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from typing import Callable

from sqlite_utils import Database

from ...clock import iso
from ...db import atomic, row, rows
from .. import audit
from ..errors import Conflict, Forbidden, InvalidInput, NotFound, require
from ..permissions import site_scope
from .targets import ENTITIES, FIELDS, Target, find

ENTITY = "query"
# The query being answered by an amendment in this transaction: the automatic recheck that the amendment triggers
# leaves it alone until the answer is written (else it would close a query that is then marked answered).
_ANSWERING: ContextVar[int | None] = ContextVar("answering_query", default=None)


def answering() -> int | None:
    return _ANSWERING.get()
STATUSES = ("open", "answered", "closed")
RAISERS = frozenset({"safety_officer", "auditor", "investigator"})
ANSWERERS = frozenset({"nurse", "investigator"})
SYSTEM = "system"
TEXT_MAX = 4000
LIST_FILTERS = ("status", "subject_id", "entity", "entity_id", "site", "field", "origin", "limit", "offset")
MAX_LIMIT = 500


# ---------------------------------------------------------------------------------------------------- reading

def get(db: Database, query_id, *, user: dict | None) -> dict:
    """One query the user may see. Raises NotFound otherwise (another site's query does not exist for them)."""
    try:
        qid = int(str(query_id))
    except ValueError:
        raise NotFound(f"no query {query_id}") from None
    q = row(db, "SELECT * FROM queries WHERE id = ?", (qid,))
    scope = site_scope(user)
    if q is None or (scope and q["site"] != scope):
        raise NotFound(f"no query {query_id}")
    return q


def thread(db: Database, query_id: int) -> list[dict]:
    """The query's steps, oldest first (call ``get`` first: this does not check the site)."""
    return rows(db, "SELECT * FROM query_messages WHERE query_id = ? ORDER BY id", (int(query_id),))


def _filters(filters: dict) -> dict:
    errors, out = {}, {}
    for k, v in filters.items():
        if k not in LIST_FILTERS:
            errors[k] = "unknown filter; allowed: " + ", ".join(LIST_FILTERS)
        elif v not in (None, ""):
            out[k] = str(v).strip()
    if out.get("status") and out["status"] not in STATUSES:
        errors["status"] = "must be one of " + ", ".join(STATUSES)
    if out.get("entity") and out["entity"] not in ENTITIES:
        errors["entity"] = "must be one of " + ", ".join(ENTITIES)
    if out.get("origin") and out["origin"] not in ("manual", "auto"):
        errors["origin"] = "must be manual or auto"
    for k, top in (("limit", MAX_LIMIT), ("offset", None)):
        if k in out:
            if not (out[k].isascii() and out[k].isdigit()) or (top and not 1 <= int(out[k]) <= top):
                errors[k] = f"must be a whole number{f' from 1 to {top}' if top else ''}"
            else:
                out[k] = int(out[k])
    require(errors)
    return out


def search(db: Database, user: dict | None, filters: dict | None = None) -> tuple[list[dict], int]:
    """(the page of queries the user may see that pass the filters, how many pass in all): newest first.

    Site roles see their site's only. Raises InvalidInput naming each bad filter.
    """
    f = _filters(filters or {})
    clauses, params = [], []
    scope = site_scope(user)
    if scope:
        clauses.append("site = ?")
        params.append(scope)
    for key in ("status", "subject_id", "entity", "entity_id", "site", "field", "origin"):
        if key in f:
            clauses.append(f"{key} = ?")
            params.append(f[key])
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    total = db.execute(f"SELECT count(*) FROM queries {where}", params).fetchone()[0]
    found = rows(db, f"SELECT * FROM queries {where} ORDER BY raised_at DESC, id DESC LIMIT ? OFFSET ?",
                 [*params, f.get("limit", 100), f.get("offset", 0)])
    return found, total


def list_queries(db: Database, user: dict | None, filters: dict | None = None) -> list[dict]:
    return search(db, user, filters)[0]


def on_records(db: Database, entity: str, entity_ids, *, user: dict | None) -> dict[str, dict]:
    """Open and answered queries on some records, for badges: {entity_id: {"open": n, "answered": n,
    "fields": {field: {"open": n, "answered": n}}}}; records without any are absent."""
    ids = [str(i) for i in entity_ids]
    if not ids:
        return {}
    scope = site_scope(user)
    marks = ",".join("?" for _ in ids)
    out: dict[str, dict] = {}
    for r in db.query(f"SELECT entity_id, field, status, count(*) AS n FROM queries WHERE entity = ? AND "
                      f"entity_id IN ({marks}) AND status != 'closed'" + (" AND site = ?" if scope else "")
                      + " GROUP BY entity_id, field, status", [entity, *ids, *([scope] if scope else [])]):
        rec = out.setdefault(r["entity_id"], {"open": 0, "answered": 0, "fields": {}})
        rec[r["status"]] += r["n"]
        if r["field"]:
            rec["fields"].setdefault(r["field"], {"open": 0, "answered": 0})[r["status"]] += r["n"]
    return out


def open_by_site(db: Database, user: dict | None) -> list[dict]:
    """Per site the user may see: open (waiting for the site) and answered (waiting for review) queries."""
    scope = site_scope(user)
    return rows(db, "SELECT site, sum(status = 'open') AS open, sum(status = 'answered') AS answered FROM queries"
                    " WHERE status != 'closed'" + (" AND site = ?" if scope else "") + " GROUP BY site ORDER BY site",
                [scope] if scope else [])


# ---------------------------------------------------------------------------------------------------- writing

def clean_text(value, name: str, errors: dict) -> str:
    """Trimmed free text, or an error for ``name`` (required, at most TEXT_MAX, no control characters)."""
    text = "" if value is None else str(value).strip()
    if not text:
        errors[name] = "required"
    elif len(text) > TEXT_MAX:
        errors[name] = f"at most {TEXT_MAX} characters"
    elif any((ord(c) < 32 and c not in "\t\n\r") or 127 <= ord(c) < 160 for c in text):
        errors[name] = "contains a control character; remove it"
    return text


def _message(db: Database, q: dict, *, step: str, text: str, actor: str, status: str, now: datetime,
             amended: tuple[str, str, int] | None = None) -> None:
    db["query_messages"].insert({"query_id": q["id"], "at": iso(now), "actor": actor, "step": step, "text": text,
                                 "status_after": status, "amended_entity": amended[0] if amended else None,
                                 "amended_id": amended[1] if amended else None,
                                 "amended_version": amended[2] if amended else None})


def raise_query(db: Database, data: dict, *, user: dict, now: datetime, visit_codes: tuple[str, ...]) -> dict:
    """Open a query on a record (``entity``, ``entity_id``) or one of its ``field``s with a question ``text``.

    Raises Forbidden (role), InvalidInput naming every bad field (an unknown record, or one at another site, is a
    bad ``entity_id``); nothing is written unless all pass.
    """
    if user["role"] not in RAISERS:
        raise Forbidden(f"a {user['role']} answers queries but does not raise them")
    errors: dict[str, str] = {}
    unknown = [k for k in data if k not in ("entity", "entity_id", "field", "text")]
    for k in unknown:
        errors[k] = "unknown field"
    entity = str(data.get("entity") or "").strip()
    if entity not in ENTITIES:
        errors["entity"] = "must be one of " + ", ".join(ENTITIES)
    field = str(data.get("field") or "").strip() or None
    if field and entity in FIELDS and field not in FIELDS[entity]:
        errors["field"] = f"not a field of a {entity}; one of " + ", ".join(FIELDS[entity])
    text = clean_text(data.get("text"), "text", errors)
    target = None
    if data.get("entity_id") in (None, ""):
        errors["entity_id"] = "required"
    elif entity in ENTITIES:
        try:
            target = find(db, entity, data["entity_id"], visit_codes=visit_codes, user=user)
        except NotFound:
            errors["entity_id"] = f"no {entity} {data['entity_id']} at a site you may see"
    require(errors)
    return _insert(db, target, field=field, text=text, actor=user["email"], now=now)


def _insert(db: Database, target: Target, *, field: str | None, text: str, actor: str, now: datetime,
            rule: str | None = None, key: str | None = None) -> dict | None:
    """Store a new query and its first step. With a ``key`` (automatic queries) a second insert is a no-op: None."""
    with atomic(db):
        cur = db.execute(
            "INSERT OR IGNORE INTO queries (entity, entity_id, field, subject_id, site, label, text, status, origin,"
            " rule, key, raised_at, raised_by, waiting_since, updated_at) VALUES (?,?,?,?,?,?,?,'open',?,?,?,?,?,?,?)",
            [target.entity, target.entity_id, field, target.subject_id, target.site, target.label, text,
             "auto" if key else "manual", rule, key, iso(now), actor, iso(now), iso(now)])
        if cur.rowcount == 0:
            return None
        q = row(db, "SELECT * FROM queries WHERE id = ?", (cur.lastrowid,))
        _message(db, q, step="raised", text=text, actor=actor, status="open", now=now)
        audit.record(db, actor=actor, action="query_raised", entity=ENTITY, entity_id=q["id"], at=now,
                     changes={"status": (None, "open"), "record": (None, f"{target.entity} {target.entity_id}"),
                              "field": (None, field), "text": (None, text)},
                     reason=f"query Q{q['id']} on {target.label}" + (f" {field}" if field else ""))
    return q


def _resolve_overdue_alerts(db: Database, q: dict, *, actor: dict, why: str, now: datetime) -> None:
    """The site answered or the query closed: its 'waiting too long' alert follows the truth and is resolved."""
    from .. import alerts

    for a in rows(db, "SELECT id FROM alerts WHERE kind = 'query_overdue' AND ref_entity = 'query' AND ref_id = ?"
                      " AND status != 'resolved'", (str(q["id"]),)):
        alerts.resolve(db, a["id"], user=actor, comment=why, now=now)


def _answerable(db: Database, query_id, user: dict) -> dict:
    if user["role"] not in ANSWERERS:
        raise Forbidden("the site's nurse or investigator answers a query")
    q = get(db, query_id, user=user)
    if q["raised_by"] == user["email"]:
        raise Forbidden("you raised this query: the site team answers it, you close or reopen it")
    if q["status"] != "open":
        raise Conflict(f"query Q{q['id']} is {q['status']}: only an open query is answered")
    return q


def answer(db: Database, query_id, *, text, user: dict, now: datetime,
           amend: Callable[[dict, str], tuple[str, str, int]] | None = None, auto_rules=None) -> dict:
    """The site's answer: the query becomes ``answered``.

    ``amend(query, reason)``, when given, changes the record in the same transaction through its own domain
    function and returns (entity, id, new version); the amendment's reason names the query, and the answer names
    the version it made, so the two are tied in the audit trail; an automatic query so answered is closed at once
    when the record now passes its check (``auto_rules``: rules/queries.toml). Raises Forbidden (role, own query), NotFound,
    Conflict (not open), InvalidInput (text, or the amendment's fields); nothing is written unless all pass.
    """
    errors: dict[str, str] = {}
    body = clean_text(text, "text", errors)
    require(errors)
    with atomic(db):
        q = _answerable(db, query_id, user)
        token = _ANSWERING.set(q["id"])
        try:
            amended = amend(q, f"Answer to query Q{q['id']}: {body}") if amend else None
        finally:
            _ANSWERING.reset(token)
        db.execute("UPDATE queries SET status = 'answered', answered_at = ?, answered_by = ?, updated_at = ?"
                   " WHERE id = ?", [iso(now), user["email"], iso(now), q["id"]])
        _message(db, q, step="answered", text=body, actor=user["email"], status="answered", now=now, amended=amended)
        changes = {"status": ("open", "answered"), "text": (None, body)}
        if amended:
            changes["amended"] = (None, f"{amended[0]} {amended[1]} version {amended[2]}")
        audit.record(db, actor=user["email"], action="query_answered", entity=ENTITY, entity_id=q["id"], at=now,
                     changes=changes, reason=f"query Q{q['id']} on {q['label']}"
                     + (f": answered by amending {amended[0]} {amended[1]} to version {amended[2]}" if amended else ""))
        _resolve_overdue_alerts(db, q, actor=user, why=f"query Q{q['id']} answered", now=now)
        if amended and q["origin"] == "auto" and auto_rules is not None:
            # an automatic query answered by putting the record right is settled by the same transaction
            from .auto import recheck
            recheck(db, auto_rules, entity=q["entity"], entity_id=q["entity_id"], subject_id=q["subject_id"],
                    now=now)
    return get(db, q["id"], user=None)


def _reviewer(db: Database, query_id, user: dict) -> dict:
    q = get(db, query_id, user=user)
    if user["role"] != "safety_officer" and q["raised_by"] != user["email"]:
        raise Forbidden("only whoever raised a query, or the safety officer, closes or reopens it")
    return q


def close(db: Database, query_id, *, comment, user: dict, now: datetime) -> dict:
    """Close an open or answered query (the raiser or the safety officer). Raises Forbidden, NotFound, Conflict
    (already closed), InvalidInput (comment)."""
    errors: dict[str, str] = {}
    body = clean_text(comment, "comment", errors)
    require(errors)
    with atomic(db):
        q = _reviewer(db, query_id, user)
        if q["status"] == "closed":
            raise Conflict(f"query Q{q['id']} is already closed")
        _close(db, q, text=body, actor=user["email"], now=now)
        _resolve_overdue_alerts(db, q, actor=user, why=f"query Q{q['id']} closed", now=now)
    return get(db, q["id"], user=None)


def _close(db: Database, q: dict, *, text: str, actor: str, now: datetime) -> None:
    db.execute("UPDATE queries SET status = 'closed', closed_at = ?, closed_by = ?, updated_at = ? WHERE id = ?",
               [iso(now), actor, iso(now), q["id"]])
    _message(db, q, step="closed", text=text, actor=actor, status="closed", now=now)
    audit.record(db, actor=actor, action="query_closed", entity=ENTITY, entity_id=q["id"], at=now,
                 changes={"status": (q["status"], "closed"), "text": (None, text)},
                 reason=f"query Q{q['id']} on {q['label']}")


def reopen(db: Database, query_id, *, comment, user: dict, now: datetime) -> dict:
    """Back to the site: an answered or closed query is open again, waiting from now (the raiser or the safety
    officer). Raises Forbidden, NotFound, Conflict (already open), InvalidInput (comment)."""
    errors: dict[str, str] = {}
    body = clean_text(comment, "comment", errors)
    require(errors)
    with atomic(db):
        q = _reviewer(db, query_id, user)
        if q["status"] == "open":
            raise Conflict(f"query Q{q['id']} is already open")
        _reopen(db, q, text=body, actor=user["email"], now=now)
    return get(db, q["id"], user=None)


def _reopen(db: Database, q: dict, *, text: str, actor: str, now: datetime) -> None:
    db.execute("UPDATE queries SET status = 'open', waiting_since = ?, closed_at = NULL, closed_by = NULL,"
               " updated_at = ? WHERE id = ?", [iso(now), iso(now), q["id"]])
    _message(db, q, step="reopened", text=text, actor=actor, status="open", now=now)
    audit.record(db, actor=actor, action="query_reopened", entity=ENTITY, entity_id=q["id"], at=now,
                 changes={"status": (q["status"], "open"), "text": (None, text)},
                 reason=f"query Q{q['id']} on {q['label']}")
