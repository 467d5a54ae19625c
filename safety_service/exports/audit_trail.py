"""The audit trail for auditors: browse it by entity, user and date; export it whole as CSV that can be
re-verified from the file alone (every column of the hash chain is included).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Iterable, Mapping

from sqlite_utils import Database

from ..domain import audit
from ..domain.errors import InvalidInput
from .csv_export import FORMULA_TRIGGERS
from .filters import add_date_range

COLUMNS = ("id", "at", "actor", "action", "entity", "entity_id", "field", "old_value", "new_value", "reason",
           "key_id", "prev_hash", "hash")  # key_id: the audit key that chained the entry (empty: plain SHA-256)
BROWSE_FILTERS = ("entity", "entity_id", "actor", "from", "to", "before")
PAGE_SIZE = 100


def parse_browse(args: Mapping[str, str]) -> dict:
    """Typed browse filters; InvalidInput names each bad one (unknown keys included)."""
    errors, out = {}, {}
    for key, raw in args.items():
        value = (raw or "").strip()
        if key not in BROWSE_FILTERS:
            errors[key] = f"is not a filter (filters: {', '.join(BROWSE_FILTERS)})"
        elif not value:
            continue
        elif key in ("from", "to"):
            try:
                out[key] = date.fromisoformat(value).isoformat()
            except ValueError:
                errors[key] = "must be a date YYYY-MM-DD"
        elif key == "before":
            if value.isdigit():
                out[key] = int(value)
            else:
                errors[key] = "must be an entry id"
        else:
            out[key] = value
    if errors:
        raise InvalidInput(errors, "The audit trail filters are not valid")
    return out


def search(db: Database, f: Mapping, limit: int = PAGE_SIZE) -> list[dict]:
    """Entries matching the filters, newest first, at most ``limit``; ``before`` pages back by id.

    Dates bound the UTC date of ``at`` (both days included). Parameterised SQL only.
    """
    clauses, params = [], []
    for key, column in (("entity", "entity"), ("entity_id", "entity_id"), ("actor", "actor")):
        if f.get(key):
            clauses.append(f"{column} = ?")
            params.append(f[key])
    add_date_range("at", f, clauses, params)
    if f.get("before"):
        clauses.append("id < ?")
        params.append(f["before"])
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return list(db.query(f"SELECT {', '.join(COLUMNS)} FROM audit_log {where} ORDER BY id DESC LIMIT ?",
                         [*params, limit]))


def choices(db: Database) -> dict[str, list[str]]:
    """The entities and actors present, for the browse page's pick lists."""
    return {"entities": [r["entity"] for r in db.query("SELECT DISTINCT entity FROM audit_log ORDER BY entity")],
            "actors": [r["actor"] for r in db.query("SELECT DISTINCT actor FROM audit_log ORDER BY actor")]}


@dataclass(frozen=True)
class Snapshot:
    rows: list[dict]
    verification: audit.Verification


def snapshot(db: Database) -> Snapshot:
    """Every entry and the chain's verification, read in one transaction so both see the same trail."""
    own = not db.conn.in_transaction
    if own:
        db.conn.execute("BEGIN")  # deferred: a read snapshot in WAL mode, writers are not blocked
    try:
        rows = list(db.query(f"SELECT {', '.join(COLUMNS)} FROM audit_log ORDER BY id"))
        result = audit.verify(db)
    finally:
        if own:
            db.conn.execute("COMMIT")
    return Snapshot(rows, result)


def escape(value: str | None) -> str:
    """Formula-safe and reversible: NULL is an empty cell; an apostrophe is prefixed to empty text and to text
    starting with = + - @ tab CR or an apostrophe, so a verifier drops exactly one leading apostrophe."""
    if value is None:
        return ""
    return "'" + value if value == "" or value.startswith(FORMULA_TRIGGERS + ("'",)) else value


def unescape(cell: str) -> str | None:
    if cell == "":
        return None
    return cell[1:] if cell.startswith("'") else cell


def to_csv(rows: Iterable[dict], study_id: str = "") -> bytes:
    """UTF-8 CSV: a "#" line naming the chain head the file ends at (its anchor), one header row, every column of
    the hash chain (see ``escape`` for the cell form)."""
    rows = list(rows)
    anchor = f"{rows[-1]['id']}:{rows[-1]['hash']}" if rows else f"0:{audit.GENESIS}"
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([f"# {study_id + ' ' if study_id else ''}audit trail; audit chain head (safety audit anchor) {anchor}"])
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([r["id"], *(escape(r[c]) for c in COLUMNS[1:])])
    return out.getvalue().encode("utf-8")


def verify_csv(data: bytes, ring: audit.Keyring | None = None) -> audit.Verification:
    """Re-verify an exported trail from the file and the audit keyring (default: this service's): keyed entries
    need the key, as the chain in the database does; entries from before keying are plain SHA-256."""
    ring = ring or audit.current_keyring()
    prev, checked, expected, keyed = audit.GENESIS, 0, None, False
    lines = io.StringIO(data.decode("utf-8"), newline="")
    if lines.read(1) == "#":
        lines.readline()  # the context line above the header
    else:
        lines.seek(0)
    for r in csv.DictReader(lines):
        entry = {k: unescape(v) for k, v in r.items()}
        rid = int(r["id"])
        if expected is not None and rid != expected:
            return audit.Verification(False, checked, prev, rid, f"entries {expected}..{rid - 1} are missing")
        if entry["prev_hash"] != prev:
            return audit.Verification(False, checked, prev, rid, "does not link to the entry before it")
        key_id = entry.get("key_id") or None
        entry["key_id"] = key_id
        if key_id is None and keyed:
            return audit.Verification(False, checked, prev, rid, "is chained without the audit key after keyed entries")
        key = (ring.keys.get(key_id) if ring else None) if key_id else None
        if key_id and key is None:
            return audit.Verification(False, checked, prev, rid, f"was chained with audit key {key_id}, not held here")
        keyed = keyed or key is not None
        if audit.entry_hash(prev, entry, key) != entry["hash"]:
            return audit.Verification(False, checked, prev, rid, "content does not match its hash (changed)")
        prev, checked, expected = entry["hash"], checked + 1, rid + 1
    return audit.Verification(True, checked, prev)
