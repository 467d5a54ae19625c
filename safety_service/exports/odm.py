"""CDISC ODM 1.3.2 export: the study's metadata and its clinical data, as an EDC (REDCap, OpenClinica) reads it.

Study metadata: one StudyEventDef per visit of rules/study.toml (plus screening, day 0, unscheduled and a common
event for the logs), FormDefs for demographics, visits, labs, AEs, con-meds and medical history, ItemDefs with
their DataType and CodeLists with the stored codes and their labels. ClinicalData: one SubjectData per
participant, each form with an AuditRecord of its last change (who, when, why) from the records' own audit
columns and the audit trail. The file states the audit chain head it was made at (ODM/@Description).

Written in one pass and streamed: one cursor per table, ordered by subject, merged as subjects go by, so memory
holds one participant at a time whatever the study's size. The same rows and anchor give the same bytes.
Entered-in-error AEs, labs and con-meds/history are left out unless asked for (then with their status).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping
from xml.sax.saxutils import escape, quoteattr

from sqlite_utils import Database

from ..domain import adverse_events, labels, labs
from ..domain.history import conmeds as cm_domain
from ..domain.permissions import site_scope
from ..domain.study import Study
from ..domain.units import ANALYTES
from .meta import ExportError

NS = "http://www.cdisc.org/ns/odm/v1.3"
MDV = "MDV.1"
# XML 1.0 (the version ODM 1.3.2 uses) cannot carry these characters at all, not even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Item:
    """One ItemDef: OID, SDTM-like name, ODM DataType, question, how to read it from a row, codelist."""

    oid: str
    name: str
    datatype: str
    question: str
    get: Callable[[dict], Any]
    length: int | None = None
    codelist: str | None = None
    mandatory: bool = False
    key: str | None = None  # the row's column, when the value is read as it is


def _col(key: str) -> Callable[[dict], Any]:
    return lambda r: r.get(key)


def _crit(code: str) -> Callable[[dict], Any]:
    return lambda r: (code in r["seriousness"]) if r.get("serious") is not None else None


def I(oid, name, datatype, question, key=None, length=None, codelist=None, mandatory=False,  # noqa: E743
      get=None) -> Item:
    """An Item read from ``key`` of the row (or by ``get``)."""
    return Item(oid, name, datatype, question, get or _col(key), length, codelist, mandatory, None if get else key)


# ODM 1.3.2 DataTypes: text, integer, float, date, datetime, boolean, partialDate (ISO 8601 dates with only the
# year or year-month known, as CDISC SDTMIG --STDTC allows).
DM_ITEMS = (
    I("IT.DM.SITEID", "SITEID", "text", "Site", "site", 8, mandatory=True),
    I("IT.DM.SEX", "SEX", "text", "Sex", "sex", 1, "CL.SEX", True),
    I("IT.DM.BRTHDTC", "BRTHDTC", "date", "Date of birth", "birth_date"),
    I("IT.DM.WEIGHT", "WEIGHT", "float", "Weight (kg)", "weight_kg"),
    I("IT.DM.RFICDTC", "RFICDTC", "date", "Informed consent date", "consent_on"),
    I("IT.DM.ENRLDTC", "ENRLDTC", "date", "Enrolment date", "enrolled_on"),
    I("IT.DM.RFXSTDTC", "RFXSTDTC", "datetime", "Injection (UC-MSC) date and time", "injection_at"),
    I("IT.DM.DOSE", "EXDOSE", "float", "Dose (cells; protocol 1 x 10^6 cells/kg)", "dose_cells"),
    I("IT.DM.STATUS", "DSDECOD", "text", "Participant status", "status", 20, "CL.PSTATUS"),
    I("IT.DM.STATUSDT", "DSSTDTC", "date", "Date of the status (left the study)", "status_on"),
    I("IT.DM.STATUSRS", "DSTERM", "text", "Reason for the status", "status_reason", 200),
)
SV_ITEMS = (I("IT.SV.SVSTDTC", "SVSTDTC", "date", "Visit date", "visit_date", mandatory=True),)
LAB_ITEMS = (
    I("IT.LB.TESTCD", "LBTESTCD", "text", "Analyte", "analyte", 20, "CL.ANALYTE", True),
    I("IT.LB.DTC", "LBDTC", "datetime", "Collected at", "collected_at", mandatory=True),
    I("IT.LB.ORRES", "LBORRES", "float", "Result as entered", "value", mandatory=True),
    I("IT.LB.ORRESU", "LBORRESU", "text", "Unit as entered", "unit", 20),
    I("IT.LB.STRESN", "LBSTRESN", "float", "Result in the canonical unit", "value_si"),
    I("IT.LB.STRESU", "LBSTRESU", "text", "Canonical unit", "unit_si", 20),
    I("IT.LB.LLN", "LBSTNRLO", "float", "Lower limit of normal (canonical unit)", "lln"),
    I("IT.LB.ULN", "LBSTNRHI", "float", "Upper limit of normal (canonical unit)", "uln"),
    I("IT.LB.EGFR", "EGFR", "float", "eGFR, CKD-EPI 2021 (mL/min/1.73 m2)", "egfr"),
    I("IT.LB.TOXGR", "LBTOXGR", "integer", "CTCAE v5.0 grade", "ctcae_grade", 1, "CL.GRADE"),
    I("IT.LB.TOX", "LBTOX", "text", "CTCAE v5.0 term graded against", "ctcae_term", 200),
    I("IT.LB.STATUS", "LBSTAT", "text", "Record status", "status", 20, "CL.STATUS"),
)
AE_ITEMS = (
    I("IT.AE.AESEQ", "AESEQ", "integer", "AE number within the participant", "seq", 8, mandatory=True),
    I("IT.AE.AETERM", "AETERM", "text", "Verbatim term", "verbatim", 200, mandatory=True),
    I("IT.AE.AEDECOD", "AEDECOD", "text", "CTCAE v5.0 term", "term", 200, mandatory=True),
    I("IT.AE.AELLTCD", "AELLTCD", "text", "MedDRA LLT code of the CTCAE term", "meddra_code", 8),
    I("IT.AE.AESOC", "AESOC", "text", "MedDRA system organ class", "soc", 200),
    I("IT.AE.AETOXGR", "AETOXGR", "integer", "CTCAE v5.0 grade", "grade", 1, "CL.GRADE", True),
    I("IT.AE.AESTDTC", "AESTDTC", "date", "Onset date", "onset", mandatory=True),
    I("IT.AE.AESTTM", "AESTTM", "text", "Onset time (HH:MM, site time)", "onset_time", 5),
    I("IT.AE.AEENDTC", "AEENDTC", "date", "End date", "end_date"),
    I("IT.AE.AESTDY", "AESTDY", "integer", "Study day of onset (no day 0)", "onset_day"),
    I("IT.AE.AEENDY", "AEENDY", "integer", "Study day of end", "end_day"),
    I("IT.AE.PHASE", "AEPHASE", "text", "Early or late after the injection (protocol)", "phase", 5, "CL.PHASE"),
    I("IT.AE.TEAE", "TEAE", "boolean", "Treatment emergent", "treatment_emergent"),
    I("IT.AE.AESER", "AESER", "boolean", "Serious (ICH E2A)", "serious", mandatory=True),
    I("IT.AE.AESDTH", "AESDTH", "boolean", "Results in death", get=_crit("death")),
    I("IT.AE.AESLIFE", "AESLIFE", "boolean", "Life-threatening", get=_crit("life_threatening")),
    I("IT.AE.AESHOSP", "AESHOSP", "boolean", "Hospitalization (initial or prolonged)", get=_crit("hospitalization")),
    I("IT.AE.AESDISAB", "AESDISAB", "boolean", "Persistent or significant disability", get=_crit("disability")),
    I("IT.AE.AESCONG", "AESCONG", "boolean", "Congenital anomaly", get=_crit("congenital_anomaly")),
    I("IT.AE.AESMIE", "AESMIE", "boolean", "Other important medical event", get=_crit("important_medical_event")),
    I("IT.AE.RELPROD", "AEREL", "text", "Related to the cells (UC-MSC)", "relatedness_product", 20, "CL.REL", True),
    I("IT.AE.RELPROC", "AERELPRC", "text", "Related to the injection procedure", "relatedness_procedure", 20,
      "CL.REL", True),
    I("IT.AE.EXPECTED", "AEEXPECT", "boolean", "Expected (investigator brochure)", "expected"),
    I("IT.AE.SUSAR", "SUSAR", "boolean", "Suspected unexpected serious adverse reaction", "susar"),
    I("IT.AE.AEACN", "AEACN", "text", "Action taken with the cells", "action_taken", 20, "CL.ACN"),
    I("IT.AE.AEACNOTH", "AEACNOTH", "text", "Other action taken", "other_action", 200),
    I("IT.AE.AEOUT", "AEOUT", "text", "Outcome", "outcome", 30, "CL.OUT", True),
    I("IT.AE.AWARE", "AWAREDTC", "datetime", "When the site learned of it", "awareness_at"),
    I("IT.AE.REPDUE", "REPDUEDTC", "datetime", "SAE report due (24 h, ICH E2A)", "report_due_at"),
    I("IT.AE.DESC", "AEDESC", "text", "Description", "description", 4000),
    I("IT.AE.TREAT", "AETRTCM", "text", "Treatment given (con-med numbers)", "treatment_given", 200),
    I("IT.AE.STATUS", "AESTAT", "text", "Record status", "status", 20, "CL.STATUS"),
    I("IT.AE.VERSION", "AEVERS", "integer", "Record version", "version", 4),
)
CM_ITEMS = (
    I("IT.CM.CMSEQ", "CMSEQ", "integer", "Con-med number within the participant", "seq", 8, mandatory=True),
    I("IT.CM.CMTRT", "CMTRT", "text", "Medication", "name", 200, mandatory=True),
    I("IT.CM.CMDOSE", "CMDOSE", "float", "Dose", "dose"),
    I("IT.CM.CMDOSU", "CMDOSU", "text", "Dose unit", "unit", 20),
    I("IT.CM.CMROUTE", "CMROUTE", "text", "Route", "route", 20, "CL.ROUTE"),
    I("IT.CM.CMINDC", "CMINDC", "text", "Indication", "indication", 200),
    I("IT.CM.CMSTDTC", "CMSTDTC", "partialDate", "Start date", "start_date"),
    I("IT.CM.CMENDTC", "CMENDTC", "partialDate", "Stop date", "stop_date"),
    I("IT.CM.ONGOING", "CMONGO", "boolean", "Ongoing", "ongoing"),
    I("IT.CM.STATUS", "CMSTAT", "text", "Record status", "status", 20, "CL.STATUS"),
)
MH_ITEMS = (
    I("IT.MH.MHSEQ", "MHSEQ", "integer", "Medical history number within the participant", "seq", 8, mandatory=True),
    I("IT.MH.MHTERM", "MHTERM", "text", "Condition", "condition", 200, mandatory=True),
    I("IT.MH.MHSTDTC", "MHSTDTC", "partialDate", "Onset", "onset"),
    I("IT.MH.ONGOING", "MHONGO", "boolean", "Ongoing", "ongoing"),
    I("IT.MH.STATUS", "MHSTAT", "text", "Record status", "status", 20, "CL.STATUS"),
)


@dataclass(frozen=True)
class Form:
    oid: str
    name: str
    repeating: bool
    group: str
    domain: str
    items: tuple[Item, ...]


FORMS = (
    Form("F.DM", "Demographics and participation", False, "IG.DM", "DM", DM_ITEMS),
    Form("F.SV", "Visit", False, "IG.SV", "SV", SV_ITEMS),
    Form("F.LB", "Laboratory result", True, "IG.LB", "LB", LAB_ITEMS),
    Form("F.AE", "Adverse event", True, "IG.AE", "AE", AE_ITEMS),
    Form("F.CM", "Concomitant medication", True, "IG.CM", "CM", CM_ITEMS),
    Form("F.MH", "Medical history", True, "IG.MH", "MH", MH_ITEMS),
)
FORM = {f.oid: f for f in FORMS}
COMMON = "SE.COMMON"
UNSCHEDULED = "SE.UNS"


def codelists() -> dict[str, tuple[str, str, list[tuple[str, str]]]]:
    """{OID: (name, DataType, [(coded value, decode)])}: the stored codes with the labels people read."""
    grades = [(str(g), f"Grade {g}") for g in range(1, 6)]  # CTCAE v5.0 grades 1 (mild) to 5 (death related to AE)
    return {
        "CL.SEX": ("Sex", "text", labels.choices("sex")),
        "CL.PSTATUS": ("Participant status", "text", labels.choices("participant_status")),
        "CL.ANALYTE": ("Analyte", "text", [(k, a.label) for k, a in ANALYTES.items()]),
        "CL.GRADE": ("CTCAE v5.0 grade", "integer", grades),
        "CL.PHASE": ("AE phase", "text", labels.choices("phase")),
        "CL.REL": ("Relatedness", "text", labels.choices("relatedness")),
        "CL.ACN": ("Action taken", "text", labels.choices("action_taken")),
        "CL.OUT": ("Outcome", "text", labels.choices("outcome")),
        "CL.ROUTE": ("Route", "text", labels.choices("route")),
        "CL.STATUS": ("Record status", "text", labels.choices("status")),
    }


def events(study: Study) -> list[tuple[str, str, str, bool, tuple[str, ...]]]:
    """(OID, name, ODM event Type, repeating, form OIDs), in protocol order."""
    out = [("SE.SCR", "Screening", "Scheduled", False, ("F.LB",)),
           ("SE.D0", "Day 0 (injection)", "Scheduled", False, ("F.LB",))]
    out += [(f"SE.{v.code}", v.label, "Scheduled", False, ("F.SV", "F.LB")) for v in study.visits]
    out += [(UNSCHEDULED, "Unscheduled", "Unscheduled", False, ("F.LB",)),
            (COMMON, "Participant logs", "Common", False, ("F.DM", "F.AE", "F.CM", "F.MH"))]
    return out


# ---------------------------------------------------------------------------------------------------- writing

# Anything an attribute value cannot hold as it is: markup characters, and the whitespace an XML parser would
# normalise to a space (so a newline in a description survives the round trip as &#10;).
_SPECIAL = re.compile('[&<>"\n\r\t\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]')


def _attr(value) -> str:
    text = str(value)
    if _SPECIAL.search(text) is None:  # the common case, kept fast: 100,000 AEs x 30 items
        return f'"{text}"'
    bad = _NOT_XML.search(text)
    if bad:
        raise ExportError(f"contains a character XML cannot carry (U+{ord(bad[0]):04X})", field="odm")
    return quoteattr(text)


def _text(value) -> str:
    text = str(value)
    if _NOT_XML.search(text):
        raise ExportError("contains a character XML cannot carry", field="odm")
    return escape(text)


def _tt(tag: str, text: str) -> str:
    return f'<{tag}><TranslatedText xml:lang="en">{_text(text)}</TranslatedText></{tag}>'


def metadata(study: Study) -> str:
    """The Study element: global variables, units, the metadata version."""
    out = [f"<Study OID={_attr(study.study_id)}>", "<GlobalVariables>",
           f"<StudyName>{_text(study.study_id)}</StudyName>",
           f"<StudyDescription>{_text(study.title)}</StudyDescription>",
           f"<ProtocolName>{_text(study.study_id)}</ProtocolName>", "</GlobalVariables>",
           f'<MetaDataVersion OID="{MDV}" Name="Safety data, version 1" Description="Forms of the trial safety '
           f'service: demographics, visits, labs, adverse events, con-meds, medical history">', "<Protocol>"]
    evs = events(study)
    out += [f'<StudyEventRef StudyEventOID="{oid}" OrderNumber="{n}" Mandatory="No"/>'
            for n, (oid, *_rest) in enumerate(evs, start=1)]
    out.append("</Protocol>")
    for oid, name, kind, repeating, forms in evs:
        out.append(f'<StudyEventDef OID="{oid}" Name={_attr(name)} Repeating="{"Yes" if repeating else "No"}" '
                   f'Type="{kind}">')
        out += [f'<FormRef FormOID="{f}" OrderNumber="{n}" Mandatory="No"/>' for n, f in enumerate(forms, 1)]
        out.append("</StudyEventDef>")
    for f in FORMS:
        out.append(f'<FormDef OID="{f.oid}" Name={_attr(f.name)} Repeating="{"Yes" if f.repeating else "No"}">'
                   f'<ItemGroupRef ItemGroupOID="{f.group}" Mandatory="Yes"/></FormDef>')
    for f in FORMS:
        out.append(f'<ItemGroupDef OID="{f.group}" Name={_attr(f.name)} Repeating="No" Domain="{f.domain}" '
                   f'SASDatasetName="{f.domain}">')
        out += [f'<ItemRef ItemOID="{i.oid}" OrderNumber="{n}" Mandatory="{"Yes" if i.mandatory else "No"}"/>'
                for n, i in enumerate(f.items, 1)]
        out.append("</ItemGroupDef>")
    for f in FORMS:
        for i in f.items:
            length = f' Length="{i.length}"' if i.length and i.datatype in ("text", "integer") else ""
            out.append(f'<ItemDef OID="{i.oid}" Name="{i.name}" DataType="{i.datatype}"{length} '
                       f'SASFieldName="{i.name[:8]}">{_tt("Question", i.question)}'
                       + (f'<CodeListRef CodeListOID="{i.codelist}"/>' if i.codelist else "") + "</ItemDef>")
    for oid, (name, datatype, entries) in codelists().items():
        out.append(f'<CodeList OID="{oid}" Name={_attr(name)} DataType="{datatype}">')
        out += [f"<CodeListItem CodedValue={_attr(code)}>{_tt('Decode', text)}</CodeListItem>"
                for code, text in entries]
        out.append("</CodeList>")
    out += ["</MetaDataVersion>", "</Study>"]
    return "\n".join(out) + "\n"


def user_oid(actor: str) -> str:
    return f"USR.{actor}"


def _audit(user: str | None, site: str, at: str | None, reason: str | None = None) -> str:
    """An AuditRecord (ODM 1.3.2: UserRef, LocationRef, DateTimeStamp, ReasonForChange)."""
    why = f"<ReasonForChange>{_text(reason)}</ReasonForChange>" if reason else ""
    return (f'<AuditRecord><UserRef UserOID={_attr(user_oid(user or "unknown"))}/>'
            f'<LocationRef LocationOID="LOC.{site}"/>'
            f"<DateTimeStamp>{at}</DateTimeStamp>{why}</AuditRecord>")


# How each DataType's value is written, as an expression on ``v`` (the same rules as ODM 1.3.2 reads them back).
_VALUE = {"boolean": "('true' if v else 'false')", "float": "repr(float(v))", "integer": "str(int(v))"}


def _compile(form: Form) -> Callable[[dict, str, str], str]:
    """The FormData writer of one form, compiled once from its ItemDefs: (row, audit record, repeat key) -> XML.

    Why generated: an export of 100,000 AEs writes three million ItemData, and a generic loop over the items (a
    getter and a converter call each) cost twice the sqlite3 dump. The source is made from the ItemDefs above
    only, never from data; an item is left out when its value is None or empty, as before.
    """
    env = {"_attr": _attr, "_SPECIAL": _SPECIAL}
    lines = ["def render(row, audit, key):",
             f"    out = ['<FormData FormOID=\"{form.oid}\"', key, '>', audit, "
             f"'<ItemGroupData ItemGroupOID=\"{form.group}\">']"]
    for n, item in enumerate(form.items):
        if item.key is not None:
            read = f"row.get({item.key!r})"
        else:
            env[f"get{n}"] = item.get
            read = f"get{n}(row)"
        prefix = f'<ItemData ItemOID="{item.oid}" Value='
        lines += [f"    v = {read}", "    if v is not None and v != '':"]
        if item.datatype in _VALUE:
            lines.append(f"        out.append({prefix + chr(34)!r} + {_VALUE[item.datatype]} + '\"/>')")
        else:  # text: quoted as it is unless it holds markup or whitespace an XML parser would normalise
            lines += ["        t = v if v.__class__ is str else str(v)",
                      f"        out.append({prefix!r} + ('\"' + t + '\"' if _SPECIAL.search(t) is None "
                      f"else _attr(t)) + '/>')"]
    lines += ["    out.append('</ItemGroupData></FormData>')", "    return ''.join(out)"]
    exec(compile("\n".join(lines), f"<odm form {form.oid}>", "exec"), env)  # noqa: S102 (our own ItemDefs)
    return env["render"]


_RENDER: dict[str, Callable[[dict, str, str], str]] = {}


def _form(form: Form, row: dict, audit: str, repeat_key=None) -> str:
    render = _RENDER.get(form.oid) or _RENDER.setdefault(form.oid, _compile(form))
    return render(row, audit, f' FormRepeatKey="{repeat_key}"' if repeat_key is not None else "")


@dataclass
class Selection:
    """What goes in: the user's scope, the AE list's filters, entered-in-error records or not."""

    user: dict | None
    filters: dict
    include_entered_in_error: bool = False


def _ae_where(sel: Selection) -> tuple[str, list]:
    """The AE list's filters (adverse_events.list_aes: same names, same meaning), as SQL on alias ``a``."""
    f = adverse_events._parse_filters({k: v for k, v in sel.filters.items()
                                       if k in adverse_events.LIST_FILTERS})
    clauses, params = [], []
    if not sel.include_entered_in_error:
        clauses.append("a.status = 'active'")
    scope = site_scope(sel.user)
    if scope:
        clauses.append("a.site = ?")
        params.append(scope)
    for key, sql in (("subject_id", "a.subject_id = ?"), ("site", "a.site = ?"), ("serious", "a.serious = ?"),
                     ("related", "a.related = ?"), ("min_grade", "a.grade >= ?"), ("phase", "a.phase = ?"),
                     ("from", "a.onset >= ?"), ("to", "a.onset <= ?")):
        if key in f:
            clauses.append(sql)
            params.append(int(f[key]) if isinstance(f[key], bool) else f[key])
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _subject_clauses(sel: Selection, alias: str) -> tuple[list[str], list]:
    """Participants in scope: the user's site, and the subject_id/site filters (columns of ``alias``)."""
    clauses, params = [], []
    for value, col in ((site_scope(sel.user), "site"), (sel.filters.get("site"), "site"),
                       (sel.filters.get("subject_id"), "subject_id")):
        if value:
            clauses.append(f"{alias}.{col} = ?")
            params.append(value)
    return clauses, params


def _where(clauses: list[str]) -> str:
    return (" WHERE " + " AND ".join(clauses)) if clauses else ""


def _date_range(sel: Selection, column: str) -> tuple[list[str], list]:
    """The from/to filters on another record's date (labs, visits): the same data cut as the AEs'."""
    clauses, params = [], []
    if sel.filters.get("from"):
        clauses.append(f"substr({column}, 1, 10) >= ?")
        params.append(str(sel.filters["from"]))
    if sel.filters.get("to"):
        clauses.append(f"substr({column}, 1, 10) <= ?")
        params.append(str(sel.filters["to"]))
    return clauses, params


def _grouped(cursor, key: str = "subject_id") -> Iterator[tuple[str, list[dict]]]:
    """(subject, rows) from a cursor ordered by subject."""
    cols = [d[0] for d in cursor.description]
    current, bucket = None, []
    for values in cursor:
        r = dict(zip(cols, values))
        if r[key] != current:
            if bucket:
                yield current, bucket
            current, bucket = r[key], []
        bucket.append(r)
    if bucket:
        yield current, bucket


class _Merge:
    """Rows of one table for the subject asked, from a cursor ordered by subject (subjects asked in order)."""

    def __init__(self, cursor):
        self._it = _grouped(cursor)
        self._next = next(self._it, None)

    def take(self, subject: str) -> list[dict]:
        while self._next is not None and self._next[0] < subject:
            self._next = next(self._it, None)
        if self._next is not None and self._next[0] == subject:
            rows, self._next = self._next[1], next(self._it, None)
            return rows
        return []


def _reasons(db: Database, entity: str) -> dict[str, str]:
    """{record id: reason of its latest change that gave one} from the audit trail (con-meds, history)."""
    out = {}
    for eid, reason in db.execute("SELECT entity_id, reason FROM audit_log WHERE entity = ? AND reason IS NOT NULL "
                                  "AND action IN ('amend', 'entered_in_error') ORDER BY id", [entity]):
        out[eid] = reason
    return out


def _actors(db: Database, sel: Selection) -> list[tuple[str, str]]:
    """(login, full name) of everyone whose change is in the file's audit records."""
    clauses, params = _subject_clauses(sel, "p")
    where = _where(clauses)
    sql = " UNION ".join(
        f"SELECT t.{col} AS who FROM {table} t JOIN participants p ON p.id = t.participant_id{where}"
        for table, col in (("visits", "recorded_by"), ("labs", "entered_by"), ("labs", "error_by"),
                           ("adverse_events", "updated_by"), ("conmeds", "updated_by"),
                           ("medical_history", "updated_by")))
    sql += f" UNION SELECT p.created_by FROM participants p{where}"
    names = dict(db.execute("SELECT email, name FROM users").fetchall())
    found = sorted({r[0] for r in db.execute(sql, params * 7) if r[0]} | {"unknown"})
    return [(who, names.get(who, "")) for who in found]


def write(db: Database, sink, *, study: Study, sites: Mapping[str, str], selection: Selection, now: datetime,
          anchor: str, file_oid: str) -> tuple[int, str]:
    """Stream the ODM document to ``sink`` (a binary writer). Returns (AEs written, SHA-256 of the bytes).

    Raises InvalidInput for a bad filter, ExportError for a value XML cannot carry.
    """
    sel = selection
    digest = hashlib.sha256()
    buffer: list[str] = []
    size = 0

    def out(text: str) -> None:
        nonlocal size
        buffer.append(text)
        size += len(text)
        if size > 1 << 16:
            flush()

    def flush() -> None:
        nonlocal size
        data = "".join(buffer).encode("utf-8")
        buffer.clear()
        size = 0
        digest.update(data)
        sink.write(data)

    ae_where, ae_params = _ae_where(sel)  # validates the filters before a byte is written
    created = now.astimezone(timezone.utc).isoformat(timespec="seconds")
    description = (f"{study.study_id} safety data exported {created}; audit chain head (safety audit anchor) "
                   f"{anchor}")
    out('<?xml version="1.0" encoding="UTF-8"?>\n')
    out(f'<ODM xmlns="{NS}" ODMVersion="1.3.2" FileType="Snapshot" FileOID={_attr(file_oid)} '
        f'CreationDateTime="{created}" AsOfDateTime="{created}" Originator="Trial safety service" '
        f'SourceSystem="safety_service" Description={_attr(description)}>\n')
    out(metadata(study))
    out(f'<AdminData StudyOID={_attr(study.study_id)}>\n')
    for who, name in _actors(db, sel):
        full = f"<FullName>{_text(name)}</FullName>" if name else ""
        out(f"<User OID={_attr(user_oid(who))}><LoginName>{_text(who)}</LoginName>{full}</User>\n")
    effective = now.date().isoformat()
    for code, name in sites.items():
        out(f'<Location OID="LOC.{code}" Name={_attr(name)} LocationType="Site"><MetaDataVersionRef '
            f'StudyOID={_attr(study.study_id)} MetaDataVersionOID="{MDV}" EffectiveDate="{effective}"/></Location>\n')
    out("</AdminData>\n")
    out(f'<ClinicalData StudyOID={_attr(study.study_id)} MetaDataVersionOID="{MDV}">\n')

    p_clauses, p_params = _subject_clauses(sel, "p")
    people = db.conn.execute(f"SELECT * FROM participants p{_where(p_clauses)} ORDER BY p.subject_id", p_params)
    v_clauses, v_params = _date_range(sel, "v.visit_date")
    visits = _Merge(db.conn.execute(
        f"SELECT p.subject_id, p.site, v.* FROM visits v JOIN participants p ON p.id = v.participant_id"
        f"{_where(p_clauses + v_clauses)} ORDER BY p.subject_id, v.visit", p_params + v_params))
    l_clauses, l_params = _subject_clauses(sel, "l")
    if not sel.include_entered_in_error:
        l_clauses.append("l.status = 'valid'")  # entered-in-error results leave every default export
    d_clauses, d_params = _date_range(sel, "l.collected_at")
    lab_rows = _Merge(db.conn.execute(f"{labs.CURRENT}{_where(l_clauses + d_clauses)} "
                                      f"ORDER BY l.subject_id, l.collected_at, l.id", l_params + d_params))
    aes = _Merge(db.conn.execute(
        f"SELECT a.*, v.reason AS change_reason FROM adverse_events a LEFT JOIN ae_versions v ON v.ae_id = a.id "
        f"AND v.version = a.version{ae_where} ORDER BY a.subject_id, a.seq", ae_params))
    links = _Merge(db.conn.execute(
        "SELECT c.subject_id, l.ae_id, c.seq FROM ae_conmeds l JOIN conmeds c ON c.id = l.conmed_id "
        "WHERE c.status = 'active' ORDER BY c.subject_id, l.ae_id, c.seq"))
    h_status = "" if sel.include_entered_in_error else " AND status = 'active'"
    cms = _Merge(db.conn.execute(f"SELECT * FROM conmeds WHERE 1 = 1{h_status} ORDER BY subject_id, seq"))
    mhs = _Merge(db.conn.execute(f"SELECT * FROM medical_history WHERE 1 = 1{h_status} ORDER BY subject_id, seq"))
    cm_reasons, mh_reasons = _reasons(db, cm_domain.KIND.entity), _reasons(db, "medical_history")
    visit_events = [f"SE.{v.code}" for v in study.visits]
    order = ["SE.SCR", "SE.D0", *visit_events, UNSCHEDULED]
    known = {e[3:] for e in order} - {"UNS"}
    n_aes = 0
    criteria: dict[str, list] = {}  # parsed seriousness lists, read only
    for p in _grouped(people):
        p = p[1][0]
        sid, site = p["subject_id"], p["site"]
        by_event: dict[str, list[str]] = {e: [] for e in order}
        for v in visits.take(sid):
            if f"SE.{v['visit']}" in by_event:
                by_event[f"SE.{v['visit']}"].append(_form(FORM["F.SV"], v, _audit(v["recorded_by"], site,
                                                                                   v["recorded_at"])))
        for r in lab_rows.take(sid):
            r = labs.current(r)
            event = f"SE.{r['visit']}" if r.get("visit") in known else UNSCHEDULED
            if r.get("status") == "entered_in_error":
                audit = _audit(r["error_by"], site, r["error_at"], r["error_reason"])
            elif r.get("regrade_id"):
                audit = _audit(r["entered_by"], site, r["regraded_at"], f"re-graded: {r['regrade_reason']}")
            else:
                audit = _audit(r["entered_by"], site, r["entered_at"])
            by_event[event].append(_form(FORM["F.LB"], r, audit, r["id"]))
        treated: dict[int, list[str]] = {}
        for link in links.take(sid):
            treated.setdefault(link["ae_id"], []).append(f"CM{link['seq']}")
        common = [_form(FORM["F.DM"], p, _audit(p["created_by"], site, p["created_at"]))]
        for a in aes.take(sid):
            # stored 0/1 flags are written as booleans by their items; only the criteria list needs parsing
            raw = a["seriousness"] or "[]"
            if raw not in criteria:  # a few distinct lists in a whole study
                criteria[raw] = json.loads(raw)
            a["seriousness"] = criteria[raw]
            a["treatment_given"] = "; ".join(treated.get(a["id"], [])) or None
            common.append(_form(FORM["F.AE"], a, _audit(a["updated_by"], site, a["updated_at"], a["change_reason"]),
                                a["seq"]))
            n_aes += 1
        for c in cms.take(sid):
            common.append(_form(FORM["F.CM"], c, _audit(c["updated_by"], site, c["updated_at"],
                                                         cm_reasons.get(str(c["id"]))), c["seq"]))
        for m in mhs.take(sid):
            common.append(_form(FORM["F.MH"], m, _audit(m["updated_by"], site, m["updated_at"],
                                                         mh_reasons.get(str(m["id"]))), m["seq"]))
        out(f"<SubjectData SubjectKey={_attr(sid)}><SiteRef LocationOID=\"LOC.{site}\"/>\n")
        for event in order:
            if by_event[event]:
                out(f'<StudyEventData StudyEventOID="{event}">' + "".join(by_event[event]) + "</StudyEventData>\n")
        out(f'<StudyEventData StudyEventOID="{COMMON}">' + "".join(common) + "</StudyEventData>\n")
        out("</SubjectData>\n")
    out("</ClinicalData>\n</ODM>\n")
    flush()
    return n_aes, digest.hexdigest()


MEDIA_TYPE = "application/xml"


def export(db: Database, sink, filters: Mapping, *, user: dict | None, actor: str, now: datetime, study: Study,
           name: str | None = None):
    """Write the ODM file for a user (site scope, the AE list's filters) to ``sink`` and record the export in the
    audit trail (what, filters, AEs, SHA-256 and the anchor the file states) after the last byte.

    Returns the service's ExportFile (``data`` empty: the bytes went to ``sink``). Raises InvalidInput (filters),
    ExportError (a value XML cannot carry).
    """
    from ..domain import audit
    from . import service

    f = dict(filters)
    include = bool(f.pop("include_entered_in_error", False))
    anchor = audit.anchor(db)
    stamp = service.stamp(now)
    file_name = name or f"{study.study_id}_odm_{stamp}.xml"
    rows, sha = write(db, sink, study=study, sites={s.code: s.name for s in study.sites},
                      selection=Selection(user, f, include), now=now, anchor=anchor,
                      file_oid=f"{study.study_id}.ODM.{stamp}")
    done = service.ExportFile(file_name, MEDIA_TYPE, b"", rows, sha, {"audit_anchor": anchor})
    return service.record(db, done, kind="odm", fmt="xml", filters=filters, actor=actor, now=now)
