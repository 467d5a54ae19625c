"""The codelists the SDTM package uses: CDISC Controlled Terminology where a codelist exists, sponsor lists otherwise.

NCI codes (C-codes) are given only where we are sure of them; a term without one is still the CDISC submission
value. A term we add to an extensible CDISC codelist is marked ``extended`` (Define-XML 2.1 def:ExtendedValue).
The package's define.xml names CT_VERSION as the terminology standard.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# CDISC SDTM Controlled Terminology package the values follow (named in define.xml def:Standards)
CT_VERSION = "2024-03-29"
MEDDRA_VERSION = "20.1"  # the MedDRA version CTCAE v5.0 is mapped to (NCI CTCAE v5.0, 27 Nov 2017)


@dataclass(frozen=True)
class Term:
    value: str
    nci: str = ""
    decode: str = ""
    extended: bool = False


@dataclass(frozen=True)
class Codelist:
    oid: str
    name: str
    nci: str = ""  # the codelist's C-code; empty for a sponsor-defined list
    extensible: bool = True
    terms: tuple[Term, ...] = field(default_factory=tuple)
    data_type: str = "text"
    comment: str = ""

    @property
    def cdisc(self) -> bool:
        return bool(self.nci)

    def values(self) -> list[str]:
        return [t.value for t in self.terms]


def _cl(oid, name, nci, extensible, *terms, data_type="text", comment="") -> Codelist:
    return Codelist(oid, name, nci, extensible,
                    tuple(t if isinstance(t, Term) else Term(*t) if isinstance(t, tuple) else Term(t) for t in terms),
                    data_type, comment)


# CDISC CT: C66742 No Yes Response
NY = _cl("NY", "No Yes Response", "C66742", False, ("N", "C49487"), ("Y", "C49488"))
# CDISC CT: C66731 Sex
SEX = _cl("SEX", "Sex", "C66731", False, ("F", "C16576"), ("M", "C20197"))
# CDISC CT: C66768 Outcome of Event
OUT = _cl("OUT", "Outcome of Event", "C66768", False, ("FATAL", "C48275"), ("NOT RECOVERED/NOT RESOLVED", "C49494"),
          ("RECOVERED/RESOLVED", "C49498"), ("RECOVERED/RESOLVED WITH SEQUELAE", "C49495"),
          ("RECOVERING/RESOLVING", "C49496"), ("UNKNOWN", "C17998"))
# CDISC CT: C66767 Action Taken with Study Treatment
ACN = _cl("ACN", "Action Taken with Study Treatment", "C66767", False, ("DOSE NOT CHANGED", "C49504"),
          ("DRUG INTERRUPTED", "C49501"), ("DRUG WITHDRAWN", "C49502"), ("NOT APPLICABLE", "C48660"),
          ("UNKNOWN", "C17998"))
# CDISC CT: C66781 Age Unit
AGEU = _cl("AGEU", "Age Unit", "C66781", False, ("YEARS", "C29848"))
# CDISC CT: C99079 Epoch
EPOCH = _cl("EPOCH", "Epoch", "C99079", True, "SCREENING", "TREATMENT", "FOLLOW-UP")
# CDISC CT: C78736 Reference Range Indicator
NRIND = _cl("NRIND", "Reference Range Indicator", "C78736", True, "LOW", "NORMAL", "HIGH")
# CDISC CT: C66729 Route of Administration Response (intra-renal is our addition to this extensible list)
ROUTE = _cl("ROUTE", "Route of Administration Response", "C66729", True, Term("INTRARENAL", extended=True))
# CDISC CT: C66727 Completion/Reason for Non-Completion; C114118 Protocol Milestone
NCOMPLT = _cl("NCOMPLT", "Completion/Reason for Non-Completion", "C66727", True, "COMPLETED", "DEATH",
              "LOST TO FOLLOW-UP", "WITHDRAWAL BY SUBJECT")
PROTMLST = _cl("PROTMLST", "Protocol Milestone", "C114118", True, "INFORMED CONSENT OBTAINED")
# CDISC CT: C74558 Category of Disposition Event
DSCAT = _cl("DSCAT", "Category of Disposition Event", "C74558", False, "DISPOSITION EVENT", "PROTOCOL MILESTONE")
# CDISC CT: C142179 Arm Null Reason
ARMNULRS = _cl("ARMNULRS", "Arm Null Reason", "C142179", False, "ASSIGNED, NOT TREATED")
# CDISC CT: C66726 Pharmaceutical Dosage Form; C71113 Frequency
FRM = _cl("FRM", "Pharmaceutical Dosage Form", "C66726", True, "SUSPENSION")
FREQ = _cl("FREQ", "Frequency", "C71113", True, "ONCE")
# CDISC CT: C65047 Laboratory Test Code, C67154 Laboratory Test Name (filled from exports.submission.lab_tests)
# CDISC CT: C74456 Specimen Type, C71620 Unit: filled with the values the study uses (see lab_tests)

# Sponsor-defined
REL = _cl("REL", "Causality (sponsor)", "", True, "NOT RELATED", "UNLIKELY RELATED", "POSSIBLY RELATED",
          "PROBABLY RELATED", "DEFINITELY RELATED",
          comment="SDTMIG 3.4 AE: AEREL has no CDISC codelist; the investigator's five-point causality scale")
TOXGR = _cl("TOXGR", "CTCAE v5.0 Grade", "", False, ("1", "", "Mild"), ("2", "", "Moderate"),
            ("3", "", "Severe or medically significant"), ("4", "", "Life-threatening"),
            ("5", "", "Death related to AE"), comment="NCI CTCAE v5.0 (27 Nov 2017) grades")
PHASE = _cl("PHASE", "Phase of AE Onset", "", False, "EARLY", "LATE",
            comment="the protocol's early/late AE windows (rules/study.toml early_late_boundary_days)")
ARMCD = _cl("ARMCD", "Planned Arm Code", "", False, ("UCMSC", "", "UC-MSC 1 x 10^6 cells/kg"))
ARM = _cl("ARM", "Description of Planned Arm", "", False, "UC-MSC 1 x 10^6 cells/kg")

FIXED = {c.oid: c for c in (NY, SEX, OUT, ACN, AGEU, EPOCH, NRIND, ROUTE, NCOMPLT, PROTMLST, DSCAT, ARMNULRS, FRM,
                            FREQ, REL, TOXGR, PHASE, ARMCD, ARM)}
