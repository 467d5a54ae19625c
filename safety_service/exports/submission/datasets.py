"""Dataset and variable metadata of the SDTM package (SDTMIG 3.4): one source for the XPT files and define.xml.

Variables are listed in SDTMIG 3.4 order with their published labels; every Required and Expected variable of
a domain is present (null where the service does not know the value, and the define says why).
AE and SUPPAE keep their metadata in exports/sdtm.py, which the AE-only export shares.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..sdtm import AE_VARS, SUPP_VARS, SdtmVar as V

STUDY_DAY = "date - RFSTDTC date + 1 on or after it, date - RFSTDTC date before (no day 0)"
EPOCH_BY_TIME = ("SCREENING before the injection (RFXSTDTC), TREATMENT later on the injection day, FOLLOW-UP on "
                 "later days")


def _ident(domain: str, seq: bool = True) -> tuple[V, ...]:
    out = (V("STUDYID", "Study Identifier", "Char", "Identifier", "Req", origin="Protocol"),
           V("DOMAIN", "Domain Abbreviation", "Char", "Identifier", "Req", origin="Assigned", comment=f'"{domain}"'),
           V("USUBJID", "Unique Subject Identifier", "Char", "Identifier", "Req", origin="Derived",
             derivation="STUDYID || '-' || subject id"))
    if seq:
        out += (V(f"{domain}SEQ", "Sequence Number", "Num", "Identifier", "Req", origin="Derived",
                  derivation=f"1..n per subject in the order of the dataset's keys"),)
    return out


def _dy(name: str, label: str) -> V:
    return V(name, label, "Num", "Timing", "Perm", origin="Derived", derivation=STUDY_DAY)


def _epoch(derivation: str = EPOCH_BY_TIME) -> V:
    return V("EPOCH", "Epoch", "Char", "Timing", "Perm", "EPOCH", "Derived", derivation)


DM_VARS = (
    *_ident("DM", seq=False),
    V("SUBJID", "Subject Identifier for the Study", "Char", "Topic", "Req", origin="Assigned",
      comment="the site's subject id (site-number)"),
    V("RFSTDTC", "Subject Reference Start Date/Time", "Char", "Record Qualifier", "Exp", origin="Derived",
      derivation="the UC-MSC injection, in the study's local time (the day study days count from)"),
    V("RFENDTC", "Subject Reference End Date/Time", "Char", "Record Qualifier", "Exp", origin="Derived",
      derivation="end of participation (date of completion, withdrawal, loss to follow-up or death); null while "
                 "the participant is on study"),
    V("RFXSTDTC", "Date/Time of First Study Treatment", "Char", "Record Qualifier", "Exp", origin="Derived",
      derivation="the UC-MSC injection, local time"),
    V("RFXENDTC", "Date/Time of Last Study Treatment", "Char", "Record Qualifier", "Exp", origin="Derived",
      derivation="the UC-MSC injection (a single dose), local time"),
    V("RFICDTC", "Date/Time of Informed Consent", "Char", "Record Qualifier", "Exp", datatype="date"),
    V("RFPENDTC", "Date/Time of End of Participation", "Char", "Record Qualifier", "Exp", origin="Derived",
      derivation="as RFENDTC"),
    V("DTHDTC", "Date/Time of Death", "Char", "Record Qualifier", "Exp", origin="Derived",
      derivation="participant status 'died' date, else the end date of a fatal AE"),
    V("DTHFL", "Subject Death Flag", "Char", "Record Qualifier", "Exp", "NY", "Derived",
      "Y when the participant died (status or a fatal AE), else null"),
    V("SITEID", "Study Site Identifier", "Char", "Record Qualifier", "Req"),
    V("AGE", "Age", "Num", "Record Qualifier", "Exp", origin="Derived",
      derivation="whole years from the birth date to informed consent"),
    V("AGEU", "Age Units", "Char", "Variable Qualifier", "Exp", "AGEU", "Assigned"),
    V("SEX", "Sex", "Char", "Record Qualifier", "Req", "SEX"),
    V("RACE", "Race", "Char", "Record Qualifier", "Exp",
      origin="Collected", comment="not collected by the safety service: always null"),
    V("ARMCD", "Planned Arm Code", "Char", "Record Qualifier", "Exp", "ARMCD", "Assigned",
      comment="single-arm study: every enrolled participant is assigned UCMSC"),
    V("ARM", "Description of Planned Arm", "Char", "Synonym Qualifier", "Exp", "ARM", "Assigned"),
    V("ACTARMCD", "Actual Arm Code", "Char", "Record Qualifier", "Exp", "ARMCD", "Derived",
      "UCMSC when injected; null otherwise (ARMNRS says why)"),
    V("ACTARM", "Description of Actual Arm", "Char", "Synonym Qualifier", "Exp", "ARM", "Derived",
      "as ACTARMCD"),
    V("ARMNRS", "Reason Arm and/or Actual Arm is Null", "Char", "Record Qualifier", "Exp", "ARMNULRS", "Derived",
      "ASSIGNED, NOT TREATED for an enrolled participant not (yet) injected"),
    V("ACTARMUD", "Description of Unplanned Actual Arm", "Char", "Record Qualifier", "Exp", origin="Assigned",
      comment="no unplanned treatment in a single-dose single-arm study: always null"),
    V("COUNTRY", "Country", "Char", "Record Qualifier", "Req", origin="Protocol",
      comment="ISO 3166-1 alpha-3 code of the site's country from rules/study.toml [[sites]] country"),
)

EX_VARS = (
    *_ident("EX"),
    V("EXTRT", "Name of Treatment", "Char", "Topic", "Req", origin="Protocol"),
    V("EXDOSE", "Dose", "Num", "Record Qualifier", "Exp", origin="Protocol", datatype="float",
      comment="cells per kg body weight (rules/study.toml dose_cells_per_kg)"),
    V("EXDOSU", "Dose Units", "Char", "Variable Qualifier", "Exp", origin="Protocol"),
    V("EXDOSFRM", "Dose Form", "Char", "Variable Qualifier", "Exp", "FRM", "Protocol"),
    V("EXDOSFRQ", "Dosing Frequency per Interval", "Char", "Variable Qualifier", "Perm", "FREQ", "Protocol"),
    V("EXROUTE", "Route of Administration", "Char", "Variable Qualifier", "Perm", "ROUTE", "Protocol"),
    _epoch("TREATMENT (the injection)"),
    V("EXSTDTC", "Start Date/Time of Treatment", "Char", "Timing", "Exp"),
    V("EXENDTC", "End Date/Time of Treatment", "Char", "Timing", "Exp", comment="a single injection: as EXSTDTC"),
    _dy("EXSTDY", "Study Day of Start of Treatment"),
    _dy("EXENDY", "Study Day of End of Treatment"),
)

LB_VARS = (
    *_ident("LB"),
    V("LBSPID", "Sponsor-Defined Identifier", "Char", "Identifier", "Perm", origin="Assigned",
      comment="database id of the lab result"),
    V("LBTESTCD", "Lab Test or Examination Short Name", "Char", "Topic", "Req", "LBTESTCD", "Assigned"),
    V("LBTEST", "Lab Test or Examination Name", "Char", "Synonym Qualifier", "Req", "LBTEST", "Assigned"),
    V("LBCAT", "Category for Lab Test", "Char", "Grouping Qualifier", "Exp", origin="Assigned"),
    V("LBORRES", "Result or Finding in Original Units", "Char", "Result Qualifier", "Exp"),
    V("LBORRESU", "Original Units", "Char", "Variable Qualifier", "Exp", "UNIT"),
    V("LBORNRLO", "Reference Range Lower Limit in Orig Unit", "Char", "Variable Qualifier", "Exp",
      origin="Derived", derivation="the lower limit in the standard unit converted back to the original unit"),
    V("LBORNRHI", "Reference Range Upper Limit in Orig Unit", "Char", "Variable Qualifier", "Exp",
      origin="Derived", derivation="the upper limit in the standard unit converted back to the original unit"),
    V("LBSTRESC", "Character Result/Finding in Std Format", "Char", "Result Qualifier", "Exp", origin="Derived",
      derivation="LBSTRESN as text"),
    V("LBSTRESN", "Numeric Result/Finding in Standard Units", "Num", "Result Qualifier", "Exp", origin="Derived",
      derivation="the value converted exactly (Decimal) to the analyte's standard unit (safety_service/domain/"
                 "units.py); for eGFR records derived from a creatinine: CKD-EPI 2021", datatype="float"),
    V("LBSTRESU", "Standard Units", "Char", "Variable Qualifier", "Exp", "UNIT", "Assigned"),
    V("LBSTNRLO", "Reference Range Lower Limit-Std Units", "Num", "Variable Qualifier", "Exp", datatype="float",
      comment="the laboratory's limit as entered, else the study's range for the sex (rules/study.toml)"),
    V("LBSTNRHI", "Reference Range Upper Limit-Std Units", "Num", "Variable Qualifier", "Exp", datatype="float",
      comment="the laboratory's limit as entered, else the study's range for the sex (rules/study.toml)"),
    V("LBNRIND", "Reference Range Indicator", "Char", "Variable Qualifier", "Exp", "NRIND", "Derived",
      "LOW below LBSTNRLO, HIGH above LBSTNRHI, NORMAL within (limits included); null without a range"),
    V("LBSPEC", "Specimen Type", "Char", "Record Qualifier", "Perm", "SPEC", "Assigned"),
    V("LBLOBXFL", "Last Observation Before Exposure Flag", "Char", "Record Qualifier", "Exp", "NY", "Derived",
      "Y on the last result of the test collected before RFXSTDTC (the injection instant); null otherwise"),
    V("LBDRVFL", "Derived Flag", "Char", "Record Qualifier", "Perm", "NY", "Derived",
      "Y on eGFR records the service derived from a creatinine (CKD-EPI 2021)"),
    V("LBTOX", "Toxicity", "Char", "Variable Qualifier", "Perm", origin="Derived",
      derivation="the CTCAE v5.0 term graded from the result (safety_service/domain/lab_grading.py)"),
    V("LBTOXGR", "Standard Toxicity Grade", "Char", "Record Qualifier", "Exp", "TOXGR", "Derived",
      "the CTCAE v5.0 grade of the result (lab_grading.py, CTCAE v5.0 lab criteria); null when not graded"),
    V("VISITNUM", "Visit Number", "Num", "Timing", "Exp", origin="Derived", datatype="float",
      derivation="VISITNUM of the visit the sample was taken at (rules/study.toml order; unscheduled: the "
                 "preceding planned visit + 0.01)"),
    V("VISIT", "Visit Name", "Char", "Timing", "Perm", origin="Derived", derivation="the visit's label"),
    _epoch(),
    V("LBDTC", "Date/Time of Specimen Collection", "Char", "Timing", "Exp",
      comment="local time of the study (SAFETY_TIMEZONE)"),
    _dy("LBDY", "Study Day of Specimen Collection"),
)

SV_VARS = (
    *_ident("SV", seq=False),
    V("VISITNUM", "Visit Number", "Num", "Topic", "Req", origin="Derived", datatype="float",
      derivation="rules/study.toml visit order (SCREENING 1, INJECTION DAY 2, follow-up visits 3..); unscheduled: "
                 "the preceding planned visit + 0.01"),
    V("VISIT", "Visit Name", "Char", "Synonym Qualifier", "Perm", origin="Derived", derivation="the visit's label"),
    V("VISITDY", "Planned Study Day of Visit", "Num", "Timing", "Perm", origin="Protocol",
      comment="target day of the visit in rules/study.toml counted as a study day (injection day = 1)"),
    _epoch("SCREENING before the injection day, TREATMENT on it, FOLLOW-UP after"),
    V("SVSTDTC", "Start Date/Time of Observation", "Char", "Timing", "Exp", datatype="date"),
    V("SVENDTC", "End Date/Time of Observation", "Char", "Timing", "Exp", datatype="date"),
    _dy("SVSTDY", "Study Day of Start of Observation"),
    _dy("SVENDY", "Study Day of End of Observation"),
)

DS_VARS = (
    *_ident("DS"),
    V("DSTERM", "Reported Term for the Disposition Event", "Char", "Topic", "Req",
      comment="the reason recorded with the participant's status, else the standard term"),
    V("DSDECOD", "Standardized Disposition Term", "Char", "Synonym Qualifier", "Req", "DSDECOD", "Assigned"),
    V("DSCAT", "Category for Disposition Event", "Char", "Grouping Qualifier", "Exp", "DSCAT", "Assigned"),
    _epoch("SCREENING before the injection day, TREATMENT on it, FOLLOW-UP after"),
    V("DSSTDTC", "Start Date/Time of Disposition Event", "Char", "Timing", "Exp", datatype="date"),
    _dy("DSSTDY", "Study Day of Start of Disposition Event"),
)

CM_VARS = (
    *_ident("CM", seq=False),
    V("CMSEQ", "Sequence Number", "Num", "Identifier", "Req", origin="Assigned",
      comment="the con-med's number for the subject (CM1, CM2...), unique per subject"),
    V("CMSPID", "Sponsor-Defined Identifier", "Char", "Identifier", "Perm", origin="Assigned",
      comment="database id of the con-med"),
    V("CMTRT", "Reported Name of Drug, Med, or Therapy", "Char", "Topic", "Req"),
    V("CMINDC", "Indication", "Char", "Record Qualifier", "Perm"),
    V("CMDOSE", "Dose per Administration", "Num", "Record Qualifier", "Perm", datatype="float"),
    V("CMDOSU", "Dose Units", "Char", "Variable Qualifier", "Perm",
      comment="as recorded by the site (free text, upper case)"),
    V("CMROUTE", "Route of Administration", "Char", "Variable Qualifier", "Perm", "ROUTE",
      comment="the site's choice of route, as its CDISC term (domain/history/conmeds.py ROUTES)"),
    _epoch("by CMSTDTC: SCREENING before the injection day, TREATMENT on it, FOLLOW-UP after; null for a "
           "partial date"),
    V("CMSTDTC", "Start Date/Time of Medication", "Char", "Timing", "Perm", datatype="partialDate"),
    V("CMENDTC", "End Date/Time of Medication", "Char", "Timing", "Perm", datatype="partialDate"),
    _dy("CMSTDY", "Study Day of Start of Medication"),
    _dy("CMENDY", "Study Day of End of Medication"),
    V("CMENRTPT", "End Relative to Reference Time Point", "Char", "Timing", "Perm", origin="Derived",
      derivation="ONGOING when the site marked the medication ongoing"),
    V("CMENTPT", "End Reference Time Point", "Char", "Timing", "Perm", origin="Derived",
      derivation="the date the site last confirmed the record (local date of its last change)"),
)

MH_VARS = (
    *_ident("MH", seq=False),
    V("MHSEQ", "Sequence Number", "Num", "Identifier", "Req", origin="Assigned",
      comment="the history record's number for the subject, unique per subject"),
    V("MHSPID", "Sponsor-Defined Identifier", "Char", "Identifier", "Perm", origin="Assigned",
      comment="database id of the record"),
    V("MHTERM", "Reported Term for the Medical History", "Char", "Topic", "Req"),
    V("MHSTDTC", "Start Date/Time of Medical History Event", "Char", "Timing", "Perm", datatype="partialDate"),
    V("MHENRTPT", "End Relative to Reference Time Point", "Char", "Timing", "Perm", origin="Derived",
      derivation="ONGOING when the site marked the condition ongoing"),
    V("MHENTPT", "End Reference Time Point", "Char", "Timing", "Perm", origin="Derived",
      derivation="the date the site last confirmed the record (local date of its last change)"),
)


@dataclass(frozen=True)
class Dataset:
    name: str
    label: str
    cls: str  # Define-XML 2.1 def:Class
    structure: str
    keys: tuple[str, ...]  # the records' sort order, as define.xml's KeySequence says
    variables: tuple[V, ...]
    comment: str = ""

    @property
    def file(self) -> str:
        return f"{self.name.lower()}.xpt"

    def var(self, name: str) -> V:
        return next(v for v in self.variables if v.name == name)


DM = Dataset("DM", "Demographics", "SPECIAL PURPOSE", "One record per subject", ("STUDYID", "USUBJID"), DM_VARS)
SV = Dataset("SV", "Subject Visits", "SPECIAL PURPOSE", "One record per actual visit per subject",
             ("STUDYID", "USUBJID", "VISITNUM"), SV_VARS)
EX = Dataset("EX", "Exposure", "INTERVENTIONS", "One record per constant dosing interval per subject",
             ("STUDYID", "USUBJID", "EXTRT", "EXSTDTC"), EX_VARS)
CM = Dataset("CM", "Concomitant/Concurrent Medications", "INTERVENTIONS", "One record per recorded medication "
             "occurrence or constant-dosing interval per subject", ("STUDYID", "USUBJID", "CMSEQ"), CM_VARS)
AE = Dataset("AE", "Adverse Events", "EVENTS", "One record per adverse event per subject",
             ("STUDYID", "USUBJID", "AESEQ"), AE_VARS)
DS = Dataset("DS", "Disposition", "EVENTS", "One record per disposition status or protocol milestone per subject",
             ("STUDYID", "USUBJID", "DSSTDTC", "DSDECOD"), DS_VARS)
MH = Dataset("MH", "Medical History", "EVENTS", "One record per medical history event per subject",
             ("STUDYID", "USUBJID", "MHSEQ"), MH_VARS)
LB = Dataset("LB", "Laboratory Test Results", "FINDINGS", "One record per lab test per time point per visit "
             "per subject", ("STUDYID", "USUBJID", "LBTESTCD", "LBDTC", "LBSPID"), LB_VARS)
SUPPAE = Dataset("SUPPAE", "Supplemental Qualifiers for AE", "RELATIONSHIP",
                 "One record per IDVAR, IDVARVAL, and QNAM value per subject",
                 ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM"), SUPP_VARS)

# Package order: SDTMIG class order (special purpose, interventions, events, findings, relationship)
PACKAGE: tuple[Dataset, ...] = (DM, SV, EX, CM, AE, DS, MH, LB, SUPPAE)
AE_ONLY: tuple[Dataset, ...] = (AE, SUPPAE)
