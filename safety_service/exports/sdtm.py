"""CDISC SDTM AE and SUPPAE datasets (SAS XPT v5) and their variable metadata (the source of define.xml).

Sources: CDISC SDTM IG 3.4 section 6.2 (AE domain: variables, labels, assumptions), section 8.4
(supplemental qualifiers), section 4.5.3.2 (text over 200 characters goes to SUPP-- as QNAM
<var>1, <var>2...), CDISC Controlled Terminology (OUT, ACN, NY, TOXGR, EPOCH codelists).

Early/late is sent as the supplemental qualifier AEPHASE, not as EPOCH: EPOCH takes its values
from the trial design (Trial Arms/Subject Elements: the epoch in which the event started,
SDTM IG 3.x section 4.1.4.x "EPOCH"), whereas early/late is a protocol analysis window of time
since injection that is no element of the design, i.e. a non-standard qualifier (SDTM IG 8.4).
EPOCH is still given, derived from the single-injection design: SCREENING before the injection,
TREATMENT on the injection day, FOLLOW-UP after it.

Entered-in-error AEs are not tabulations of events and are left out (counted in define.xml's AE comment).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Sequence

from .meta import ExportError, ExportMeta
from .xpt import MAX_CHAR_BYTES, XptVar, char_lengths, write_xpt

# CDISC CT codelist OUT (Outcome of Event)
AEOUT = {"recovered": "RECOVERED/RESOLVED", "recovering": "RECOVERING/RESOLVING",
         "not_recovered": "NOT RECOVERED/NOT RESOLVED", "recovered_with_sequelae": "RECOVERED/RESOLVED WITH SEQUELAE",
         "fatal": "FATAL", "unknown": "UNKNOWN"}
# CDISC CT codelist ACN (Action Taken with Study Treatment)
AEACN = {"not_applicable": "NOT APPLICABLE", "dose_not_changed": "DOSE NOT CHANGED",
         "drug_withdrawn": "DRUG WITHDRAWN", "drug_interrupted": "DRUG INTERRUPTED", "unknown": "UNKNOWN"}
# AEREL has no CDISC codelist (sponsor-defined, SDTM IG AE assumption on AEREL): ours, listed in the define
AEREL = {"not_related": "NOT RELATED", "unlikely": "UNLIKELY RELATED", "possible": "POSSIBLY RELATED",
         "probable": "PROBABLY RELATED", "definite": "DEFINITELY RELATED"}
# ICH E2A seriousness criteria -> SDTM AES* flags (SDTM IG AE: AESDTH ... AESMIE)
SERIOUSNESS_FLAGS = {"death": "AESDTH", "life_threatening": "AESLIFE", "hospitalization": "AESHOSP",
                     "disability": "AESDISAB", "congenital_anomaly": "AESCONG", "important_medical_event": "AESMIE"}
# Symbols common in clinical free text, spelt in ASCII (XPT v5 holds ASCII only)
ASCII_SPELLING = {"≥": ">=", "≤": "<=", "°": "deg ", "µ": "u", "μ": "u", "±": "+/-", "×": "x", "–": "-",
                  "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...", "\u00a0": " ", "ß": "ss",
                  "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}$")


@dataclass(frozen=True)
class SdtmVar:
    """One variable of a dataset: the single metadata source for the XPT file and define.xml.

    ``origin`` is a Define-XML 2.1 origin type (Collected, Derived, Assigned, Protocol); ``derivation`` becomes
    the define's MethodDef for a Derived variable and a comment otherwise; ``codelist`` names a codelist of
    exports.submission.terminology (or "MedDRA"); ``datatype`` is the define's DataType (default: text for Char,
    integer for Num, datetime for --DTC).
    """

    name: str
    label: str
    type: str  # Char / Num
    role: str
    core: str  # Req / Exp / Perm
    codelist: str = ""
    origin: str = "Collected"
    derivation: str = ""
    datatype: str = ""
    comment: str = ""

    def xpt(self) -> XptVar:
        return XptVar(self.name, self.label, self.type)

    @property
    def data_type(self) -> str:
        if self.datatype:
            return self.datatype
        if self.type == "Num":
            return "integer"
        return "datetime" if self.name.endswith("DTC") else "text"


_LLT_NOTE = ("CTCAE v5.0 terms are MedDRA (v20.1) lowest level terms: AELLT/AELLTCD are the CTCAE term and "
             "its code as CTCAE publishes it")
_PT_NOTE = ("MedDRA PT code: the CTCAE term's own code where the LLT is also a PT (rules/ctcae.toml lists "
            "the PT code where it differs); null for 'Other, specify' terms (their code is the SOC's)")
_NO_HIER = "Not available: the service holds the CTCAE v5.0 catalogue, not the MedDRA hierarchy; always null"

# SDTM IG 3.4 AE domain, in the IG's variable order; labels as published
AE_VARS: tuple[SdtmVar, ...] = (
    SdtmVar("STUDYID", "Study Identifier", "Char", "Identifier", "Req", origin="Protocol"),
    SdtmVar("DOMAIN", "Domain Abbreviation", "Char", "Identifier", "Req", origin="Assigned", comment='"AE"'),
    SdtmVar("USUBJID", "Unique Subject Identifier", "Char", "Identifier", "Req", origin="Derived",
            derivation="STUDYID || '-' || subject id"),
    SdtmVar("AESEQ", "Sequence Number", "Num", "Identifier", "Req", origin="Assigned",
            comment="1..n per subject in order of entry (entered-in-error AEs keep their number, so gaps occur)"),
    SdtmVar("AESPID", "Sponsor-Defined Identifier", "Char", "Identifier", "Perm", origin="Assigned",
            comment="database id of the AE"),
    SdtmVar("AETERM", "Reported Term for the Adverse Event", "Char", "Topic", "Req",
            comment="verbatim; beyond 200 bytes continued in SUPPAE AETERM1.."),
    SdtmVar("AELLT", "Lowest Level Term", "Char", "Variable Qualifier", "Exp", "MedDRA", "Assigned",
            comment=_LLT_NOTE),
    SdtmVar("AELLTCD", "Lowest Level Term Code", "Num", "Variable Qualifier", "Exp", "MedDRA", "Assigned",
            comment=_LLT_NOTE),
    SdtmVar("AEDECOD", "Dictionary-Derived Term", "Char", "Synonym Qualifier", "Req", "MedDRA", "Assigned",
            comment="The CTCAE v5.0 term (a MedDRA LLT; the PT where AEPTCD equals AELLTCD). Where the PT has "
                    "another code its name is not held by the service and the LLT name stands here"),
    SdtmVar("AEPTCD", "Preferred Term Code", "Num", "Variable Qualifier", "Exp", "MedDRA", "Assigned",
            comment=_PT_NOTE),
    SdtmVar("AEHLT", "High Level Term", "Char", "Variable Qualifier", "Exp", "MedDRA", "Assigned", comment=_NO_HIER),
    SdtmVar("AEHLTCD", "High Level Term Code", "Num", "Variable Qualifier", "Exp", "MedDRA", "Assigned",
            comment=_NO_HIER),
    SdtmVar("AEHLGT", "High Level Group Term", "Char", "Variable Qualifier", "Exp", "MedDRA", "Assigned",
            comment=_NO_HIER),
    SdtmVar("AEHLGTCD", "High Level Group Term Code", "Num", "Variable Qualifier", "Exp", "MedDRA", "Assigned",
            comment=_NO_HIER),
    SdtmVar("AEBODSYS", "Body System or Organ Class", "Char", "Record Qualifier", "Exp", "MedDRA", "Assigned",
            comment="MedDRA SOC of the CTCAE v5.0 term (CTCAE's SOC, taken as the primary SOC)"),
    SdtmVar("AEBDSYCD", "Body System or Organ Class Code", "Num", "Record Qualifier", "Exp", "MedDRA", "Assigned",
            comment="MedDRA SOC code, as CTCAE v5.0 publishes it for the SOC's 'Other, specify' term"),
    SdtmVar("AESOC", "Primary System Organ Class", "Char", "Variable Qualifier", "Exp", "MedDRA", "Assigned",
            comment="as AEBODSYS"),
    SdtmVar("AESOCCD", "Primary System Organ Class Code", "Num", "Variable Qualifier", "Exp", "MedDRA", "Assigned",
            comment="as AEBDSYCD"),
    SdtmVar("AESER", "Serious Event", "Char", "Record Qualifier", "Exp", "NY"),
    SdtmVar("AEACN", "Action Taken with Study Treatment", "Char", "Record Qualifier", "Exp", "ACN"),
    SdtmVar("AEACNOTH", "Other Action Taken", "Char", "Record Qualifier", "Perm"),
    SdtmVar("AEREL", "Causality", "Char", "Record Qualifier", "Exp", "REL",
            comment="causality to the UC-MSC product; to the procedure in SUPPAE AERELPRC"),
    SdtmVar("AEOUT", "Outcome of Adverse Event", "Char", "Record Qualifier", "Perm", "OUT"),
    SdtmVar("AESCONG", "Congenital Anomaly or Birth Defect", "Char", "Record Qualifier", "Perm", "NY",
            comment="null when AESER is N"),
    SdtmVar("AESDISAB", "Persist or Signif Disability/Incapacity", "Char", "Record Qualifier", "Perm", "NY",
            comment="null when AESER is N"),
    SdtmVar("AESDTH", "Results in Death", "Char", "Record Qualifier", "Perm", "NY", comment="null when AESER is N"),
    SdtmVar("AESHOSP", "Requires or Prolongs Hospitalization", "Char", "Record Qualifier", "Perm", "NY",
            comment="null when AESER is N"),
    SdtmVar("AESLIFE", "Is Life Threatening", "Char", "Record Qualifier", "Perm", "NY",
            comment="null when AESER is N"),
    SdtmVar("AESMIE", "Other Medically Important Serious Event", "Char", "Record Qualifier", "Perm", "NY",
            comment="null when AESER is N"),
    SdtmVar("AETOXGR", "Standard Toxicity Grade", "Char", "Record Qualifier", "Perm", "TOXGR",
            comment="CTCAE v5.0 grade 1-5"),
    SdtmVar("EPOCH", "Epoch", "Char", "Timing", "Perm", "EPOCH", "Derived",
            "SCREENING if not treatment emergent; TREATMENT on study day 1; FOLLOW-UP after"),
    SdtmVar("AESTDTC", "Start Date/Time of Adverse Event", "Char", "Timing", "Exp"),
    SdtmVar("AEENDTC", "End Date/Time of Adverse Event", "Char", "Timing", "Exp"),
    SdtmVar("AESTDY", "Study Day of Start of Adverse Event", "Num", "Timing", "Perm", origin="Derived",
            derivation="date - RFSTDTC date + 1 on or after it, date - RFSTDTC date before (no day 0)"),
    SdtmVar("AEENDY", "Study Day of End of Adverse Event", "Num", "Timing", "Perm", origin="Derived",
            derivation="date - RFSTDTC date + 1 on or after it, date - RFSTDTC date before (no day 0)"),
)

AE_LABELS = {v.name: v.label for v in AE_VARS}

# SDTM IG 8.4 supplemental qualifier dataset structure
SUPP_VARS: tuple[SdtmVar, ...] = (
    SdtmVar("STUDYID", "Study Identifier", "Char", "Identifier", "Req", origin="Protocol"),
    SdtmVar("RDOMAIN", "Related Domain Abbreviation", "Char", "Identifier", "Req", origin="Assigned"),
    SdtmVar("USUBJID", "Unique Subject Identifier", "Char", "Identifier", "Req", origin="Derived"),
    SdtmVar("IDVAR", "Identifying Variable", "Char", "Identifier", "Exp", origin="Assigned"),
    SdtmVar("IDVARVAL", "Identifying Variable Value", "Char", "Identifier", "Exp", origin="Assigned"),
    SdtmVar("QNAM", "Qualifier Variable Name", "Char", "Topic", "Req", origin="Assigned"),
    SdtmVar("QLABEL", "Qualifier Variable Label", "Char", "Synonym Qualifier", "Req", origin="Assigned"),
    SdtmVar("QVAL", "Data Value", "Char", "Result Qualifier", "Req", origin="Collected",
            comment="origin, label and codelist per QNAM in the value-level metadata (QORIG names it per record)"),
    SdtmVar("QORIG", "Origin", "Char", "Record Qualifier", "Req", origin="Assigned"),
    SdtmVar("QEVAL", "Evaluator", "Char", "Record Qualifier", "Exp", origin="Assigned"),
)

# Our supplemental qualifiers (QNAM <= 8, QLABEL <= 40): label, QORIG, QEVAL, meaning, codelist
SUPP_QUALIFIERS = {
    "AEPHASE": ("Phase of Onset After Injection", "Derived", "", "EARLY or LATE per the protocol's AE windows "
                "(onset on study days 1..early_late_boundary_days of rules/study.toml is EARLY)"),
    "AERELPRC": ("Causality to Study Procedure", "CRF", "INVESTIGATOR", "causality to the intra-renal injection "
                 "procedure, as assessed by the investigator"),
    "AETRTEM": ("Treatment Emergent Flag", "Derived", "", "Y if onset on or after the injection"),
}
SUPP_CODELISTS = {"AEPHASE": "PHASE", "AERELPRC": "REL", "AETRTEM": "NY"}

# MedDRA SOC codes, as CTCAE v5.0 publishes them for each SOC's "<SOC> - Other, specify" term (the one SOC whose
# Other-specify term is worded differently, Musculoskeletal, checked by tests/test_sdtm_meddra.py as well).
MEDDRA_SOC_CODES = {
    "Blood and lymphatic system disorders": 10005329, "Cardiac disorders": 10007541,
    "Congenital, familial and genetic disorders": 10010331, "Ear and labyrinth disorders": 10013993,
    "Endocrine disorders": 10014698, "Eye disorders": 10015919, "Gastrointestinal disorders": 10017947,
    "General disorders and administration site conditions": 10018065, "Hepatobiliary disorders": 10019805,
    "Immune system disorders": 10021428, "Infections and infestations": 10021881,
    "Injury, poisoning and procedural complications": 10022117, "Investigations": 10022891,
    "Metabolism and nutrition disorders": 10027433, "Musculoskeletal and connective tissue disorders": 10028395,
    "Neoplasms benign, malignant and unspecified (incl cysts and polyps)": 10029104,
    "Nervous system disorders": 10029205, "Pregnancy, puerperium and perinatal conditions": 10036585,
    "Psychiatric disorders": 10037175, "Renal and urinary disorders": 10038359,
    "Reproductive system and breast disorders": 10038604, "Respiratory, thoracic and mediastinal disorders": 10038738,
    "Skin and subcutaneous tissue disorders": 10040785, "Social circumstances": 10041244,
    "Surgical and medical procedures": 10042613, "Vascular disorders": 10047065,
}


def to_ascii(text: str | None, field: str, row) -> tuple[str, bool]:
    """ASCII spelling of a text, and whether it changed; ExportError for what has no spelling.

    Accented letters lose their accents (NFKD), common clinical symbols are spelt out.
    """
    if text is None:
        return "", False
    if text.isascii():
        return text, False
    spelt = "".join(ASCII_SPELLING.get(ch, ch) for ch in text)
    out = "".join(ch for ch in unicodedata.normalize("NFKD", spelt) if not unicodedata.combining(ch))
    if not out.isascii():
        bad = sorted({ch for ch in out if not ch.isascii()})
        raise ExportError(f"no ASCII spelling for {''.join(bad)!r} (SAS XPT v5 holds ASCII only)",
                          field=field, row=row)
    return out, True


def split_text(text: str, limit: int = MAX_CHAR_BYTES) -> list[str]:
    """Chunks of <= ``limit`` bytes, split between words where possible (SDTM IG 4.5.3.2)."""
    chunks, rest = [], text
    while len(rest) > limit:
        cut = rest.rfind(" ", 1, limit + 1)
        cut = cut if cut > 0 else limit
        chunks.append(rest[:cut])
        rest = rest[cut:]
    chunks.append(rest)
    return chunks


def overflow_qnam(name: str, k: int) -> str:
    """AETERM -> AETERM1; an 8-letter name is shortened to keep QNAM within 8 characters."""
    suffix = str(k)
    return name[: 8 - len(suffix)] + suffix


class _Builder:
    """Collects AE and SUPPAE records and notes for one export."""

    def __init__(self, meta: ExportMeta, keep_supp: bool = True):
        self.meta = meta
        self.keep_supp = keep_supp  # the AE dataset alone needs no SUPPAE records (a third of an export's work)
        self.ae: list[dict] = []
        self.supp: list[dict] = []
        self.notes: list[str] = []
        self.excluded = 0

    def text(self, value, var: str, ae: dict, usubjid: str, seq) -> str:
        """ASCII text for ``var``; the part beyond 200 bytes goes to SUPPAE as <var>1, <var>2..."""
        if value is None:
            return ""
        if len(value) <= MAX_CHAR_BYTES and value.isascii():  # the common case, kept cheap
            return value
        ascii_text, changed = to_ascii(value, var, ae.get("id"))
        if changed:
            self.notes.append(f"AE {ae.get('id')} {var}: non-ASCII characters spelt in ASCII")
        chunks = split_text(ascii_text)
        label = AE_LABELS[var]
        for k, chunk in enumerate(chunks[1:], start=1):
            self.add_supp(usubjid, seq, overflow_qnam(var, k), chunk, label=label, origin="CRF")
        return chunks[0]

    def add_supp(self, usubjid: str, seq, qnam: str, qval: str, label: str | None = None,
                 origin: str | None = None, evaluator: str = "") -> None:
        if not self.keep_supp:
            return
        if label is None:
            label, origin, evaluator, _ = SUPP_QUALIFIERS[qnam]
        self.supp.append({"STUDYID": self.meta.study_id, "RDOMAIN": "AE", "USUBJID": usubjid, "IDVAR": "AESEQ",
                          "IDVARVAL": str(seq), "QNAM": qnam, "QLABEL": label, "QVAL": qval,
                          "QORIG": origin, "QEVAL": evaluator})


def _coded(mapping: dict, value, var: str, row) -> str:
    if value is None:
        return ""
    try:
        return mapping[value]
    except KeyError:
        raise ExportError(f"{value!r} has no controlled term (expected one of {', '.join(mapping)})",
                          field=var, row=row) from None


def _dtc(date: str | None, time: str | None, var: str, row) -> str:
    """ISO 8601 date or date-time (YYYY-MM-DD or YYYY-MM-DDTHH:MM) as SDTM --DTC."""
    if not date:
        return ""
    if not _DATE.match(date):
        raise ExportError(f"{date!r} is not YYYY-MM-DD", field=var, row=row)
    if time:
        if not _TIME.match(time):
            raise ExportError(f"{time!r} is not HH:MM", field=var, row=row)
        return f"{date}T{time}"
    return date


def _epoch(ae: dict) -> str:
    """Trial design epoch of onset for a single-injection study (see module docstring)."""
    day, te = ae.get("onset_day"), ae.get("treatment_emergent")
    if te is False:
        return "SCREENING"
    if day is None:
        return ""
    if day < 1:
        raise ExportError(f"treatment emergent but study day {day} is before the injection",
                          field="EPOCH", row=ae.get("id"))
    return "TREATMENT" if day == 1 else "FOLLOW-UP"


def _yn(flag) -> str:
    return "" if flag is None else ("Y" if flag else "N")


def meddra(ae: dict, lltcd: int | None, catalogue=None) -> dict:
    """The MedDRA variables the CTCAE v5.0 catalogue supports (see the AE_VARS comments); the rest stay null."""
    soc = ae.get("soc") or ""
    soccd = MEDDRA_SOC_CODES.get(soc)
    term = catalogue.get(ae.get("term")) if catalogue is not None else None
    if lltcd is None or lltcd in MEDDRA_SOC_CODES.values():
        ptcd = None  # an "Other, specify" term carries its SOC's code: the PT is not coded
    elif term is not None and term.meddra_pt_code:
        ptcd = int(term.meddra_pt_code)
    else:
        ptcd = lltcd if catalogue is not None and term is not None else None
    return {"AEPTCD": ptcd, "AEHLT": "", "AEHLTCD": None, "AEHLGT": "", "AEHLGTCD": None,
            "AEBDSYCD": soccd, "AESOCCD": soccd}


_NOT_SERIOUS = {var: "" for var in SERIOUSNESS_FLAGS.values()}


def _plain(text) -> bool:
    """Text that ``_Builder.text`` keeps as it is (nothing to spell or split)."""
    return text is None or (len(text) <= MAX_CHAR_BYTES and text.isascii())


def build(rows: Sequence[dict], meta: ExportMeta, catalogue=None, supp: bool = True) -> _Builder:
    """AE and SUPPAE records (AE only with ``supp`` false), sorted by USUBJID and AESEQ (the AE domain keys).

    ``catalogue`` (the CTCAE catalogue) gives AEPTCD; without it AEPTCD stays null.
    """
    b = _Builder(meta, keep_supp=supp)
    codings: dict[tuple, dict] = {}  # (term, SOC, code) -> the coded variables, the same for every AE of the term
    for ae in sorted(rows, key=lambda r: (str(r.get("subject_id")), r.get("seq") or 0, r.get("id") or 0)):
        if ae.get("status", "active") != "active":
            b.excluded += 1
            continue
        rid, seq = ae.get("id"), ae.get("seq")
        if seq is None or not ae.get("subject_id"):
            raise ExportError("AE without subject or sequence number", field="AESEQ", row=rid)
        usubjid = f"{meta.study_id}-{ae['subject_id']}"
        serious = bool(ae.get("serious"))
        criteria = set(ae.get("seriousness") or [])
        unknown = criteria - set(SERIOUSNESS_FLAGS)
        if unknown:
            raise ExportError(f"unknown seriousness criteria {sorted(unknown)}", field="seriousness", row=rid)
        term, soc, code = ae.get("term"), ae.get("soc"), ae.get("meddra_code")
        coding = codings.get((term, soc, code))
        if coding is None:
            try:
                lltcd = int(code) if code not in (None, "") else None
            except ValueError:
                raise ExportError(f"MedDRA code {code!r} is not numeric", field="AELLTCD", row=rid) from None
            coding = {"AELLT": b.text(term, "AELLT", ae, usubjid, seq), "AELLTCD": lltcd,
                      "AEDECOD": b.text(term, "AEDECOD", ae, usubjid, seq),
                      "AEBODSYS": b.text(soc, "AEBODSYS", ae, usubjid, seq),
                      "AESOC": b.text(soc, "AESOC", ae, usubjid, seq), **meddra(ae, lltcd, catalogue)}
            if _plain(term) and _plain(soc):  # nothing went to SUPPAE or the notes: the same for every such AE
                codings[(term, soc, code)] = coding
        rec = {
            "STUDYID": meta.study_id, "DOMAIN": "AE", "USUBJID": usubjid, "AESEQ": seq, "AESPID": str(rid),
            "AETERM": b.text(ae.get("verbatim") or term, "AETERM", ae, usubjid, seq),
            **coding,
            "AESER": "Y" if serious else "N",
            "AEACN": _coded(AEACN, ae.get("action_taken"), "AEACN", rid),
            "AEACNOTH": b.text(ae.get("other_action"), "AEACNOTH", ae, usubjid, seq),
            "AEREL": _coded(AEREL, ae.get("relatedness_product"), "AEREL", rid),
            "AEOUT": _coded(AEOUT, ae.get("outcome"), "AEOUT", rid),
            "AETOXGR": str(ae["grade"]) if ae.get("grade") is not None else "",
            "EPOCH": _epoch(ae),
            "AESTDTC": _dtc(ae.get("onset"), ae.get("onset_time"), "AESTDTC", rid),
            "AEENDTC": _dtc(ae.get("end_date"), None, "AEENDTC", rid),
            "AESTDY": ae.get("onset_day"), "AEENDY": ae.get("end_day"),
        }
        if serious:
            for criterion, var in SERIOUSNESS_FLAGS.items():
                rec[var] = "Y" if criterion in criteria else "N"
        elif criteria:
            raise ExportError("seriousness criteria given for a non-serious AE", field="AESER", row=rid)
        else:
            rec.update(_NOT_SERIOUS)  # SDTM IG: the criteria flags are null when AESER is N
        b.ae.append(rec)
        if ae.get("phase"):
            b.add_supp(usubjid, seq, "AEPHASE", str(ae["phase"]).upper())
        if ae.get("relatedness_procedure"):
            b.add_supp(usubjid, seq, "AERELPRC", _coded(AEREL, ae["relatedness_procedure"], "AERELPRC", rid))
        if ae.get("treatment_emergent") is not None:
            b.add_supp(usubjid, seq, "AETRTEM", _yn(ae["treatment_emergent"]))
    b.supp.sort(key=lambda r: (r["USUBJID"], int(r["IDVARVAL"]), r["QNAM"]))
    return b


def write_ae_xpt(rows: Sequence[dict], meta: ExportMeta, catalogue=None) -> bytes:
    """The SDTM AE dataset as SAS XPT v5; raises ExportError naming the AE and variable."""
    b = build(rows, meta, catalogue, supp=False)
    return write_xpt([v.xpt() for v in AE_VARS], b.ae, "AE", "Adverse Events", meta.exported_at_utc, "AESPID")


def write_suppae_xpt(rows: Sequence[dict], meta: ExportMeta) -> bytes:
    """The SUPPAE dataset (phase, causality to procedure, treatment emergence, text beyond 200 bytes)."""
    b = build(rows, meta)
    return write_xpt([v.xpt() for v in SUPP_VARS], b.supp, "SUPPAE", "Supplemental Qualifiers for AE",
                     meta.exported_at_utc)
