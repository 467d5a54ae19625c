"""CSV import of lab results (a lab feed, a site's spreadsheet): all rows or none.

Every row is validated first with the same rules as the form and the API, each problem named by row and
column (row 1 is the header, as a spreadsheet numbers them). Only a file without a problem is stored, in one
transaction, oldest sample first so baselines form before the values compared with them.
Duplicates (same participant, analyte and collection instant) follow one rule everywhere: the same value is
skipped and reported as already present; a different value is refused.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from sqlite_utils import Database

from ..db import atomic, row
from . import labs, participants
from .errors import DomainError, InvalidInput
from .corrections.plausibility import NeedsConfirmation, screen
from .lab_rules import RuleSet
from .study import Study

REQUIRED = ("subject_id", "analyte", "value", "unit", "collected_at")
OPTIONAL = ("visit", "uln", "lln", "confirmed")  # confirmed: true saves a value failing a plausibility check
MAX_ROWS = 50_000


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.message}"


class ImportRefused(InvalidInput):
    """The file has problems; nothing was stored. ``problems`` lists each by row and column."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__({f"row {p.row} {p.column}": p.message for p in problems[:200]},
                         f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in the file; nothing was imported")

    def one_line(self, limit: int = 5) -> str:
        shown = "; ".join(str(p) for p in self.problems[:limit])
        more = f" (and {len(self.problems) - limit} more)" if len(self.problems) > limit else ""
        return f"nothing imported: {shown}{more}"


@dataclass
class ImportReport:
    imported: int = 0
    skipped: list[Problem] = field(default_factory=list)   # same value already present: not stored again
    alerts: int = 0


def parse(text: str) -> tuple[list[dict], list[Problem]]:
    """The data rows (with their row number) and the header problems of a CSV text."""
    text = text.lstrip("\ufeff")  # a spreadsheet's byte-order mark is not part of the first column's name
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    problems = [Problem(1, c, "missing column") for c in REQUIRED if c not in header]
    problems += [Problem(1, c or "(empty)", f"unknown column; columns are {', '.join(REQUIRED + OPTIONAL)}")
                 for c in header if c not in REQUIRED + OPTIONAL]
    if not header:
        return [], [Problem(1, "(header)", "the file is empty")]
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
        if any(values.values()):  # blank lines are not rows
            out.append({"row": n, **values})
    if not out and not problems:
        problems.append(Problem(2, "(file)", "no data rows"))
    return out, problems


def import_labs(db: Database, text: str, *, rules: RuleSet, study: Study, tz: str, user: dict | None,
                actor: str, source: str = "csv", now: datetime, plausibility=None) -> ImportReport:
    """Import every row of a CSV text or none. ``user`` limits rows to the participants that user may see
    (None: the command line, study-wide). Raises ImportRefused listing every problem by row and column."""
    data, problems = parse(text)
    people: dict[str, dict | None] = {}
    ready: list[tuple[int, dict, dict]] = []
    seen: dict[tuple, tuple[int, float]] = {}
    skipped: list[Problem] = []
    for item in data:
        n, sid = item["row"], item["subject_id"]
        if sid not in people:
            try:
                people[sid] = participants.get(db, sid, user=user) if sid else None
            except DomainError:
                people[sid] = None
        p = people[sid]
        if p is None:
            problems.append(Problem(n, "subject_id", f"no participant {sid!r}" if sid else "is required"))
            continue
        try:
            rec = labs.validate(item, p, study, tz, now)
        except InvalidInput as e:
            problems.extend(Problem(n, col, why) for col, why in e.fields.items())
            continue
        key = (p["id"], rec["analyte"], rec["collected_at"])
        if plausibility is not None:  # issue 12: checked against the stored series, named by row and column
            try:
                rec = screen(db, rec, p, plausibility, confirmed=item.get("confirmed"))
            except NeedsConfirmation as e:
                problems.append(Problem(n, "value", e.fields["value"].replace('("confirmed": true)',
                                                                          "(a confirmed column saying true)")))
                continue
            except InvalidInput as e:
                problems.extend(Problem(n, col, why) for col, why in e.fields.items())
                continue
        if key in seen:
            first_row, first_value = seen[key]
            if round(first_value, 9) == round(rec["value_si"], 9):
                skipped.append(Problem(n, "collected_at", f"same sample and value as row {first_row}: skipped"))
            else:
                problems.append(Problem(n, "value", f"row {first_row} has a different {rec['analyte']} for the same "
                                                   f"participant and collection time"))
            continue
        seen[key] = (n, rec["value_si"])
        stored = row(db, "SELECT value, unit, value_si FROM labs WHERE participant_id = ? AND analyte = ? AND "
                         "collected_at = ? AND status = 'valid'", key)
        if stored:
            if round(stored["value_si"], 9) == round(rec["value_si"], 9):
                skipped.append(Problem(n, "collected_at", "already present with the same value: skipped"))
            else:
                problems.append(Problem(n, "value", f"differs from the stored {stored['value']} {stored['unit']} "
                                                   f"for the same participant, analyte and collection time"))
            continue
        ready.append((n, rec, p))
    if problems:
        raise ImportRefused(sorted(problems, key=lambda p: (p.row, p.column)))
    report = ImportReport(skipped=skipped)
    before = db.execute("SELECT count(*) FROM alerts WHERE kind = ?", [labs.ALERT_KIND]).fetchone()[0]
    with atomic(db):
        for _n, rec, p in sorted(ready, key=lambda t: (t[1]["collected_at"], t[0])):
            labs.store(db, rec, p, rules=rules, study=study, tz=tz, actor=actor, source=source, now=now,
                       raise_alerts=False)
            report.imported += 1
        for p in {p["id"]: p for _n, _rec, p in ready}.values():
            labs.raise_breaches(db, participants.get(db, p["subject_id"], user=None), rules, now)
    report.alerts = db.execute("SELECT count(*) FROM alerts WHERE kind = ?", [labs.ALERT_KIND]).fetchone()[0] - before
    return report
