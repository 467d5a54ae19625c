"""The summary tables (domain/summary.py) laid out as Tables for the PDF, XLSX and HTML page."""
from __future__ import annotations

from .columns import Column, Table

SPLIT_HEADERS = (("all", "All"), ("early", "Early"), ("late", "Late"), ("related", "Related"),
                 ("not_related", "Not related"))


def n_pct(n: int, p: float | None) -> str:
    """"n (p%)", the usual cell of a safety table; "0" without a percentage sign when n is 0."""
    if not n:
        return "0"
    return f"{n} ({p:.1f}%)" if p is not None else str(n)


def _split_cols(denominator: int) -> list[Column]:
    return [Column(k, f"{h} (N={denominator})", f"Participants with at least one {h.lower()} event, n (%).",
                   "text", 14) for k, h in SPLIT_HEADERS]


def tables(summary: dict) -> list[Table]:
    """Overview, by SOC and term, by maximum grade, by term and maximum grade, SAEs, deaths."""
    n = summary["denominator"]
    ex = summary["excluded"]
    population = (f"N = {n} participants injected (safety population). Treatment-emergent AEs only; excluded: "
                  f"{ex['entered_in_error']} entered in error, {ex['not_treatment_emergent']} not treatment emergent, "
                  f"{ex['not_in_safety_population']} in participants not injected.")
    out = []

    rows = [{"label": r["label"], "participants": n_pct(r["participants"], r["pct"]), "events": r["events"]}
            for r in summary["overview"]]
    out.append(Table("Overview", "Overview of treatment-emergent adverse events",
                     [Column("label", "Participants with", "", "text", 36),
                      Column("participants", f"n (%) of N={n}", "", "text", 16),
                      Column("events", "Events", "", "int", 8)], rows, population))

    rows = []
    for r in summary["by_soc_term"]:
        row = {"soc_term": r["soc"] if r["term"] is None else "    " + r["term"], "events": r["events"]}
        row.update({k: n_pct(r[k], r[f"{k}_pct"]) for k, _ in SPLIT_HEADERS})
        rows.append(row)
    out.append(Table("By SOC and term", "Participants with at least one AE by system organ class and term",
                     [Column("soc_term", "System organ class / CTCAE term", "", "text", 40), *_split_cols(n),
                      Column("events", "Events", "", "int", 8)], rows,
                     "A participant counts once per SOC and once per term in each column; early/late and "
                     "related/not related count participants with at least one such event. " + population))

    rows = []
    for r in summary["by_max_grade"]:
        row = {"grade": f"Grade {r['grade']}"}
        row.update({k: n_pct(r[k], r[f"{k}_pct"]) for k, _ in SPLIT_HEADERS})
        rows.append(row)
    out.append(Table("By maximum grade", "Participants by maximum CTCAE v5.0 grade",
                     [Column("grade", "Maximum grade", "", "text", 16), *_split_cols(n)], rows,
                     "Each participant counts once, at the highest grade among the events of the column. " + population))

    rows = [{"soc": r["soc"], "term": r["term"], "any": n_pct(r["any"], r["any_pct"]),
             **{f"grade{g}": r[f"grade{g}"] for g in range(1, 6)}} for r in summary["by_term_max_grade"]]
    out.append(Table("By term and grade", "Participants by term and maximum grade",
                     [Column("soc", "System organ class", "", "text", 30), Column("term", "CTCAE term", "", "text", 30),
                      Column("any", f"Any grade (N={n})", "", "text", 14),
                      *[Column(f"grade{g}", f"Grade {g}", "", "int", 8) for g in range(1, 6)]], rows, population))

    listing_cols = [Column("subject_id", "Subject", "", "text", 10), Column("seq", "Seq", "", "int", 5),
                    Column("term", "CTCAE term", "", "text", 28), Column("grade", "Grade", "", "int", 6),
                    Column("onset", "Onset", "", "date", 11), Column("end_date", "End", "", "date", 11),
                    Column("onset_day", "Day", "", "int", 6),
                    Column("seriousness", "Criteria", "", "list", 22), Column("related", "Related", "", "bool", 8),
                    Column("expected", "Expected", "", "bool", 8), Column("susar", "SUSAR", "", "bool", 7),
                    Column("outcome", "Outcome", "", "text", 14),
                    Column("treatment_emergent", "TEAE", "", "bool", 6)]
    out.append(Table("SAEs", "Serious adverse events", listing_cols, summary["saes"],
                     "Every active serious AE, treatment emergent or not."))
    out.append(Table("Deaths", "Adverse events leading to death", listing_cols, summary["deaths"],
                     "Outcome fatal, CTCAE grade 5 or the ICH E2A death criterion."))
    return out
