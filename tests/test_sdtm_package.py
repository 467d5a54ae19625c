"""The SDTM package (issue 19): every dataset read back with pandas, cross-domain rules, define.xml against the
Define-XML 2.1 XSD, the same bytes for the same data, and the CLI, API and exports page that hand it out."""
from __future__ import annotations

import io
import os
import zipfile
from datetime import date, timedelta
from pathlib import Path

import odmlib
import pandas as pd
import pytest
from lxml import etree

from conftest import NOW
from safety_service.domain import adverse_events, audit, participants
from safety_service.domain.egfr import age_on, ckd_epi_2021
from safety_service.domain.history import conmeds, medical_history
from safety_service.domain.units import to_canonical
from safety_service.exports.meta import ExportMeta
from safety_service.exports.submission import datasets, domains, package

STUDY = "NCT07396155"
ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
DEF = "{http://www.cdisc.org/ns/def/v2.1}"
XSD = Path(os.path.dirname(odmlib.__file__), "schemas", "define", "2.1", "define2-1-0.xsd")


@pytest.fixture(scope="module")
def schema():
    return etree.XMLSchema(etree.parse(str(XSD)))


def _ae(app, db, people, nurse, sid, term, onset, **kw):
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    data = {"subject_id": sid, "term": term, "verbatim": term.lower(), "grade": 1, "onset": onset,
            "end_date": onset, "serious": False, "relatedness_product": "not_related",
            "relatedness_procedure": "possible", "outcome": "recovered", "action_taken": "not_applicable",
            "expected": True, **kw}
    return adverse_events.create(db, data, catalogue=rb.ctcae, study=rb.study, tz=tz, actor=people[nurse], now=NOW)


def _lab(app, db, people, nurse, sid, analyte, value, unit, at, visit=None, tox=None):
    """A stored lab result as the labs module stores it (value in the standard unit, study range, eGFR by CKD-EPI
    2021), written directly: the export reads the table, and the recording path is tested in test_labs.py."""
    study = app.extensions["rulebook"].study
    p = participants.get(db, sid, user=None)
    value_si, unit_si = to_canonical(analyte, value, unit)
    ref = study.reference_range(analyte, p["sex"])
    egfr = None
    if analyte == "creatinine":
        age = age_on(date.fromisoformat(p["birth_date"]), date.fromisoformat(at[:10]))
        egfr = ckd_epi_2021(value_si, age, p["sex"])
    db["labs"].insert({"participant_id": p["id"], "subject_id": sid, "site": p["site"], "analyte": analyte,
                       "value": value, "unit": unit, "value_si": value_si, "unit_si": unit_si, "egfr": egfr,
                       "ctcae_term": tox[0] if tox else None, "ctcae_grade": tox[1] if tox else None,
                       "uln": ref.uln if ref else None, "lln": ref.lln if ref else None,
                       "range_source": "study" if ref else None, "visit": visit, "collected_at": at,
                       "source": "form", "entered_at": NOW.isoformat(), "entered_by": people[nurse]["email"]})


def _visit(db, sid, visit, on):
    p = participants.get(db, sid, user=None)
    db["visits"].insert({"participant_id": p["id"], "visit": visit, "visit_date": on, "recorded_at": NOW.isoformat(),
                         "recorded_by": "nurse_nina@example.org"})


@pytest.fixture
def trial(app, db, people, enrol):
    """Four participants at two sites: three injected (one dies of an AE), one never injected; labs before and
    after the injection (one in another unit), visits, AEs (one entered in error), con-meds and history."""
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    enrol("S01-001")  # injected 2026-01-12 09:30 UTC = 10:30 Berlin
    enrol("S01-002", sex="M", birth_date="1961-07-20", injection_at="2026-02-02T08:00:00+00:00")
    enrol("S02-001", injection_at="")
    enrol("S02-002", sex="M", injection_at="2026-03-01T23:30:00+00:00")  # 00:30 on 2 March in Berlin
    for sid, nurse in (("S01-001", "nurse_nina"), ("S01-002", "nurse_nina"), ("S02-002", "nurse_noah")):
        _lab(app, db, people, nurse, sid, "creatinine", 1.4, "mg/dL", "2026-01-06T08:00:00+00:00", "SCR")
    _lab(app, db, people, "nurse_nina", "S01-001", "creatinine", 1.5, "mg/dL", "2026-01-12T07:00:00+00:00", "D0")
    _lab(app, db, people, "nurse_nina", "S01-001", "creatinine", 159.12, "umol/L", "2026-02-11T08:00:00+00:00", "M1")
    _lab(app, db, people, "nurse_nina", "S01-001", "alt", 20, "U/L", "2026-01-12T07:00:00+00:00", "D0")
    _lab(app, db, people, "nurse_nina", "S01-001", "alt", 95, "U/L", "2026-01-20T08:00:00+00:00", "UNS")
    _lab(app, db, people, "nurse_nina", "S01-001", "hemoglobin", 118, "g/L", "2026-02-11T08:00:00+00:00", "M1",
         tox=("Anemia", 1))
    _lab(app, db, people, "nurse_nina", "S01-001", "sbp", 150, "mmHg", "2026-02-11T08:00:00+00:00", "M1")
    _visit(db, "S01-001", "M1", "2026-02-11")
    _ae(app, db, people, "nurse_nina", "S01-001", "Flank pain", "2026-01-12")
    _ae(app, db, people, "nurse_nina", "S01-001", "Fever", "2026-03-02", verbatim="Fièvre ≥ 38 °C")
    wrong = _ae(app, db, people, "nurse_nina", "S01-002", "Nausea", "2026-02-10")
    adverse_events.mark_entered_in_error(db, wrong["id"], reason="wrong participant", actor=people["nurse_nina"],
                                         now=NOW)
    _ae(app, db, people, "nurse_nina", "S01-002", "Hematuria", "2026-01-30", end_date="2026-01-31",
        relatedness_procedure="not_related")
    _ae(app, db, people, "nurse_noah", "S02-002", "Acute kidney injury", "2026-03-05", grade=5, end_date="2026-03-09",
        serious=True, seriousness=["death"], outcome="fatal", relatedness_product="possible")
    conmeds.create(db, "S01-001", {"name": "Ramipril", "dose": 5, "unit": "mg", "route": "oral",
                                   "indication": "Diabetic nephropathy", "start_date": "2019-05", "ongoing": True},
                   actor=people["nurse_nina"], tz=tz, now=NOW)
    conmeds.create(db, "S01-001", {"name": "Paracetamol", "dose": 1, "unit": "g", "route": "oral",
                                   "indication": "Fever", "start_date": "2026-03-02", "stop_date": "2026-03-04"},
                   actor=people["nurse_nina"], tz=tz, now=NOW)
    medical_history.create(db, "S01-001", {"condition": "Type 2 diabetes mellitus", "onset": "2011",
                                           "ongoing": True}, actor=people["nurse_nina"], tz=tz, now=NOW)
    medical_history.create(db, "S02-002", {"condition": "Hypertension", "onset": "2015-03", "ongoing": True},
                           actor=people["nurse_noah"], tz=tz, now=NOW)
    return rb


def meta(at=NOW):
    return ExportMeta(STUDY, at, "auditor@example.org")


def make(app, db, user=None, at=NOW):
    rb = app.extensions["rulebook"]
    snap = domains.read(db, user)
    return package.make_package(snap, study=rb.study, tz=app.config["TIMEZONE"], meta=meta(at), catalogue=rb.ctcae)


def frames(pkg) -> dict[str, pd.DataFrame]:
    return {ds.name: pd.read_sas(io.BytesIO(pkg.files[ds.file]), format="xport", encoding="ascii")
            for ds in datasets.PACKAGE}


def test_it_writes_every_dataset_of_the_package_in_sdtmig_order(app, db, trial):
    pkg = make(app, db)
    assert list(pkg.files) == ["dm.xpt", "sv.xpt", "ex.xpt", "cm.xpt", "ae.xpt", "ds.xpt", "mh.xpt", "lb.xpt",
                               "suppae.xpt", "define.xml", "reviewers-guide.html"]
    for name, df in frames(pkg).items():
        ds = next(d for d in datasets.PACKAGE if d.name == name)
        assert list(df.columns) == [v.name for v in ds.variables], name
        if "DOMAIN" in df.columns:
            assert set(df["DOMAIN"]) <= {name}


def test_it_gives_dm_one_row_per_participant_with_the_injection_as_reference_start(app, db, trial):
    dm = frames(make(app, db))["DM"].set_index("USUBJID")
    assert list(dm.index) == [f"{STUDY}-S01-001", f"{STUDY}-S01-002", f"{STUDY}-S02-001", f"{STUDY}-S02-002"]
    one = dm.loc[f"{STUDY}-S01-001"]
    assert one["RFSTDTC"] == one["RFXSTDTC"] == "2026-01-12T10:30"  # 09:30 UTC in Berlin (CET)
    assert one["RFICDTC"] == "2026-01-05" and one["AGE"] == 57 and one["AGEU"] == "YEARS" and one["SEX"] == "F"
    assert one["ARMCD"] == one["ACTARMCD"] == "UCMSC" and one["ARM"] == "UC-MSC 1 x 10^6 cells/kg"
    assert one["SITEID"] == "S01" and one["DTHFL"] == ""
    never = dm.loc[f"{STUDY}-S02-001"]
    assert never["ARMNRS"] == "ASSIGNED, NOT TREATED" and never["ACTARMCD"] == "" and never["RFSTDTC"] == ""
    assert never["ARMCD"] == "UCMSC"
    dead = dm.loc[f"{STUDY}-S02-002"]
    assert dead["DTHFL"] == "Y" and dead["DTHDTC"] == "2026-03-09"
    assert dead["RFSTDTC"] == "2026-03-02T00:30"  # the local date, not the UTC one


def test_it_gives_ex_the_single_intrarenal_injection_per_kg(app, db, trial):
    ex = frames(make(app, db))["EX"]
    assert list(ex["USUBJID"]) == [f"{STUDY}-S01-001", f"{STUDY}-S01-002", f"{STUDY}-S02-002"]
    first = ex.iloc[0]
    assert first["EXTRT"] == "UC-MSC" and first["EXDOSE"] == 1e6 and first["EXDOSU"] == "cells/kg"
    assert first["EXROUTE"] == "INTRARENAL" and first["EXSTDTC"] == "2026-01-12T10:30" and first["EXSTDY"] == 1


def test_it_keeps_usubjid_study_days_and_sequence_numbers_consistent_across_domains(app, db, trial):
    f = frames(make(app, db))
    dm = f["DM"].set_index("USUBJID")
    for name, df in f.items():
        assert set(df["USUBJID"]) <= set(dm.index), name
        seq = f"{name}SEQ"
        if seq in df.columns:
            assert not df.duplicated(["USUBJID", seq]).any(), name
    for _, a in f["AE"].iterrows():
        start = date.fromisoformat(dm.loc[a["USUBJID"], "RFSTDTC"][:10])
        onset = date.fromisoformat(a["AESTDTC"][:10])
        expected = (onset - start).days + (1 if onset >= start else 0)  # SDTMIG 4.4.4: no day 0
        assert a["AESTDY"] == expected != 0
    for name, var, dtc in (("LB", "LBDY", "LBDTC"), ("CM", "CMSTDY", "CMSTDTC"), ("SV", "SVSTDY", "SVSTDTC")):
        for _, r in f[name].iterrows():
            if len(r[dtc]) >= 10 and dm.loc[r["USUBJID"], "RFSTDTC"]:
                assert r[var] != 0


def test_it_flags_the_last_lab_before_the_injection_and_never_one_after_it(app, db, trial):
    f = frames(make(app, db))
    dm, lb = f["DM"].set_index("USUBJID"), f["LB"]
    flagged = lb[lb["LBLOBXFL"] == "Y"]
    assert len(flagged) > 0
    for _, r in flagged.iterrows():
        assert r["LBDTC"] < dm.loc[r["USUBJID"], "RFXSTDTC"]
    one = flagged[flagged["USUBJID"] == f"{STUDY}-S01-001"]
    # the D0 samples at 08:00 Berlin, before the 10:30 injection, not the screening one
    assert sorted(zip(one["LBTESTCD"], one["LBDTC"])) == [("ALT", "2026-01-12T08:00"), ("CREAT", "2026-01-12T08:00"),
                                                          ("EGFR", "2026-01-12T08:00")]


def test_it_gives_lb_original_and_standard_units_grades_ranges_and_visits(app, db, trial):
    lb = frames(make(app, db))["LB"]
    one = lb[lb["USUBJID"] == f"{STUDY}-S01-001"]
    m1 = one[(one["LBTESTCD"] == "CREAT") & (one["VISIT"] == "MONTH 1")].iloc[0]
    assert m1["LBORRES"] == "159.12" and m1["LBORRESU"] == "umol/L"
    assert m1["LBSTRESN"] == pytest.approx(1.8) and m1["LBSTRESU"] == "mg/dL" and m1["LBSTRESC"] == "1.8"
    assert m1["LBORNRHI"] == "97.24"  # 1.1 mg/dL (female ULN) in umol/L
    assert m1["LBNRIND"] == "HIGH" and m1["VISITNUM"] == 3 and m1["LBDY"] == 31 and m1["EPOCH"] == "FOLLOW-UP"
    egfr = one[(one["LBTESTCD"] == "EGFR") & (one["VISIT"] == "MONTH 1")].iloc[0]
    assert egfr["LBDRVFL"] == "Y" and egfr["LBSTRESU"] == "mL/min/1.73m2"
    hgb = one[one["LBTESTCD"] == "HGB"].iloc[0]
    assert hgb["LBORRES"] == "118" and hgb["LBORRESU"] == "g/L" and hgb["LBSTRESN"] == pytest.approx(11.8)
    assert hgb["LBTOXGR"] == "1" and hgb["LBTOX"] == "Anemia" and hgb["LBNRIND"] == "LOW"
    alt = one[one["LBTESTCD"] == "ALT"]
    assert list(alt["VISIT"]) == ["INJECTION DAY", "UNSCHEDULED"] and list(alt["VISITNUM"]) == [2, 2.01]
    assert "SBP" not in set(lb["LBTESTCD"])  # vital signs belong in VS
    scr = lb[(lb["VISIT"] == "SCREENING")]
    assert set(scr["EPOCH"]) == {"SCREENING"} and (scr["LBDY"] < 0).all()


def test_it_lists_the_visits_done_in_sv(app, db, trial):
    sv = frames(make(app, db))["SV"]
    one = sv[sv["USUBJID"] == f"{STUDY}-S01-001"]
    assert list(one["VISIT"]) == ["SCREENING", "INJECTION DAY", "UNSCHEDULED", "MONTH 1"]
    assert list(one["VISITNUM"]) == [1, 2, 2.01, 3]
    m1 = one[one["VISIT"] == "MONTH 1"].iloc[0]
    assert m1["SVSTDTC"] == "2026-02-11" and m1["VISITDY"] == 31 and m1["SVSTDY"] == 31


def test_it_writes_ae_with_its_meddra_variables_and_leaves_entered_in_error_out(app, db, trial):
    ae = frames(make(app, db))["AE"]
    assert len(ae) == 4 and "Nausea" not in set(ae["AEDECOD"])
    for var in ("AEPTCD", "AEHLT", "AEHLTCD", "AEHLGT", "AEHLGTCD", "AEBDSYCD", "AESOC", "AESOCCD"):
        assert var in ae.columns
    hem = ae[ae["AEDECOD"] == "Hematuria"].iloc[0]
    assert hem["AELLTCD"] == 10019450 and hem["AEPTCD"] == 10018867  # LLT and its PT (Haematuria)
    assert hem["AESOC"] == hem["AEBODSYS"] == "Renal and urinary disorders" and hem["AESOCCD"] == 10038359
    assert hem["AEBDSYCD"] == 10038359 and hem["AEHLT"] == "" and pd.isna(hem["AEHLTCD"])
    fever = ae[ae["AEDECOD"] == "Fever"].iloc[0]
    assert fever["AEPTCD"] == 10037660 and fever["AETERM"] == "Fievre >= 38 deg C"  # LLT Fever, PT Pyrexia
    flank = ae[ae["AEDECOD"] == "Flank pain"].iloc[0]
    assert flank["AEPTCD"] == flank["AELLTCD"]  # an LLT that is its own PT
    dead = ae[ae["AEOUT"] == "FATAL"].iloc[0]
    assert dead["AESDTH"] == "Y" and dead["AETOXGR"] == "5"


def test_it_gives_ds_one_final_disposition_per_participant_who_left(app, db, trial):
    ds = frames(make(app, db))["DS"]
    assert (ds[ds["DSCAT"] == "PROTOCOL MILESTONE"].groupby("USUBJID").size() == 1).all()
    assert len(ds[ds["DSCAT"] == "PROTOCOL MILESTONE"]) == 4
    final = ds[ds["DSCAT"] == "DISPOSITION EVENT"]
    assert not final.duplicated("USUBJID").any()


def test_it_writes_con_meds_and_history_with_partial_dates_kept(app, db, trial):
    f = frames(make(app, db))
    cm, mh = f["CM"], f["MH"]
    ram = cm[cm["CMTRT"] == "Ramipril"].iloc[0]
    assert ram["CMSTDTC"] == "2019-05" and pd.isna(ram["CMSTDY"]) and ram["CMENRTPT"] == "ONGOING"
    assert ram["CMROUTE"] == "ORAL" and ram["CMDOSE"] == 5 and ram["CMDOSU"] == "MG" and ram["CMSEQ"] == 1
    para = cm[cm["CMTRT"] == "Paracetamol"].iloc[0]
    assert para["CMSTDY"] == 50 and para["CMENDTC"] == "2026-03-04" and para["EPOCH"] == "FOLLOW-UP"
    assert list(mh["MHTERM"]) == ["Type 2 diabetes mellitus", "Hypertension"]
    assert list(mh["MHSTDTC"]) == ["2011", "2015-03"] and set(mh["MHENRTPT"]) == {"ONGOING"}


def test_it_keeps_names_labels_and_values_within_xpt_v5_limits(app, db, trial):
    pkg = make(app, db)
    for ds in datasets.PACKAGE:
        assert len(ds.label) <= 40
        for v in ds.variables:
            assert len(v.name) <= 8 and len(v.label) <= 40 and v.label.isascii(), v.name
        df = frames(pkg)[ds.name]
        for col in df.columns:
            if df[col].dtype == object:
                assert all(len(x.encode("ascii")) <= 200 for x in df[col]), col


def test_it_uses_controlled_terms_for_coded_values(app, db, trial):
    f = frames(make(app, db))
    assert set(f["DM"]["SEX"]) <= {"F", "M"}
    assert set(f["AE"]["AESER"]) <= {"N", "Y"}
    assert set(f["AE"]["AEOUT"]) <= {"RECOVERED/RESOLVED", "FATAL", "RECOVERING/RESOLVING"}
    assert set(f["LB"]["LBNRIND"]) <= {"LOW", "NORMAL", "HIGH", ""}
    for name in ("AE", "LB", "EX", "DS", "SV", "CM"):
        assert set(f[name]["EPOCH"]) <= {"SCREENING", "TREATMENT", "FOLLOW-UP", ""}, name


def _define(pkg):
    return etree.fromstring(pkg.files["define.xml"])


def test_it_writes_a_define_xml_that_validates_against_the_define_xml_2_1_schema(app, db, trial, schema):
    doc = _define(make(app, db))
    assert schema.validate(doc), schema.error_log


def test_it_names_every_dataset_and_variable_written_and_no_other(app, db, trial):
    pkg = make(app, db)
    doc = _define(pkg)
    groups = doc.findall(f".//{ODM}ItemGroupDef")
    assert [g.get("Name") for g in groups] == [d.name for d in datasets.PACKAGE]
    items = {i.get("OID"): i for i in doc.findall(f".//{ODM}ItemDef")}
    for g in groups:
        df = pd.read_sas(io.BytesIO(pkg.files[f"{g.get('Name').lower()}.xpt"]), format="xport", encoding="ascii")
        names = [items[r.get("ItemOID")].get("Name") for r in g.findall(f"{ODM}ItemRef")]
        assert names == list(df.columns)
        assert g.find(f"{DEF}leaf").get("{http://www.w3.org/1999/xlink}href") == f"{g.get('Name').lower()}.xpt"
    referenced = {r.get("ItemOID") for r in doc.iter(f"{ODM}ItemRef")}
    assert referenced == set(items)  # every ItemDef is used, every reference resolves
    codelists = {c.get("OID") for c in doc.findall(f".//{ODM}CodeList")}
    assert {r.get("CodeListOID") for r in doc.iter(f"{ODM}CodeListRef")} == codelists
    methods = {m.get("OID") for m in doc.findall(f".//{ODM}MethodDef")}
    assert {r.get("MethodOID") for r in doc.iter(f"{ODM}ItemRef") if r.get("MethodOID")} == methods
    comments = {c.get("OID") for c in doc.findall(f".//{DEF}CommentDef")}
    assert {e.get(f"{DEF}CommentOID") for e in doc.iter() if e.get(f"{DEF}CommentOID")} == comments


def test_it_lengths_in_the_define_are_the_lengths_written(app, db, trial):
    import tempfile

    import pyreadstat

    pkg = make(app, db)
    doc = _define(pkg)
    items = {i.get("OID"): i for i in doc.findall(f".//{ODM}ItemDef")}
    fd, path = tempfile.mkstemp(suffix=".xpt")
    os.close(fd)
    try:
        Path(path).write_bytes(pkg.files["lb.xpt"])
        _, m = pyreadstat.read_xport(path)
    finally:
        os.unlink(path)
    for name, width in m.variable_storage_width.items():
        item = items[f"IT.LB.{name}"]
        if item.get("DataType") == "text":
            assert int(item.get("Length")) == width, name


def test_it_codes_the_codelists_with_the_ct_version_and_value_level_metadata(app, db, trial):
    doc = _define(make(app, db))
    std = [s for s in doc.iter(f"{DEF}Standard") if s.get("Type") == "CT"][0]
    assert std.get("Version") == "2024-03-29" and std.get("PublishingSet") == "SDTM"
    cl = {c.get("OID"): c for c in doc.findall(f".//{ODM}CodeList")}
    for oid in ("CL.NY", "CL.OUT", "CL.ACN", "CL.REL", "CL.TOXGR", "CL.SEX", "CL.LBTESTCD", "CL.EPOCH"):
        assert oid in cl, oid
    out = [e.get("CodedValue") for e in cl["CL.OUT"]]
    assert "RECOVERED/RESOLVED" in out and "FATAL" in out
    assert cl["CL.NY"].find(f"{ODM}Alias").get("Name") == "C66742"
    assert cl["CL.MedDRA"].find(f"{ODM}ExternalCodeList").get("Dictionary") == "MedDRA"
    vl = {v.get("OID"): v for v in doc.iter(f"{DEF}ValueListDef")}
    qnams = [r.find(f"{DEF}WhereClauseRef").get("WhereClauseOID") for r in vl["VL.SUPPAE.QVAL"]]
    assert qnams[:3] == ["WC.SUPPAE.QNAM.AEPHASE", "WC.SUPPAE.QNAM.AERELPRC", "WC.SUPPAE.QNAM.AETRTEM"]
    assert "VL.LB.LBSTRESN" in vl
    wc = {w.get("OID"): w for w in doc.iter(f"{DEF}WhereClauseDef")}
    assert wc["WC.LB.LBTESTCD.CREAT"].find(f"{ODM}RangeCheck/{ODM}CheckValue").text == "CREAT"
    lltcd = [i for i in doc.iter(f"{ODM}ItemDef") if i.get("OID") == "IT.AE.AELLTCD"][0]
    comment = [c for c in doc.iter(f"{DEF}CommentDef") if c.get("OID") == lltcd.get(f"{DEF}CommentOID")][0]
    assert "lowest level terms" in "".join(comment.itertext())


def test_it_states_the_audit_chain_head_in_the_define_and_the_guide(app, db, trial):
    head = audit.anchor(db)
    pkg = make(app, db)
    assert pkg.anchor == head
    doc = _define(pkg)
    comments = {c.get("OID"): "".join(c.itertext()) for c in doc.iter(f"{DEF}CommentDef")}
    for g in doc.iter(f"{ODM}ItemGroupDef"):
        assert head in comments[g.get(f"{DEF}CommentOID")]
    assert "1 record(s) entered in error left out" in comments["COM.AE"]
    assert head.encode() in pkg.files["reviewers-guide.html"]
    assert b"ASSIGNED, NOT TREATED" in pkg.files["reviewers-guide.html"]


def test_it_gives_the_same_bytes_for_the_same_data_zip_included(app, db, trial):
    a, b = make(app, db), make(app, db)
    assert a.files == b.files
    assert a.zip(NOW) == b.zip(NOW)
    names = zipfile.ZipFile(io.BytesIO(a.zip(NOW))).namelist()
    assert names == list(a.files)


def test_it_shows_a_site_role_its_own_site_only(app, db, trial, people):
    dm = frames(make(app, db, user=people["investigator_ivan"]))["DM"]
    assert set(dm["SITEID"]) == {"S01"}


def test_it_writes_the_package_from_the_cli_and_refuses_to_overwrite(app, db, trial, tmp_path):
    out = tmp_path / "sdtm"
    result = app.test_cli_runner().invoke(args=["export", "sdtm", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(["dm.xpt", "sv.xpt", "ex.xpt", "cm.xpt", "ae.xpt",
                                                            "ds.xpt", "mh.xpt", "lb.xpt", "suppae.xpt",
                                                            "define.xml", "reviewers-guide.html"])
    assert len(pd.read_sas(out / "dm.xpt", format="xport", encoding="ascii")) == 4
    again = app.test_cli_runner().invoke(args=["export", "sdtm", "-o", str(out)])
    assert again.exit_code != 0 and "--force" in again.output
    forced = app.test_cli_runner().invoke(args=["export", "sdtm", "-o", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert [e for e in audit.history(db, "export", f"{STUDY}_sdtm_20260615T100000Z.zip") if e["field"] == "sha256"]


def test_it_writes_ae_suppae_and_define_xml_side_by_side(app, db, trial, tmp_path, schema):
    out = tmp_path / "ae.xpt"
    result = app.test_cli_runner().invoke(args=["export", "ae", "--format", "xpt", "-o", str(out)])
    assert result.exit_code == 0, result.output
    doc = etree.parse(str(tmp_path / "define.xml"))
    assert schema.validate(doc), schema.error_log
    assert [g.get("Name") for g in doc.iter(f"{ODM}ItemGroupDef")] == ["AE", "SUPPAE"]
    assert len(pd.read_sas(tmp_path / "suppae.xpt", format="xport", encoding="ascii")) > 0


def test_it_hands_out_the_zip_and_the_define_through_the_api(app, db, trial, api, schema):
    ada = api("auditor_ada")
    r = ada.get("/api/v1/exports/sdtm.zip")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(r.data))
    assert "define.xml" in z.namelist() and "dm.xpt" in z.namelist()
    assert schema.validate(etree.fromstring(z.read("define.xml")))
    d = ada.get("/api/v1/exports/define.xml")
    assert d.status_code == 200 and d.headers["Content-Type"].startswith("application/xml")
    assert schema.validate(etree.fromstring(d.data))
    assert api("nurse_nina").get("/api/v1/exports/sdtm.zip").status_code == 403


def test_it_offers_the_package_on_the_exports_page(app, db, trial, web):
    page = web("safety_sam").get("/exports").get_data(as_text=True)
    assert "/exports/sdtm.zip" in page and "/exports/define.xml" in page
    r = web("safety_sam").get("/exports/sdtm.zip")
    assert r.status_code == 200 and zipfile.ZipFile(io.BytesIO(r.data)).testzip() is None


def test_it_takes_country_from_the_sites_in_the_study_rules(app, db, trial):
    rb = app.extensions["rulebook"]
    # every site names its country (the rules file requires it: DM COUNTRY is Required, SDTMIG 3.4)
    study = rb.study.model_copy(update={"sites": [s.model_copy(update={"country": "IDN"}) if s.code == "S02" else s
                                                  for s in rb.study.sites]})
    pkg = package.make_package(domains.read(db, None), study=study, tz=app.config["TIMEZONE"], meta=meta(),
                               catalogue=rb.ctcae)
    dm = frames(pkg)["DM"]
    assert dict(zip(dm["SUBJID"], dm["COUNTRY"])) == {"S01-001": "DEU", "S01-002": "DEU", "S02-001": "IDN",
                                                      "S02-002": "IDN"}


def test_it_knows_each_meddra_soc_code_as_ctcae_publishes_it():
    import json

    from safety_service.exports.sdtm import MEDDRA_SOC_CODES

    catalogue = json.loads(Path(__file__).with_name("data").joinpath("ctcae_v5.json").read_text(encoding="utf-8"))
    other = {t["soc"]: int(t["meddra_code"]) for t in catalogue if t["term"].endswith("- Other, specify")}
    assert other == MEDDRA_SOC_CODES


def test_it_ends_participation_in_dm_and_ds_and_leaves_a_lab_entered_in_error_out(app, db, trial, people):
    from safety_service.domain.corrections import lab_error, status

    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    fatal = [a for a in adverse_events.list_aes(db, None, {"subject_id": "S02-002"}) if a["outcome"] == "fatal"][0]
    status.set_status(db, "S02-002", {"status": "died", "on": "2026-03-09", "reason": "Acute kidney injury",
                                      "death_ae_id": fatal["id"]}, user=people["nurse_noah"],
                      study=rb.study, tz=tz, now=NOW)
    status.set_status(db, "S01-002", {"status": "withdrawn", "on": "2026-04-01", "reason": "Moved abroad"},
                      user=people["investigator_ivan"], study=rb.study, tz=tz, now=NOW)
    alt = db.execute("SELECT id FROM labs WHERE analyte = 'alt' AND visit = 'UNS'").fetchone()[0]
    lab_error.mark_entered_in_error(db, alt, reason="typed 95 for 19.5", user=people["nurse_nina"],
                                    rules=rb.lab_rules, study=rb.study, tz=tz, now=NOW)
    pkg = make(app, db)
    f = frames(pkg)
    final = f["DS"][f["DS"]["DSCAT"] == "DISPOSITION EVENT"].set_index("USUBJID")
    assert sorted(final.index) == [f"{STUDY}-S01-002", f"{STUDY}-S02-002"]  # one each; none for those on study
    assert final.loc[f"{STUDY}-S02-002", "DSDECOD"] == "DEATH" and final.loc[f"{STUDY}-S02-002", "DSSTDTC"] == "2026-03-09"
    gone = final.loc[f"{STUDY}-S01-002"]
    assert gone["DSDECOD"] == "WITHDRAWAL BY SUBJECT" and gone["DSTERM"] == "MOVED ABROAD" and gone["DSSTDY"] == 59
    dm = f["DM"].set_index("USUBJID")
    assert dm.loc[f"{STUDY}-S01-002", "RFENDTC"] == dm.loc[f"{STUDY}-S01-002", "RFPENDTC"] == "2026-04-01"
    assert dm.loc[f"{STUDY}-S02-002", "DTHDTC"] == "2026-03-09" and dm.loc[f"{STUDY}-S01-001", "RFENDTC"] == ""
    lb = f["LB"]
    assert str(alt) not in set(lb["LBSPID"]) and "UNSCHEDULED" not in set(lb["VISIT"])
    comments = {c.get("OID"): "".join(c.itertext()) for c in _define(pkg).iter(f"{DEF}CommentDef")}
    assert "1 record(s) entered in error left out" in comments["COM.LB"]


def test_it_describes_a_study_with_no_events_yet_and_still_validates(app, db, enrol, schema):
    enrol("S01-001")
    pkg = make(app, db)
    doc = _define(pkg)
    assert schema.validate(doc), schema.error_log
    empty = {g.get("Name") for g in doc.iter(f"{ODM}ItemGroupDef") if g.get(f"{DEF}HasNoData") == "Yes"}
    assert empty == {"CM", "AE", "MH", "LB", "SUPPAE"}
    assert pkg.rows["DM"] == pkg.rows["EX"] == 1 and pkg.rows["DS"] == 1


def test_it_sorts_every_dataset_by_the_keys_its_define_declares(app, db, trial):
    pkg = make(app, db)
    doc = _define(pkg)
    items = {i.get("OID"): i.get("Name") for i in doc.iter(f"{ODM}ItemDef")}
    for g in doc.iter(f"{ODM}ItemGroupDef"):
        refs = sorted((int(r.get("KeySequence")), items[r.get("ItemOID")]) for r in g.findall(f"{ODM}ItemRef")
                      if r.get("KeySequence"))
        keys = [name for _, name in refs]
        df = frames(pkg)[g.get("Name")]
        rows = [tuple(int(v) if isinstance(v, str) and v.isdigit() else v for v in row)
                for row in df[keys].itertuples(index=False)]
        assert rows == sorted(rows), g.get("Name")
        assert len(set(rows)) == len(rows), g.get("Name")  # the keys identify a record


def test_columns_read_at_once_equal_the_columns_read_value_by_value():
    # package._columns transposes one row per record; it must give what reading each variable of each record gives
    names = ["USUBJID", "LBSEQ", "LBSTRESN", "LBTOX"]
    full = [{"USUBJID": f"S{i}", "LBSEQ": i, "LBSTRESN": i / 3, "LBTOX": "", "_at": i} for i in range(50)]
    gappy = full[:10] + [{"USUBJID": "S-gap", "LBSEQ": 99}] + full[10:]
    for records in (full, gappy, full[:1], []):
        assert package._columns(names, records) == {n: [r.get(n) for r in records] for n in names}
    assert package._columns(["USUBJID"], full[:3]) == {"USUBJID": ["S0", "S1", "S2"]}


def test_the_define_length_of_numbers_counts_each_written_digit():
    from safety_service.exports.submission.define_xml import _num_length
    assert _num_length([1.25, 1.25, 10.5, None, float("nan"), 3]) == (3, 2)  # 1.25 and 10.5: 3 digits, 2 decimals
    assert _num_length([1e-07]) == (8, 7)  # 0.0000001 as written without the exponent
    assert _num_length([None]) == (1, 0)
