"""SDTM AE and SUPPAE as SAS XPT v5: read back with pandas.read_sas and pyreadstat; CT, limits, define."""
from __future__ import annotations

import io
import json
import math
import os
import tempfile
from datetime import timedelta

import pandas as pd
import pyreadstat
import pytest

from safety_service.exports.meta import ExportError
from lxml import etree

from safety_service.exports.sdtm import (AE_VARS, SUPP_VARS, build, overflow_qnam, split_text, to_ascii,
                                         write_ae_xpt, write_suppae_xpt)
from safety_service.exports.submission.package import ae_define
from safety_service.exports.xpt import XptVar, write_xpt
from test_export_rows import LONG_VERBATIM, NOW, STUDY, active, ae, meta, sample_rows


def read_sas(data: bytes) -> pd.DataFrame:
    df = pd.read_sas(io.BytesIO(data), format="xport", encoding="ascii")
    return df


def read_meta(data: bytes):
    fd, path = tempfile.mkstemp(suffix=".xpt")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    try:
        return pyreadstat.read_xport(path)
    finally:
        os.unlink(path)


def ae_frame(rows=None) -> pd.DataFrame:
    return read_sas(write_ae_xpt(sample_rows() if rows is None else rows, meta()))


def by_spid(df: pd.DataFrame) -> dict[int, dict]:
    return {int(r["AESPID"]): r for r in df.to_dict("records")}


def test_it_reads_back_with_pandas_as_the_sdtm_ae_domain():
    df = ae_frame()
    assert list(df.columns) == [v.name for v in AE_VARS]
    rows = active(sample_rows())
    assert sorted(int(x) for x in df["AESPID"]) == sorted(r["id"] for r in rows)
    assert set(df["STUDYID"]) == {STUDY} and set(df["DOMAIN"]) == {"AE"}
    got = by_spid(df)
    for r in rows:
        g = got[r["id"]]
        assert g["USUBJID"] == f"{STUDY}-{r['subject_id']}"
        assert g["AESEQ"] == r["seq"]
        assert g["AEDECOD"] == r["term"] and g["AELLT"] == r["term"]
        assert g["AELLTCD"] == int(r["meddra_code"])
        assert g["AEBODSYS"] == r["soc"]
        assert g["AETOXGR"] == str(r["grade"])
        assert g["AESER"] == ("Y" if r["serious"] else "N")
        assert g["AESTDY"] == r["onset_day"]


def test_it_sorts_by_subject_and_sequence():
    df = ae_frame()
    keys = list(zip(df["USUBJID"], df["AESEQ"]))
    assert keys == sorted(keys)


def test_it_leaves_entered_in_error_aes_out_and_counts_them_in_the_define():
    assert 8 not in by_spid(ae_frame())
    assert build(sample_rows(), meta()).excluded == 1
    doc = etree.fromstring(ae_define(sample_rows(), meta=meta(), anchor="7:abc"))
    comment = [c for c in doc.iter("{http://www.cdisc.org/ns/def/v2.1}CommentDef") if c.get("OID") == "COM.AE"][0]
    assert "1 record(s) entered in error left out" in "".join(comment.itertext())


def test_it_uses_cdisc_controlled_terms_for_outcome_and_action():
    got = by_spid(ae_frame())
    assert got[1]["AEOUT"] == "RECOVERED/RESOLVED"
    assert got[2]["AEOUT"] == "RECOVERING/RESOLVING"
    assert got[6]["AEOUT"] == "NOT RECOVERED/NOT RESOLVED"
    assert got[9]["AEOUT"] == "RECOVERED/RESOLVED WITH SEQUELAE"
    assert got[7]["AEOUT"] == "FATAL"
    assert got[1]["AEACN"] == "NOT APPLICABLE"
    assert got[9]["AEACN"] == "DOSE NOT CHANGED"
    assert got[6]["AEACN"] == "UNKNOWN"
    assert got[2]["AEREL"] == "PROBABLY RELATED" and got[5]["AEREL"] == "NOT RELATED"


def test_it_sets_seriousness_flags_only_for_serious_events():
    got = by_spid(ae_frame())
    assert got[3]["AESHOSP"] == "Y" and got[3]["AESDTH"] == "N" and got[3]["AESMIE"] == "N"
    assert got[7]["AESDTH"] == "Y" and got[7]["AESHOSP"] == "Y" and got[7]["AESLIFE"] == "N"
    for flag in ("AESDTH", "AESLIFE", "AESHOSP", "AESDISAB", "AESCONG", "AESMIE"):
        assert got[1][flag] == ""  # null when AESER is N


def test_it_writes_iso_8601_dates_and_study_days_without_day_zero():
    got = by_spid(ae_frame())
    assert got[2]["AESTDTC"] == "2026-01-10T18:45"
    assert got[2]["AEENDTC"] == ""
    assert math.isnan(got[2]["AEENDY"])
    assert got[4]["AESTDTC"] == "2026-01-08" and got[4]["AESTDY"] == -2 and got[4]["AEENDY"] == -1
    assert got[9]["AESTDY"] == 1


def test_it_derives_epoch_from_the_single_injection_design():
    got = by_spid(ae_frame())
    assert got[4]["EPOCH"] == "SCREENING"
    assert got[2]["EPOCH"] == "TREATMENT"
    assert got[1]["EPOCH"] == "FOLLOW-UP"


def test_it_refuses_a_treatment_emergent_ae_dated_before_the_injection():
    with pytest.raises(ExportError) as e:
        write_ae_xpt([ae(1, onset_day=-1, treatment_emergent=True)], meta())
    assert e.value.field == "EPOCH" and e.value.row == 1


def test_it_keeps_names_labels_and_values_within_xpt_v5_limits():
    data = write_ae_xpt(sample_rows(), meta())
    assert data.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD")
    df, m = read_meta(data)
    assert m.table_name == "AE" and m.file_label == "Adverse Events"
    assert m.column_labels == [v.label for v in AE_VARS]
    assert all(len(n) <= 8 for n in m.column_names)
    assert all(len(label) <= 40 for label in m.column_labels)
    assert all(w <= 200 for w in m.variable_storage_width.values())
    assert len(LONG_VERBATIM) > 200
    assert 190 < m.variable_storage_width["AETERM"] <= 200  # the long verbatim, cut between words


def test_it_continues_text_beyond_200_bytes_in_suppae_split_between_words():
    got = by_spid(ae_frame())
    supp = read_sas(write_suppae_xpt(sample_rows(), meta()))
    cont = supp[(supp["QNAM"].str.startswith("AETERM")) & (supp["IDVARVAL"] == "1")
                & (supp["USUBJID"] == f"{STUDY}-S02-001")]
    assert list(cont["QNAM"]) == ["AETERM1"]
    assert list(cont["QLABEL"]) == ["Reported Term for the Adverse Event"]
    head, tail = got[5]["AETERM"], cont["QVAL"].iloc[0]
    assert len(head) <= 200 and not head.endswith(" ")
    assert head + tail == LONG_VERBATIM


def test_it_splits_at_exactly_200_bytes_only_when_needed():
    assert split_text("x" * 200) == ["x" * 200]
    assert split_text("x" * 201) == ["x" * 200, "x"]
    assert split_text("a " * 150) == [("a " * 100).rstrip(), " " + ("a " * 50)]
    assert overflow_qnam("AETERM", 1) == "AETERM1"
    assert overflow_qnam("AEACNOTH", 1) == "AEACNOT1"
    assert overflow_qnam("AEACNOTH", 12) == "AEACNO12"


def test_it_writes_phase_procedure_causality_and_treatment_emergence_to_suppae():
    supp = read_sas(write_suppae_xpt(sample_rows(), meta()))
    assert list(supp.columns) == [v.name for v in SUPP_VARS]
    assert set(supp["RDOMAIN"]) == {"AE"} and set(supp["IDVAR"]) == {"AESEQ"}

    def q(subject, seq, qnam):
        sel = supp[(supp["USUBJID"] == f"{STUDY}-{subject}") & (supp["IDVARVAL"] == str(seq)) & (supp["QNAM"] == qnam)]
        return list(sel["QVAL"])

    assert q("S01-001", 1, "AEPHASE") == ["EARLY"]
    assert q("S01-002", 1, "AEPHASE") == ["LATE"]
    assert q("S01-002", 2, "AEPHASE") == []  # no phase before the injection
    assert q("S01-002", 1, "AERELPRC") == ["DEFINITELY RELATED"]
    assert q("S01-002", 2, "AETRTEM") == ["N"]
    assert q("S02-002", 2, "AEPHASE") == []  # entered in error: not tabulated
    _, m = read_meta(write_suppae_xpt(sample_rows(), meta()))
    assert m.table_name == "SUPPAE"


def test_it_spells_accented_letters_and_symbols_in_ascii_and_notes_it():
    got = by_spid(ae_frame())
    assert got[2]["AETERM"] == "Fievre >= 38 deg C"
    notes = build(sample_rows(), meta()).notes
    assert "AE 2 AETERM: non-ASCII characters spelt in ASCII" in notes


def test_it_refuses_text_with_no_ascii_spelling_naming_the_ae_and_variable():
    with pytest.raises(ExportError) as e:
        write_ae_xpt([ae(12, verbatim="発熱")], meta())
    assert e.value.field == "AETERM" and e.value.row == 12


def test_it_refuses_values_without_a_controlled_term():
    with pytest.raises(ExportError) as e:
        write_ae_xpt([ae(13, outcome="better")], meta())
    assert e.value.field == "AEOUT" and e.value.row == 13
    with pytest.raises(ExportError) as e:
        write_ae_xpt([ae(14, action_taken="dose_reduced_by_half")], meta())
    assert e.value.field == "AEACN"


def test_it_checks_what_pyreadstat_does_not():
    when = NOW
    with pytest.raises(ExportError):
        write_xpt([XptVar("X", "x", "Char")], [{"X": "y" * 201}], "T", "t", when)
    with pytest.raises(ExportError):
        write_xpt([XptVar("X", "x", "Char")], [{"X": "é"}], "T", "t", when)
    with pytest.raises(ExportError):
        XptVar("TOOLONGNAME", "x", "Char")
    with pytest.raises(ExportError):
        XptVar("X", "a label that is longer than forty characters", "Char")
    # exactly 200 bytes and 40-character labels are within the limits
    data = write_xpt([XptVar("X", "l" * 40, "Char")], [{"X": "y" * 200}], "T", "t", when)
    assert read_sas(data)["X"].iloc[0] == "y" * 200


def test_it_gives_the_same_bytes_for_the_same_rows_and_time():
    assert write_ae_xpt(sample_rows(), meta()) == write_ae_xpt(sample_rows(), meta())
    assert write_suppae_xpt(sample_rows(), meta()) == write_suppae_xpt(sample_rows(), meta())


def test_it_stamps_the_export_time_in_the_header_and_nowhere_else():
    later = NOW + timedelta(days=40, hours=3)
    a, b = write_ae_xpt(sample_rows(), meta()), write_ae_xpt(sample_rows(), meta(later))
    assert b"02MAR26:09:30:00" in a[:800] and b"11APR26:12:30:00" in b[:800]
    assert len(a) == len(b)
    differing = [i for i in range(len(a)) if a[i] != b[i]]
    assert differing and max(differing) < 8 * 80  # only within the library and member header records


def test_it_describes_each_variable_with_the_lengths_written():
    data = write_ae_xpt(sample_rows(), meta())
    _, m = read_meta(data)
    doc = etree.fromstring(ae_define(sample_rows(), meta=meta(), anchor="7:abc"))
    odm = "{http://www.cdisc.org/ns/odm/v1.3}"
    items = {i.get("OID"): i for i in doc.iter(f"{odm}ItemDef")}
    group = [g for g in doc.iter(f"{odm}ItemGroupDef") if g.get("Name") == "AE"][0]
    names = [items[r.get("ItemOID")].get("Name") for r in group.findall(f"{odm}ItemRef")]
    assert names == m.column_names
    labels = dict(zip(m.column_names, m.column_labels))
    for name in names:
        item = items[f"IT.AE.{name}"]
        assert item.findtext(f"{odm}Description/{odm}TranslatedText") == labels[name]
        if item.get("DataType") == "text":
            assert int(item.get("Length")) == m.variable_storage_width[name]
    codes = {c.get("OID"): [e.get("CodedValue") for e in c.iter(f"{odm}EnumeratedItem")]
             for c in doc.iter(f"{odm}CodeList")}
    assert "RECOVERED/RESOLVED" in codes["CL.OUT"] and "NOT APPLICABLE" in codes["CL.ACN"]
    wheres = {w.findtext(f"{odm}RangeCheck/{odm}CheckValue") for w in
              doc.iter("{http://www.cdisc.org/ns/def/v2.1}WhereClauseDef")}
    assert wheres == {"AEPHASE", "AERELPRC", "AETRTEM", "AETERM1"}


def test_it_spells_only_what_needs_spelling():
    assert to_ascii("flank pain", "AETERM", 1) == ("flank pain", False)
    assert to_ascii("Ödem µg", "AETERM", 1) == ("Odem ug", True)
