"""Whether a participant meets the protocol's criteria: each criterion met, not met or unknown, with its evidence.

Lab criteria read the screening values: the latest valid result of each analyte collected before the injection
(before now while not injected). eGFR is the CKD-EPI 2021 value derived from each creatinine, or a reported eGFR.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlite_utils import Database

from ...clock import iso
from ...db import rows
from ..egfr import age_on
from ..numbers import number
from ..units import ANALYTES
from .criteria import Criteria, Criterion


@dataclass(frozen=True)
class Finding:
    """One criterion for one participant. ``fails``: met for an exclusion, not met for an inclusion."""

    criterion: Criterion
    met: bool | None
    evidence: str
    answered_by: str | None = None
    answered_at: str | None = None
    waived_by: int | None = None  # the signed protocol deviation that accepts this failure

    @property
    def fails(self) -> bool:
        return self.met is not None and self.met == (self.criterion.kind == "exclusion")

    def as_dict(self) -> dict:
        c = self.criterion
        return {"id": c.id, "text": c.text, "kind": c.kind, "check": c.check, "met": self.met,
                "evidence": self.evidence, "fails": self.fails, "answered_by": self.answered_by,
                "answered_at": self.answered_at, "waived_by_deviation": self.waived_by}


@dataclass(frozen=True)
class Assessment:
    subject_id: str
    findings: list[Finding]
    deviations: list[dict] = field(default_factory=list)

    @property
    def eligible(self) -> bool | None:
        """False when a criterion fails, None while one is unknown, True when every one is known and passed."""
        if any(f.fails for f in self.findings):
            return False
        return None if any(f.met is None for f in self.findings) else True

    @property
    def failing(self) -> list[str]:
        return [f.criterion.id for f in self.findings if f.fails]

    @property
    def unwaived(self) -> list[str]:
        return [f.criterion.id for f in self.findings if f.fails and f.waived_by is None]

    def as_dict(self) -> dict:
        return {"subject_id": self.subject_id, "eligible": self.eligible,
                "criteria": [f.as_dict() for f in self.findings],
                "deviations": [dict(d, criteria=json.loads(d["criteria"])) for d in self.deviations]}


def _has_status(db: Database) -> bool:
    # labs.status arrives with the lab-corrections migration; before it every stored result counts as valid.
    return "status" in db["labs"].columns_dict


def screening_values(db: Database, p: dict, now: datetime) -> dict[str, dict]:
    """Per analyte, the latest valid result collected before the injection (or before ``now`` if not injected)."""
    until = p["injection_at"] or iso(now)
    valid = "AND status = 'valid'" if _has_status(db) else ""
    found: dict[str, dict] = {}
    for r in rows(db, f"SELECT * FROM labs WHERE participant_id = ? AND collected_at <= ? {valid} "
                      "ORDER BY collected_at, id", (p["id"], until)):
        found[r["analyte"]] = r
        if r["analyte"] == "creatinine" and r["egfr"] is not None:
            # CKD-EPI 2021 eGFR derived from the creatinine (as the protocol's "eGFR by CKD-EPI").
            found["egfr"] = dict(r, analyte="egfr", value_si=r["egfr"], unit_si="mL/min/1.73m2", uln=None,
                                 derived=True)
    return found


def _lab_finding(c: Criterion, values: dict[str, dict]) -> Finding:
    verdicts, evidence = [], []
    for a in c.analytes:
        r = values.get(a)
        if r is None:
            verdicts.append(None)
            evidence.append(f"{ANALYTES[a].label}: no screening result")
            continue
        verdict = c.holds(a, r["value_si"], r.get("uln"))
        verdicts.append(verdict)
        source = "CKD-EPI 2021 from creatinine" if r.get("derived") else "result"
        shown = f"{number(r['value_si'], a, r['unit_si'])} {r['unit_si']}"  # the analyte's clinical precision
        uln = f" (ULN {number(r['uln'], a, r['unit_si'])})" if c.uln_multiple is not None and r.get("uln") is not None else \
            " (no ULN)" if c.uln_multiple is not None else ""
        evidence.append(f"{ANALYTES[a].label} {shown}{uln}, {source} collected {r['collected_at'][:10]}"
                        f" [{c.limit_text(a)}]")
    if c.combine == "all":
        met = False if False in verdicts else (None if None in verdicts else True)
    else:
        met = True if True in verdicts else (None if None in verdicts else False)
    return Finding(c, met, "; ".join(evidence))


def _age_finding(c: Criterion, p: dict) -> Finding:
    age = age_on(date.fromisoformat(p["birth_date"]), date.fromisoformat(p["consent_on"]))
    return Finding(c, c.min <= age <= c.max, f"age {age} on the consent date {p['consent_on']}")


def assess(db: Database, p: dict, criteria: Criteria, now: datetime) -> Assessment:
    """Every criterion of the protocol for the participant, in protocol order."""
    answers = {a["criterion"]: a for a in rows(db, "SELECT * FROM eligibility_answers WHERE participant_id = ?",
                                               (p["id"],))}
    deviations = rows(db, "SELECT * FROM protocol_deviations WHERE participant_id = ? ORDER BY id", (p["id"],))
    waived = {cid: d["id"] for d in deviations for cid in json.loads(d["criteria"])}
    values = screening_values(db, p, now)
    findings = []
    for c in criteria.criteria:
        if c.sex and p["sex"] != c.sex:
            f = Finding(c, False, f"not applicable: the participant is {'female' if p['sex'] == 'F' else 'male'}")
        elif c.check == "age":
            f = _age_finding(c, p)
        elif c.check == "lab":
            f = _lab_finding(c, values)
        elif c.id in answers:
            a = answers[c.id]
            f = Finding(c, bool(a["met"]), a["source_note"], a["answered_by"], a["answered_at"])
        else:
            f = Finding(c, None, "not answered yet")
        if f.fails and c.id in waived:
            f = Finding(c, f.met, f.evidence, f.answered_by, f.answered_at, waived[c.id])
        findings.append(f)
    return Assessment(p["subject_id"], findings, deviations)


