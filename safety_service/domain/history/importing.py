"""CSV import of con-meds and medical history (a site's spreadsheet): all rows or none, every problem named by
row and column, as the lab import does (its Problem and ImportRefused are reused)."""
from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlite_utils import Database

from ...clock import local_date
from ...db import atomic
from .. import participants
from ..errors import DomainError, InvalidInput
from ..labs_import import MAX_ROWS, ImportRefused, Problem
from . import conmeds, medical_history, records

KINDS = {"conmeds": conmeds.KIND, "medical-history": medical_history.KIND}
REQUIRED = {"conmeds": ("subject_id", "name", "indication", "start_date"),
            "medical-history": ("subject_id", "condition")}


def parse(text: str, required: tuple[str, ...], columns: tuple[str, ...]) -> tuple[list[dict], list[Problem]]:
    """The data rows (with their row number; row 1 is the header) and the header's problems."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not header:
        return [], [Problem(1, "(header)", "the file is empty")]
    problems = [Problem(1, c, "missing column") for c in required if c not in header]
    problems += [Problem(1, c or "(empty)", f"unknown column; columns are {', '.join(columns)}")
                 for c in header if c not in columns]
    if problems:
        return [], problems
    reader.fieldnames = header
    out = []
    for n, raw in enumerate(reader, start=2):
        if n - 1 > MAX_ROWS:
            return [], [Problem(n, "(file)", f"more than {MAX_ROWS} rows; split the file")]
        if None in raw:
            problems.append(Problem(n, "(row)", f"{len(header) + len(raw[None])} cells for {len(header)} columns"))
            continue
        values = {k: (v or "").strip() for k, v in raw.items()}
        if any(values.values()):
            out.append({"row": n, **values})
    if not out and not problems:
        problems.append(Problem(2, "(file)", "no data rows"))
    return out, problems


def import_csv(db: Database, which: str, text: str, *, user: dict | None, actor: str, tz: str,
               now: datetime) -> int:
    """Import every row of ``which`` ("conmeds" or "medical-history") or none; returns the number stored.

    ``user`` limits rows to the participants that user may see (None: the command line, study-wide).
    Raises ImportRefused listing every problem by row and column.
    """
    kind = KINDS[which]
    data, problems = parse(text, REQUIRED[which], ("subject_id", *kind.fields))
    today = local_date(now, tz)
    people: dict[str, dict | None] = {}
    ready = []
    for item in data:
        n, sid = item.pop("row"), item.pop("subject_id")
        if sid not in people:
            try:
                people[sid] = participants.get(db, sid, user=user) if sid else None
            except DomainError:
                people[sid] = None
        if people[sid] is None:
            problems.append(Problem(n, "subject_id", f"no participant {sid!r}" if sid else "is required"))
        try:
            values = records.validate_new(kind, item, today=today)
        except InvalidInput as e:
            problems.extend(Problem(n, col, why) for col, why in e.fields.items())
            continue
        if people[sid] is not None:
            ready.append((people[sid], values))
    if problems:
        raise ImportRefused(sorted(problems, key=lambda p: (p.row, p.column)))
    with atomic(db):
        for p, values in ready:
            records.insert(db, kind, p, values, actor=actor, now=now, source="CSV import")
    return len(ready)
