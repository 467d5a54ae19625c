"""CDISC Define-XML 2.1 for SDTM datasets, written from the datasets' variable metadata and the records written.

Sources: CDISC Define-XML Specification v2.1 (ItemGroupDef, ItemDef, CodeList, def:ValueListDef,
def:WhereClauseDef, MethodDef, def:CommentDef, def:Origin, def:Standards, def:leaf); ODM 1.3.2. Lengths are the
longest value written (as the XPT files store them); a codelist lists the terms the study can produce; value-level
metadata describes SUPPAE.QVAL per QNAM and LB results per LBTESTCD. Every dataset carries a comment naming the
audit chain head (``ID:HASH``) it was made at. Element and attribute order is fixed, so the same records and
context give the same bytes.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Sequence

from .. import sdtm
from ..meta import ExportMeta
from . import terminology as ct
from .datasets import Dataset

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ET.register_namespace("", ODM_NS)
ET.register_namespace("def", DEF_NS)
ET.register_namespace("xlink", XLINK_NS)

SDTMIG = ("STD.SDTMIG", "SDTMIG", "3.4")
CT_STD = "STD.CT.SDTM"
SOURCES = {"Collected": "Investigator", "Assigned": "Sponsor", "Protocol": "Sponsor"}
# value-level metadata: (dataset, variable) -> the variable whose value selects the row set
VALUE_LEVEL = {("SUPPAE", "QVAL"): "QNAM", ("LB", "LBORRES"): "LBTESTCD", ("LB", "LBSTRESN"): "LBTESTCD"}


def _o(tag: str) -> str:
    return f"{{{ODM_NS}}}{tag}"


def _d(tag: str) -> str:
    return f"{{{DEF_NS}}}{tag}"


def _sub(parent, tag: str, attrs: dict | None = None, text: str | None = None):
    el = ET.SubElement(parent, tag, {k: str(v) for k, v in (attrs or {}).items() if v not in (None, "")})
    if text is not None:
        el.text = text
    return el


def _description(parent, text: str, tag: str = "Description"):
    d = _sub(parent, _o(tag) if tag == "Description" else tag)
    _sub(d, _o("TranslatedText"), {XML_LANG: "en"}, text)
    return d


@dataclass
class Context:
    """What the define says besides the datasets: the study, the export, the audit chain head, notes."""

    study_id: str
    study_title: str
    meta: ExportMeta
    anchor: str
    left_out: dict = field(default_factory=dict)
    notes: Sequence[str] = ()
    guide: str | None = None  # file name of the reviewer's guide, when the package has one


def _num_length(values) -> tuple[int, int]:
    """(Length, SignificantDigits) of numbers as written: digits before and after the point."""
    length, digits = 1, 0
    for text in {repr(float(v)) for v in set(values) if v is not None and v == v}:  # each distinct value once
        if "e" in text:
            text = format(Decimal(text).normalize(), "f")
        whole, _, frac = text.lstrip("-").partition(".")
        frac = "" if frac == "0" else frac
        length, digits = max(length, len(whole) + len(frac)), max(digits, len(frac))
    return length, digits


def _lengths(var, values) -> dict:
    dt = var.data_type
    if dt in ("text",):
        return {"Length": max(1, max(map(len, filter(None, values)), default=0))}
    if dt == "integer":
        return {"Length": _num_length(values)[0]}
    if dt == "float":
        length, digits = _num_length(values)
        return {"Length": length, "SignificantDigits": digits}
    return {}


class _Codelists:
    """The codelists referenced, fixed (terminology) or made from the values the records hold."""

    def __init__(self, records: dict[str, list[dict]]):
        self.records = records
        self.used: dict[str, ct.Codelist] = {}

    def _values(self, *pairs) -> list[str]:
        return sorted({r.get(var) for ds, var in pairs for r in self.records.get(ds, []) if r.get(var)})

    def get(self, key: str) -> ct.Codelist | None:
        if key in self.used:
            return self.used[key]
        if key in ct.FIXED:
            cl = ct.FIXED[key]
        elif key == "ROUTE":
            extended = {t.value for t in ct.ROUTE.terms if t.extended}
            cl = ct.Codelist("ROUTE", ct.ROUTE.name, ct.ROUTE.nci, True,
                             tuple(ct.Term(v, extended=v in extended)
                                   for v in self._values(("EX", "EXROUTE"), ("CM", "CMROUTE")) or ["INTRARENAL"]))
        elif key == "DSDECOD":
            cl = ct.Codelist("DSDECOD", "Standardized Disposition Term", "", True,
                             ct.NCOMPLT.terms + ct.PROTMLST.terms,
                             comment="CDISC CT C66727 (Completion/Reason for Non-Completion) for disposition events, "
                                     "C114118 (Protocol Milestone) for protocol milestones")
        elif key in ("LBTESTCD", "LBTEST", "UNIT", "SPEC"):
            nci, name, pairs = {"LBTESTCD": ("C65047", "Laboratory Test Code", (("LB", "LBTESTCD"),)),
                                "LBTEST": ("C67154", "Laboratory Test Name", (("LB", "LBTEST"),)),
                                "UNIT": ("C71620", "Unit", (("LB", "LBORRESU"), ("LB", "LBSTRESU"))),
                                "SPEC": ("C78734", "Specimen Type", (("LB", "LBSPEC"),))}[key]
            cl = ct.Codelist(key, name, nci, True, tuple(ct.Term(v) for v in self._values(*pairs)))
        elif key == "MedDRA":
            cl = ct.Codelist("MedDRA", "MedDRA", "", True, (), comment="external dictionary")
        else:
            return None
        if not cl.terms and not key.startswith("MedDRA"):
            return None  # nothing recorded yet: a codelist needs at least one term (Define-XML 2.1 schema)
        self.used[key] = cl
        return cl


def _origin(parent, var) -> None:
    _sub(parent, _d("Origin"), {"Type": var.origin, "Source": SOURCES.get(var.origin)})


def write_define(datasets: Sequence[tuple[Dataset, list[dict]]], ctx: Context, columns: dict | None = None) -> bytes:
    """Define-XML 2.1 describing ``datasets`` (each with the records written to its XPT file); ``columns``
    {dataset: {variable: values}} saves reading the values out of the records again."""
    records = {ds.name: recs for ds, recs in datasets}
    created = ctx.meta.exported_at_iso
    root = ET.Element(_o("ODM"), {
        "FileType": "Snapshot", "FileOID": f"DEFINE.{ctx.study_id}.{ctx.meta.exported_at_utc:%Y%m%dT%H%M%SZ}",
        "ODMVersion": "1.3.2", "CreationDateTime": created, "Originator": "Trial safety service",
        "SourceSystem": "safety-service", "SourceSystemVersion": "0.1.0", _d("Context"): "Submission"})
    study = _sub(root, _o("Study"), {"OID": f"STUDY.{ctx.study_id}"})
    gv = _sub(study, _o("GlobalVariables"))
    _sub(gv, _o("StudyName"), text=ctx.study_id)
    _sub(gv, _o("StudyDescription"), text=ctx.study_title)
    _sub(gv, _o("ProtocolName"), text=ctx.study_id)
    mdv = _sub(study, _o("MetaDataVersion"), {
        "OID": f"MDV.{ctx.study_id}.SDTMIG.3.4", "Name": f"{ctx.study_id} SDTM",
        "Description": f"SDTM datasets of {ctx.study_id} made at audit chain head {ctx.anchor}",
        _d("DefineVersion"): "2.1.0", _d("CommentOID"): "COM.MDV"})
    stds = _sub(mdv, _d("Standards"))
    _sub(stds, _d("Standard"), {"OID": SDTMIG[0], "Name": SDTMIG[1], "Type": "IG", "Version": SDTMIG[2],
                                "Status": "Final"})
    _sub(stds, _d("Standard"), {"OID": CT_STD, "Name": "CDISC/NCI", "Type": "CT", "PublishingSet": "SDTM",
                                "Version": ct.CT_VERSION, "Status": "Final"})
    if ctx.guide:
        _sub(_sub(mdv, _d("SupplementalDoc")), _d("DocumentRef"), {"leafID": "LF.GUIDE"})

    cls = _Codelists(records)
    comments: list[tuple[str, str]] = [("COM.MDV", _mdv_comment(ctx))]
    methods: dict[str, str] = {}
    value_lists, where_clauses, vl_items = [], {}, []

    def method_for(ds_name: str, var) -> str | None:
        if var.origin != "Derived" or not var.derivation:
            return None
        oid = f"MT.{ds_name}.{var.name}"
        methods[oid] = var.derivation
        return oid

    # value-level metadata: one ItemDef per selecting value, each behind a where clause
    vlm_refs: dict[tuple[str, str], str] = {}
    for (ds_name, var_name), by in VALUE_LEVEL.items():
        recs = records.get(ds_name)
        if recs is None or not recs:
            continue
        ds = next(d for d, _ in datasets if d.name == ds_name)
        var = ds.var(var_name)
        groups: dict[str, list[dict]] = {}
        for r in recs:
            groups.setdefault(r[by], []).append(r)
        vl_oid = f"VL.{ds_name}.{var_name}"
        vlm_refs[(ds_name, var_name)] = vl_oid
        vl = ET.Element(_d("ValueListDef"), {"OID": vl_oid})
        for order, key in enumerate(_vlm_order(ds_name, groups), start=1):
            item_oid, wc_oid = f"IT.{ds_name}.{var_name}.{key}", f"WC.{ds_name}.{by}.{key}"
            ref = _sub(vl, _o("ItemRef"), {"ItemOID": item_oid, "OrderNumber": order, "Mandatory": "No",
                                           "MethodOID": _vlm_method(ds_name, key, methods)})
            _sub(ref, _d("WhereClauseRef"), {"WhereClauseOID": wc_oid})
            if wc_oid not in where_clauses:  # LBORRES and LBSTRESN share the LBTESTCD clauses
                wc = where_clauses[wc_oid] = ET.Element(_d("WhereClauseDef"), {"OID": wc_oid})
                rc = _sub(wc, _o("RangeCheck"), {"Comparator": "EQ", "SoftHard": "Soft",
                                                 _d("ItemOID"): f"IT.{ds_name}.{by}"})
                _sub(rc, _o("CheckValue"), text=key)
            vl_items.append(_vlm_item(ds_name, var, key, groups[key], item_oid, cls, comments))
        value_lists.append(vl)
    for el in value_lists + list(where_clauses.values()):
        mdv.append(el)

    item_defs = []
    for ds, recs in datasets:
        g = _sub(mdv, _o("ItemGroupDef"), {
            "OID": f"IG.{ds.name}", "Domain": "AE" if ds.name == "SUPPAE" else ds.name, "Name": ds.name,
            "Repeating": "No" if ds.name == "DM" else "Yes", "IsReferenceData": "No", "SASDatasetName": ds.name,
            "Purpose": "Tabulation", _d("Structure"): ds.structure, _d("ArchiveLocationID"): f"LF.{ds.name}",
            _d("CommentOID"): f"COM.{ds.name}", _d("StandardOID"): SDTMIG[0],
            _d("HasNoData"): "Yes" if not recs else None})
        _description(g, ds.label)
        comments.append((f"COM.{ds.name}", _dataset_comment(ds, ctx)))
        for order, var in enumerate(ds.variables, start=1):
            key_seq = ds.keys.index(var.name) + 1 if var.name in ds.keys else None
            _sub(g, _o("ItemRef"), {"ItemOID": f"IT.{ds.name}.{var.name}", "OrderNumber": order,
                                   "Mandatory": "Yes" if var.core == "Req" else "No", "KeySequence": key_seq,
                                   "MethodOID": method_for(ds.name, var), "Role": var.role})
            values = columns[ds.name][var.name] if columns else [r.get(var.name) for r in recs]
            item_defs.append(_item_def(ds, var, values, cls, comments, vlm_refs.get((ds.name, var.name))))
        if ds.name == "SUPPAE":
            _sub(g, _o("Alias"), {"Context": "DomainDescription", "Name": "Adverse Events"})
        _sub(g, _d("Class"), {"Name": ds.cls})
        leaf = _sub(g, _d("leaf"), {"ID": f"LF.{ds.name}", f"{{{XLINK_NS}}}href": ds.file})
        _sub(leaf, _d("title"), text=ds.file)
    for el in item_defs + vl_items:
        mdv.append(el)
    for key in sorted(cls.used):
        _codelist(mdv, cls.used[key])
    for oid in sorted(methods):
        m = _sub(mdv, _o("MethodDef"), {"OID": oid, "Name": f"Derivation of {oid[3:]}", "Type": "Computation"})
        _description(m, methods[oid])
    for oid, text in comments:
        c = _sub(mdv, _d("CommentDef"), {"OID": oid})
        _description(c, text)
    if ctx.guide:
        leaf = _sub(mdv, _d("leaf"), {"ID": "LF.GUIDE", f"{{{XLINK_NS}}}href": ctx.guide})
        _sub(leaf, _d("title"), text="Reviewer's guide")
    ET.indent(root, space="  ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def _mdv_comment(ctx: Context) -> str:
    parts = [f"Made at audit chain head {ctx.anchor} (safety audit anchor) on {ctx.meta.exported_at_iso} by "
             f"{ctx.meta.exported_by}; filters: {ctx.meta.filters_text()}.",
             "MedDRA: CTCAE v5.0 terms are MedDRA v20.1 lowest level terms (LLT); AELLTCD is an LLT code, AEPTCD "
             "a PT code; AEHLT/AEHLGT and their codes are not available.",
             "Dates and times are the study's local time (ISO 8601); study days count from RFSTDTC with no day 0."]
    left = ", ".join(f"{n} {ds}" for ds, n in sorted(ctx.left_out.items()) if n)
    if left:
        parts.append(f"Records entered in error are left out: {left}.")
    parts.extend(ctx.notes)
    return " ".join(parts)


def _dataset_comment(ds: Dataset, ctx: Context) -> str:
    text = f"Made at audit chain head {ctx.anchor}."
    n = ctx.left_out.get(ds.name)
    if n:
        text += f" {n} record(s) entered in error left out."
    if ds.name == "SUPPAE":
        text += " Early/late onset is the supplemental qualifier AEPHASE, not EPOCH (SDTMIG 3.4 section 8.4)."
    return text


def _vlm_order(ds_name: str, groups: dict) -> list[str]:
    if ds_name == "SUPPAE":
        known = [q for q in sdtm.SUPP_QUALIFIERS if q in groups]
        return known + sorted(k for k in groups if k not in sdtm.SUPP_QUALIFIERS)
    return sorted(groups)


def _vlm_method(ds_name: str, key: str, methods: dict) -> str | None:
    if ds_name == "SUPPAE" and key in sdtm.SUPP_QUALIFIERS and sdtm.SUPP_QUALIFIERS[key][1] == "Derived":
        oid = f"MT.SUPPAE.{key}"
        methods[oid] = sdtm.SUPP_QUALIFIERS[key][3]
        return oid
    if ds_name == "LB" and key == "EGFR":
        oid = "MT.LB.EGFR"
        methods[oid] = ("eGFR records with LBDRVFL = Y are derived from the serum creatinine of the same sample by "
                        "the CKD-EPI 2021 creatinine equation (race-free; Inker et al., NEJM 2021); others are "
                        "reported by the laboratory")
        return oid
    return None


def _vlm_item(ds_name: str, var, key: str, recs: list[dict], oid: str, cls: _Codelists, comments) -> ET.Element:
    values = [r[var.name] for r in recs]
    item = ET.Element(_o("ItemDef"), {"OID": oid, "Name": var.name, "DataType": var.data_type,
                                      **{k: str(v) for k, v in _lengths(var, values).items()}, "SASFieldName": var.name})
    if ds_name == "SUPPAE":
        label = recs[0]["QLABEL"]
        _description(item, label)
        codelist = sdtm.SUPP_CODELISTS.get(key)
        if codelist and cls.get(codelist):
            _sub(item, _o("CodeListRef"), {"CodeListOID": f"CL.{codelist}"})
        qorig = recs[0]["QORIG"]
        origin = "Derived" if qorig == "Derived" else "Collected"
        _sub(item, _d("Origin"), {"Type": origin, "Source": SOURCES.get(origin)})
    else:
        unit = sorted({r["LBORRESU" if var.name == "LBORRES" else "LBSTRESU"] for r in recs})
        _description(item, f"{recs[0]['LBTEST']} in {', '.join(unit)}")
        origin = "Collected" if var.name == "LBORRES" else "Derived"
        _sub(item, _d("Origin"), {"Type": origin, "Source": SOURCES.get(origin)})
    return item


def _item_def(ds: Dataset, var, values: list, cls: _Codelists, comments, vl_oid: str | None) -> ET.Element:
    oid = f"IT.{ds.name}.{var.name}"
    attrs = {"OID": oid, "Name": var.name, "DataType": var.data_type,
             **{k: str(v) for k, v in _lengths(var, values).items()},
             "SASFieldName": var.name}
    if var.comment or (var.derivation and var.origin != "Derived"):
        attrs[_d("CommentOID")] = f"COM.{ds.name}.{var.name}"
        comments.append((attrs[_d("CommentOID")], var.comment or var.derivation))
    item = ET.Element(_o("ItemDef"), attrs)
    _description(item, var.label)
    if var.codelist:
        cl = cls.get(var.codelist)
        if cl is not None:
            suffix = "_CODE" if var.codelist == "MedDRA" and var.type == "Num" else ""
            _sub(item, _o("CodeListRef"), {"CodeListOID": f"CL.{cl.oid}{suffix}"})
            if suffix:
                cls.used["MedDRA_CODE"] = ct.Codelist("MedDRA_CODE", "MedDRA codes", "", True, (),
                                                      data_type="integer")
    _origin(item, var)
    if vl_oid:
        _sub(item, _d("ValueListRef"), {"ValueListOID": vl_oid})
    return item


def _codelist(mdv, cl: ct.Codelist) -> None:
    attrs = {"OID": f"CL.{cl.oid}", "Name": cl.name, "DataType": cl.data_type}
    if cl.cdisc:
        attrs[_d("StandardOID")] = CT_STD
    else:
        attrs[_d("IsNonStandard")] = "Yes"
    el = _sub(mdv, _o("CodeList"), attrs)
    if cl.comment:
        _description(el, cl.comment)
    if cl.oid.startswith("MedDRA"):
        _sub(el, _o("ExternalCodeList"), {"Dictionary": "MedDRA", "Version": ct.MEDDRA_VERSION})
        return
    decoded = any(t.decode for t in cl.terms)
    for order, t in enumerate(cl.terms, start=1):
        ext = "Yes" if t.extended else None
        if decoded:
            item = _sub(el, _o("CodeListItem"), {"CodedValue": t.value, "OrderNumber": order, _d("ExtendedValue"): ext})
            _description(item, t.decode or t.value, tag=_o("Decode"))
        else:
            item = _sub(el, _o("EnumeratedItem"), {"CodedValue": t.value, "OrderNumber": order,
                                                  _d("ExtendedValue"): ext})
        if t.nci:
            _sub(item, _o("Alias"), {"Context": "nci:ExtCodeID", "Name": t.nci})
    if cl.nci:
        _sub(el, _o("Alias"), {"Context": "nci:ExtCodeID", "Name": cl.nci})
