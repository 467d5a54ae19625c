"""Column definitions and tables of cells shared by the CSV, XLSX and PDF writers.

One place says what each listing column is called, what it means and how a value prints,
so the three formats cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from ..domain.labels import FIELD_VOCABULARY, LABELS, label

# kinds: text, int, number, bool (Y/N), date (YYYY-MM-DD), datetime (ISO 8601 UTC), list (joined with "; ")
KINDS = {"text", "int", "number", "bool", "date", "datetime", "list"}


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    description: str
    kind: str = "text"
    width: int = 12  # characters, for XLSX column widths and PDF proportions
    getter: Callable[[dict], Any] | None = None
    vocabulary: str = ""  # a field of domain.labels: stored codes are shown by their labels ("Not related")

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"column {self.key}: unknown kind {self.kind!r}")

    def raw(self, row: dict) -> Any:
        return self.getter(row) if self.getter else row.get(self.key)


@dataclass(frozen=True)
class Table:
    """A named table: columns, rows (dicts keyed by column key) and an optional footnote."""

    name: str  # short, used as sheet name and file stem (<= 31 characters)
    title: str
    columns: Sequence[Column]
    rows: Sequence[dict]
    footnote: str = ""
    meta_rows: Sequence[tuple[str, str]] = field(default_factory=tuple)

    def cells(self) -> list[list[str]]:
        """Every row as display strings, in column order."""
        return [[display(c, c.raw(r)) for c in self.columns] for r in self.rows]


def display(col: Column, value: Any) -> str:
    """The printed form of a value: ISO dates, Y/N booleans, empty for missing."""
    if value is None:
        return ""
    if col.vocabulary:
        if isinstance(value, (list, tuple)):
            return "; ".join(label(col.vocabulary, v) for v in value)
        return label(col.vocabulary, value)
    if col.kind == "bool":
        return "Y" if value else "N"
    if col.kind == "list":
        return "; ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)


def typed(col: Column, value: Any) -> Any:
    """The value for a typed cell (XLSX): numbers stay numbers, everything else is its display text."""
    if value is None:
        return None
    if col.kind in ("int", "number") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return display(col, value)


def vocabulary_table(field: str) -> dict[str, str]:
    """{stored code: label} of a field's vocabulary (domain.labels), for writers that map a whole column."""
    return LABELS.get(FIELD_VOCABULARY.get(field, field), {})


# The AE listing: every key of the agreed AE shape, in reading order.
AE_COLUMNS: tuple[Column, ...] = (
    Column("id", "AE id", "Database identifier of the adverse event (stable across versions).", "int", 7),
    Column("subject_id", "Subject", "Participant identifier (site-number).", "text", 10),
    Column("site", "Site", "Site identifier.", "text", 6),
    Column("seq", "Seq", "AESEQ: 1..n per participant in order of creation.", "int", 5),
    Column("term", "CTCAE term", "CTCAE v5.0 term (dictionary-derived term).", "text", 28),
    Column("meddra_code", "MedDRA code", "MedDRA LLT code of the CTCAE v5.0 term.", "text", 11),
    Column("soc", "System organ class", "MedDRA system organ class of the term.", "text", 30),
    Column("verbatim", "Verbatim", "Term as reported by the investigator.", "text", 28),
    Column("grade", "Grade", "CTCAE v5.0 grade 1-5 (1 mild ... 5 death related to AE).", "int", 6),
    Column("serious", "Serious", "Serious per ICH E2A (Y/N).", "bool", 8),
    Column("seriousness", "Seriousness criteria", "ICH E2A criteria met: results in death, life-threatening, "
           "hospitalization, disability, congenital anomaly, other important medical event.", "list", 24,
           vocabulary="seriousness"),
    Column("relatedness_product", "Rel. product", "Causality to UC-MSC: not related, unlikely, possibly, probably or "
           "definitely related.", "text", 12, vocabulary="relatedness_product"),
    Column("relatedness_procedure", "Rel. procedure", "Causality to the intra-renal injection procedure.", "text", 12,
           vocabulary="relatedness_procedure"),
    Column("related", "Related", "Y when either causality is possible, probable or definite.", "bool", 8),
    Column("expected", "Expected", "Expected per the reference safety information (Y/N; empty if not assessed).",
           "bool", 9),
    Column("action_taken", "Action taken", "Action taken with study treatment.", "text", 16, vocabulary="action_taken"),
    Column("other_action", "Other action", "Other action taken (free text).", "text", 20),
    Column("outcome", "Outcome", "Recovered/resolved, recovering/resolving, not recovered/not resolved, recovered/"
           "resolved with sequelae, fatal or unknown.", "text", 14, vocabulary="outcome"),
    Column("onset", "Onset", "Onset date (YYYY-MM-DD).", "date", 11),
    Column("onset_time", "Onset time", "Onset time (HH:MM), if known.", "text", 6),
    Column("end_date", "End date", "End date (YYYY-MM-DD); empty if ongoing.", "date", 11),
    Column("onset_day", "Onset day", "Study day of onset (injection day = 1, day before = -1; no day 0).", "int", 6),
    Column("end_day", "End day", "Study day of end.", "int", 6),
    Column("phase", "Phase", "Early or late after the injection, as defined by the protocol.", "text", 6,
           vocabulary="phase"),
    Column("treatment_emergent", "TEAE", "Treatment emergent: onset on or after the injection (Y/N).", "bool", 6),
    Column("awareness_at", "Site aware at", "When the site learned of the event (ISO 8601 UTC).", "datetime", 20),
    Column("report_due_at", "Report due", "SAE report deadline to the sponsor (ISO 8601 UTC).", "datetime", 20),
    Column("expedited_due_at", "Expedited due", "SUSAR expedited report deadline (ISO 8601 UTC).", "datetime", 20),
    Column("susar", "SUSAR", "Serious, unexpected and related (Y/N).", "bool", 7),
    Column("status", "Status", "Active or entered in error (never deleted).", "text", 10, vocabulary="status"),
    Column("version", "Version", "Version number; earlier versions are in the audit trail.", "int", 7),
    Column("description", "Description", "Narrative description.", "text", 40),
    Column("created_at", "Created at", "When the record was created (ISO 8601 UTC).", "datetime", 20),
    Column("created_by", "Created by", "Who created the record (email).", "text", 22),
    Column("updated_at", "Updated at", "When the record was last changed (ISO 8601 UTC).", "datetime", 20),
    Column("signed_off_at", "Signed off at", "Investigator sign-off time (ISO 8601 UTC).", "datetime", 20),
    Column("signed_off_by", "Signed off by", "Investigator who signed off (email).", "text", 22),
    Column("report_sent_at", "Report sent at", "When the SAE report was sent (ISO 8601 UTC).", "datetime", 20),
)

# The narrower set that fits a landscape PDF page.
AE_PDF_KEYS = ("subject_id", "seq", "term", "verbatim", "grade", "serious", "relatedness_product",
               "relatedness_procedure", "outcome", "onset", "end_date", "onset_day", "phase", "susar", "status")


def columns_by_key(columns: Iterable[Column], keys: Iterable[str]) -> tuple[Column, ...]:
    index = {c.key: c for c in columns}
    return tuple(index[k] for k in keys)


def ae_table(rows: Sequence[dict]) -> Table:
    return Table("AE listing", "Adverse event listing", AE_COLUMNS, list(rows))


def columns_table(columns: Sequence[Column], name: str = "Columns") -> Table:
    """A table describing the columns of another table (the XLSX 'Columns' sheet)."""
    cols = (Column("header", "Column", "", "text", 22), Column("key", "Key", "", "text", 22),
            Column("kind", "Type", "", "text", 9), Column("description", "Description", "", "text", 80))
    rows = [{"header": c.header, "key": c.key, "kind": c.kind, "description": c.description} for c in columns]
    return Table(name, "Description of the columns", cols, rows)
