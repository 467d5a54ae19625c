"""Safety summary tables as pure functions of (participants, AEs), for the DSMB and auditors.

Conventions (ICH E3 section 12.2 summary tables; CTCAE v5.0 grades):
- Safety population (denominator N): participants who received the injection (``injection_at`` set).
- Counted events: treatment-emergent AEs (onset on or after the injection) of that population;
  entered-in-error AEs are excluded everywhere. What was left out is counted in ``excluded``.
- A participant counts once per row and column: once per SOC, once per term, at their maximum
  grade in the grade tables. Columns "early"/"late" and "related"/"not related" each count
  participants with at least one such event, so a participant may appear in both halves of a split.
- "Related": possible, probable or definite causality to the product or the procedure.
- Death: outcome fatal, grade 5 (CTCAE "death related to AE") or the ICH E2A death criterion.
The SAE and death listings show every active event (treatment emergent or not), flagged.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Sequence

GRADES = (1, 2, 3, 4, 5)
SPLITS = ("all", "early", "late", "related", "not_related")


def pct(n: int, denominator: int) -> float | None:
    """Percentage with one decimal; None when there is no denominator."""
    return round(100.0 * n / denominator, 1) if denominator else None


def is_death(ae: dict) -> bool:
    """CTCAE v5.0 grade 5 = death related to AE; ICH E2A seriousness criterion 'results in death'."""
    return ae.get("outcome") == "fatal" or ae.get("grade") == 5 or "death" in (ae.get("seriousness") or [])


def in_split(ae: dict, split: str) -> bool:
    if split == "all":
        return True
    if split in ("early", "late"):
        return ae.get("phase") == split
    return bool(ae.get("related")) == (split == "related")


def analysis_set(participants: Sequence[dict], aes: Iterable[dict]) -> tuple[set[str], list[dict], dict]:
    """(injected subject ids, counted AEs, excluded counts by reason)."""
    injected = {p["subject_id"] for p in participants if p.get("injection_at")}
    counted, excluded = [], {"entered_in_error": 0, "not_treatment_emergent": 0, "not_in_safety_population": 0}
    for ae in aes:
        if ae.get("status", "active") != "active":
            excluded["entered_in_error"] += 1
        elif ae.get("subject_id") not in injected:
            excluded["not_in_safety_population"] += 1
        elif not ae.get("treatment_emergent"):
            excluded["not_treatment_emergent"] += 1
        else:
            counted.append(ae)
    return injected, counted, excluded


def _participants(aes: Iterable[dict]) -> set[str]:
    return {ae["subject_id"] for ae in aes}


def overview(counted: Sequence[dict], n: int) -> list[dict]:
    """Participants (n, %) and events with: any TEAE, related, grade >= 3, serious, related serious, SUSAR, death."""
    groups = [
        ("Any treatment-emergent AE", lambda a: True),
        ("Related AE", lambda a: bool(a.get("related"))),
        ("Grade 3 or higher AE", lambda a: (a.get("grade") or 0) >= 3),
        ("Serious AE", lambda a: bool(a.get("serious"))),
        ("Related serious AE", lambda a: bool(a.get("serious")) and bool(a.get("related"))),
        ("SUSAR", lambda a: bool(a.get("susar"))),
        ("Early AE", lambda a: a.get("phase") == "early"),
        ("Late AE", lambda a: a.get("phase") == "late"),
        ("AE leading to death", is_death),
    ]
    rows = []
    for label, keep in groups:
        events = [a for a in counted if keep(a)]
        k = len(_participants(events))
        rows.append({"label": label, "participants": k, "pct": pct(k, n), "events": len(events)})
    return rows


def by_soc_and_term(counted: Sequence[dict], n: int) -> list[dict]:
    """One row per SOC (term None) followed by its terms; counts of participants per split, and events.

    SOCs alphabetically; terms by descending participant count, then alphabetically.
    """
    soc_sets: dict[str, dict[str, set]] = defaultdict(lambda: {s: set() for s in SPLITS})
    term_sets: dict[tuple[str, str], dict[str, set]] = defaultdict(lambda: {s: set() for s in SPLITS})
    soc_events: dict[str, int] = defaultdict(int)
    term_events: dict[tuple[str, str], int] = defaultdict(int)
    for ae in counted:
        soc, term = ae.get("soc") or "(no SOC)", ae.get("term") or "(no term)"
        soc_events[soc] += 1
        term_events[(soc, term)] += 1
        for s in SPLITS:
            if in_split(ae, s):
                soc_sets[soc][s].add(ae["subject_id"])
                term_sets[(soc, term)][s].add(ae["subject_id"])

    def row(soc, term, sets, events):
        r = {"soc": soc, "term": term, "events": events}
        for s in SPLITS:
            r[s] = len(sets[s])
            r[f"{s}_pct"] = pct(len(sets[s]), n)
        return r

    out = []
    for soc in sorted(soc_sets):
        out.append(row(soc, None, soc_sets[soc], soc_events[soc]))
        terms = sorted((t for (s, t) in term_sets if s == soc), key=lambda t: (-len(term_sets[(soc, t)]["all"]), t))
        out.extend(row(soc, t, term_sets[(soc, t)], term_events[(soc, t)]) for t in terms)
    return out


def by_max_grade(counted: Sequence[dict], n: int) -> list[dict]:
    """Participants by their maximum CTCAE grade (1-5), overall and within each split."""
    rows = {g: {"grade": g} for g in GRADES}
    for s in SPLITS:
        max_grade: dict[str, int] = {}
        for ae in counted:
            if in_split(ae, s) and ae.get("grade") in GRADES:
                sid = ae["subject_id"]
                max_grade[sid] = max(max_grade.get(sid, 0), ae["grade"])
        for g in GRADES:
            k = sum(1 for v in max_grade.values() if v == g)
            rows[g][s], rows[g][f"{s}_pct"] = k, pct(k, n)
    return [rows[g] for g in GRADES]


def by_term_and_max_grade(counted: Sequence[dict], n: int) -> list[dict]:
    """Per SOC and term: participants at each maximum grade for that term (each counted once)."""
    max_grade: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for ae in counted:
        key = (ae.get("soc") or "(no SOC)", ae.get("term") or "(no term)")
        if ae.get("grade") in GRADES:
            sid = ae["subject_id"]
            max_grade[key][sid] = max(max_grade[key].get(sid, 0), ae["grade"])
    out = []
    for (soc, term) in sorted(max_grade):
        grades = max_grade[(soc, term)]
        r = {"soc": soc, "term": term, "any": len(grades), "any_pct": pct(len(grades), n)}
        for g in GRADES:
            r[f"grade{g}"] = sum(1 for v in grades.values() if v == g)
        out.append(r)
    return out


def _listing_row(ae: dict) -> dict:
    keys = ("id", "subject_id", "seq", "term", "grade", "onset", "end_date", "onset_day", "seriousness",
            "related", "expected", "susar", "outcome", "phase", "treatment_emergent")
    return {k: ae.get(k) for k in keys}


def sae_listing(aes: Iterable[dict]) -> list[dict]:
    """Every active serious AE, by subject and sequence."""
    rows = [_listing_row(a) for a in aes if a.get("status", "active") == "active" and a.get("serious")]
    return sorted(rows, key=lambda r: (str(r["subject_id"]), r["seq"] or 0, r["id"] or 0))


def death_listing(aes: Iterable[dict]) -> list[dict]:
    """Every active AE that led to death, by subject and sequence."""
    rows = [_listing_row(a) for a in aes if a.get("status", "active") == "active" and is_death(a)]
    return sorted(rows, key=lambda r: (str(r["subject_id"]), r["seq"] or 0, r["id"] or 0))


def summarize(participants: Sequence[dict], aes: Sequence[dict]) -> dict:
    """All the summary tables for the given participants and AEs (see the module docstring)."""
    aes = list(aes)
    injected, counted, excluded = analysis_set(participants, aes)
    n = len(injected)
    return {
        "denominator": n,
        "participants_enrolled": len(participants),
        "events_counted": len(counted),
        "excluded": excluded,
        "overview": overview(counted, n),
        "by_soc_term": by_soc_and_term(counted, n),
        "by_max_grade": by_max_grade(counted, n),
        "by_term_max_grade": by_term_and_max_grade(counted, n),
        "saes": sae_listing(aes),
        "deaths": death_listing(aes),
    }
