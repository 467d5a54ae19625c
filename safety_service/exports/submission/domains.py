"""The SDTM package's records (DM, SV, EX, CM, AE, SUPPAE, DS, MH, LB) from one read of the database.

``read`` takes one consistent snapshot (a single read transaction: the rows and the audit chain head it was
made at); ``build`` turns it into records, a pure function of the snapshot, the study rules, the time zone and
the export context, so the same data gives the same records. Cross-domain rules (SDTMIG 3.4): USUBJID is
STUDYID-subject everywhere; study days count from RFSTDTC's date with no day 0 (SDTMIG 4.4.4); --SEQ is unique
per subject; dates are the study's local time (ISO 8601); entered-in-error AEs, labs, con-meds and history rows
are left out. Raises ExportError naming the record and variable for a value SDTM cannot hold.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from ...clock import parse_datetime
from ...domain import audit
from ...domain.egfr import age_on
from ...domain.history.conmeds import ROUTES
from ...domain.permissions import site_scope
from ...domain.study import Study, study_day
from ...domain.units import ANALYTES, LabValueError, _to_float, find_unit
from .. import sdtm
from ..meta import ExportError, ExportMeta

ARMCD, ARM = "UCMSC", "UC-MSC 1 x 10^6 cells/kg"  # protocol: one intra-renal injection of 1 x 10^6 cells/kg
TREATMENT = "UC-MSC"
# analyte -> (LBTESTCD, LBTEST, LBCAT, LBSPEC): CDISC CT Laboratory Test Code/Name (C65047/C67154), Specimen Type
LAB_TESTS = {
    "creatinine": ("CREAT", "Creatinine", "CHEMISTRY", "SERUM"),
    "egfr": ("EGFR", "Glomerular Filtration Rate, Estimated", "CHEMISTRY", "SERUM"),
    "uacr": ("ALBCREAT", "Albumin/Creatinine", "URINALYSIS", "URINE"),
    "urine_protein": ("PROT", "Protein", "URINALYSIS", "URINE"),
    "albumin": ("ALB", "Albumin", "CHEMISTRY", "SERUM"),
    "alt": ("ALT", "Alanine Aminotransferase", "CHEMISTRY", "SERUM"),
    "ast": ("AST", "Aspartate Aminotransferase", "CHEMISTRY", "SERUM"),
    "bilirubin": ("BILI", "Bilirubin", "CHEMISTRY", "SERUM"),
    "hemoglobin": ("HGB", "Hemoglobin", "HEMATOLOGY", "BLOOD"),
    "platelets": ("PLAT", "Platelets", "HEMATOLOGY", "BLOOD"),
    "wbc": ("WBC", "Leukocytes", "HEMATOLOGY", "BLOOD"),
    "neutrophils": ("NEUT", "Neutrophils", "HEMATOLOGY", "BLOOD"),
    "potassium": ("K", "Potassium", "CHEMISTRY", "SERUM"),
    "hba1c": ("HBA1C", "Hemoglobin A1C", "CHEMISTRY", "BLOOD"),
    "glucose": ("GLUC", "Glucose", "CHEMISTRY", "SERUM"),
    "tnf_alpha": ("TNFA", "Tumor Necrosis Factor Alpha", "IMMUNOLOGY", "SERUM"),
    "il10": ("IL10", "Interleukin 10", "IMMUNOLOGY", "SERUM"),
}
# Vital signs belong in SDTM VS, which this package does not produce (named in the reviewer's guide)
VITAL_SIGNS = frozenset({"sbp", "dbp", "temperature"})
# Visits besides rules/study.toml's follow-up visits (labs.EXTRA_VISITS): VISITNUM, VISIT, planned study day
EXTRA_VISITS = {"SCR": (1.0, "SCREENING", None), "D0": (2.0, "INJECTION DAY", 1)}
FINAL_STATUS = {"completed": "COMPLETED", "withdrawn": "WITHDRAWAL BY SUBJECT",
                "lost_to_follow_up": "LOST TO FOLLOW-UP", "died": "DEATH"}


@dataclass
class Snapshot:
    """The rows one package is made of, read in one transaction."""

    anchor: str
    participants: list[dict]
    visits: list[dict]
    labs: list[dict]
    aes: list[dict]
    conmeds: list[dict]
    history: list[dict]
    left_out: dict = field(default_factory=dict)  # entered-in-error rows not tabulated, by table


def _columns(db: Database, table: str) -> set[str]:
    return {r[1] for r in db.execute(f"PRAGMA table_info({table})").fetchall()}


def _select(db: Database, table: str, site: str | None, order: str, where: str = "") -> list[dict]:
    clauses = [c for c in (where, "site = ?" if site else "") if c]
    sql = f"SELECT * FROM {table}{' WHERE ' + ' AND '.join(clauses) if clauses else ''} ORDER BY {order}"
    return list(db.query(sql, [site] if site else []))


# The lab columns the LB domain reads (of 25): the lab table is most of the package, and each column read costs.
LAB_COLUMNS = ("id", "subject_id", "analyte", "value", "unit", "value_si", "unit_si", "egfr", "ctcae_term",
               "ctcae_grade", "uln", "lln", "visit", "collected_at", "status")


def _rows(db: Database, table: str, site: str | None, order: str, columns: tuple[str, ...] = ()) -> list[sqlite3.Row]:
    """Like _select, as sqlite3.Row (read by column name, built in C), of ``columns`` only when given."""
    cur = db.conn.cursor()
    cur.row_factory = sqlite3.Row
    sql = (f"SELECT {', '.join(columns) or '*'} FROM {table}{' WHERE site = ?' if site else ''} "
           f"ORDER BY {order}")
    return cur.execute(sql, [site] if site else []).fetchall()


def read(db: Database, user: dict | None) -> Snapshot:
    """Every row the user may see (site roles: their site), in one read transaction with its audit chain head."""
    from ...domain.adverse_events import list_aes

    site = site_scope(user)
    own = not db.conn.in_transaction
    if own:
        db.conn.execute("BEGIN")  # deferred: a read snapshot in WAL mode, nothing locked
    try:
        people = _select(db, "participants", site, "subject_id")
        ids = {p["id"] for p in people}
        visits = [v for v in db.query("SELECT * FROM visits ORDER BY participant_id, visit_date, visit")
                  if v["participant_id"] in ids]
        lab_columns = _columns(db, "labs")
        lab_status = "status" in lab_columns
        labs = _rows(db, "labs", site, "subject_id, collected_at, analyte, id",
                     tuple(c for c in LAB_COLUMNS if c in lab_columns))
        aes = list_aes(db, user, {}, include_entered_in_error=True)
        conmeds = _select(db, "conmeds", site, "subject_id, seq")
        history = _select(db, "medical_history", site, "subject_id, seq")
        anchor = audit.anchor(db)
    finally:
        if own:
            db.conn.execute("ROLLBACK")
    left_out = {"AE": sum(a.get("status") != "active" for a in aes),
                "LB": sum(r["status"] != "valid" for r in labs) if lab_status else 0,
                "CM": sum(r["status"] != "active" for r in conmeds),
                "MH": sum(r["status"] != "active" for r in history)}
    return Snapshot(anchor, people, visits,
                    [r for r in labs if not lab_status or r["status"] == "valid"],
                    [a for a in aes if a.get("status") == "active"],
                    [r for r in conmeds if r["status"] == "active"],
                    [r for r in history if r["status"] == "active"], left_out)


@lru_cache(maxsize=65536)  # lab values repeat across a cohort: 126,000 results for 1,000 participants
def _num_text(x: float) -> str:
    """A number as a result text: shortest round-trip form, no exponent, no trailing .0."""
    text = repr(float(x))
    if "e" in text or "n" in text:  # exponent (or inf/nan): spelt out in full
        text = format(Decimal(text), "f")
    return text[:-2] if text.endswith(".0") else text


class _Subject:
    """One participant's reference dates (local): what every domain's study day and epoch count from."""

    def __init__(self, p: dict, zone: ZoneInfo, study_id: str):
        self.p = p
        self.usubjid = f"{study_id}-{p['subject_id']}"
        self.injection: datetime | None = parse_datetime(p["injection_at"]).astimezone(zone) \
            if p.get("injection_at") else None
        self.day1: date | None = self.injection.date() if self.injection else None

    def dy(self, d: str | date | None) -> int | None:
        """Study day of a full date (SDTMIG 4.4.4: day 1 = RFSTDTC's date, no day 0); None if partial."""
        if self.day1 is None or not d:
            return None
        if isinstance(d, str):
            if len(d) < 10:
                return None
            d = date.fromisoformat(d[:10])
        return study_day(d, self.day1)

    def epoch_of_date(self, d: str | None) -> str:
        day = self.dy(d)
        if day is None:
            return ""
        return "SCREENING" if day < 1 else "TREATMENT" if day == 1 else "FOLLOW-UP"

    def epoch_of_instant(self, at: datetime) -> str:
        if self.injection is None:
            return "SCREENING"
        if at < self.injection:
            return "SCREENING"
        return "TREATMENT" if at.date() == self.day1 else "FOLLOW-UP"


def _instant(text: str) -> datetime:
    """A stored UTC instant (clock.iso form); anything else through clock.parse_datetime."""
    try:
        dt = datetime.fromisoformat(text)
        if dt.tzinfo is not None:
            return dt
    except ValueError:
        pass
    return parse_datetime(text)


@lru_cache(maxsize=65536)
def _local(text: str, zone: ZoneInfo) -> datetime:
    """A stored instant in the study's zone (cached: the analytes of one sample share their instant)."""
    return _instant(text).astimezone(zone)


@lru_cache(maxsize=65536)
def _dtc(at: datetime) -> str:
    """ISO 8601 date and time to the minute, as local time without offset (SDTMIG --DTC)."""
    return at.isoformat(timespec="minutes")[:16]


class Visits:
    """VISITNUM and VISIT from rules/study.toml: SCREENING 1, INJECTION DAY 2, then the follow-up visits in order."""

    def __init__(self, study: Study):
        self.planned = dict(EXTRA_VISITS)
        for i, v in enumerate(study.visits, start=3):
            # the visit's target day counts days after the injection day, so its study day is day + 1
            self.planned[v.code] = (float(i), v.label.upper(), v.day + 1)
        self._by_day = sorted((day, num) for num, _, day in self.planned.values() if day is not None)

    def of(self, code: str | None, day: int | None) -> tuple[float | None, str, int | None]:
        """(VISITNUM, VISIT, VISITDY) of a visit code; unscheduled: the preceding planned visit + 0.01."""
        if code in self.planned:
            return self.planned[code]
        if code == "UNS":
            before = [num for d, num in self._by_day if day is not None and d <= day]
            return (round((before[-1] if before else 1.0) + 0.01, 2), "UNSCHEDULED", None)
        return (None, "", None)


def _dm(s: _Subject, study: Study, countries: dict, deaths: dict) -> dict:
    p = s.p
    inj = _dtc(s.injection) if s.injection else ""
    final = FINAL_STATUS.get(p.get("status") or "")
    end = (p.get("status_on") or "") if final else ""
    death = (p.get("status_on") or "") if p.get("status") == "died" else deaths.get(p["subject_id"], "")
    died = p.get("status") == "died" or p["subject_id"] in deaths
    return {
        "STUDYID": study.study_id, "DOMAIN": "DM", "USUBJID": s.usubjid, "SUBJID": p["subject_id"],
        "RFSTDTC": inj, "RFENDTC": end, "RFXSTDTC": inj, "RFXENDTC": inj, "RFICDTC": p["consent_on"],
        "RFPENDTC": end, "DTHDTC": death, "DTHFL": "Y" if died else "", "SITEID": p["site"],
        "AGE": age_on(date.fromisoformat(p["birth_date"]), date.fromisoformat(p["consent_on"])), "AGEU": "YEARS",
        "SEX": p["sex"], "RACE": "", "ARMCD": ARMCD, "ARM": ARM,
        "ACTARMCD": ARMCD if s.injection else "", "ACTARM": ARM if s.injection else "",
        "ARMNRS": "" if s.injection else "ASSIGNED, NOT TREATED", "ACTARMUD": "",
        "COUNTRY": countries.get(p["site"], ""),
    }


def _ex(s: _Subject, study: Study) -> dict:
    inj = _dtc(s.injection)
    return {"STUDYID": study.study_id, "DOMAIN": "EX", "USUBJID": s.usubjid, "EXSEQ": 1, "EXTRT": TREATMENT,
            "EXDOSE": float(study.dose_cells_per_kg), "EXDOSU": "cells/kg", "EXDOSFRM": "SUSPENSION",
            "EXDOSFRQ": "ONCE", "EXROUTE": "INTRARENAL", "EPOCH": "TREATMENT", "EXSTDTC": inj, "EXENDTC": inj,
            "EXSTDY": 1, "EXENDY": 1}


@lru_cache(maxsize=4096)
def _range_text(analyte: str, unit: str, limit: float | None) -> str:
    """A reference limit (stored in the standard unit) in the result's original unit (exact Decimal conversion,
    rounded to 12 significant digits as units.py does)."""
    if limit is None:
        return ""
    u = find_unit(analyte, unit)
    return _num_text(_to_float(u.from_canonical(Decimal(repr(float(limit))))))


@lru_cache(maxsize=1024)
def _test(analyte: str, unit: str) -> tuple[str, str, str, str, str]:
    """(LBTESTCD, LBTEST, LBCAT, LBSPEC, unit's standard spelling); KeyError or LabValueError if unknown."""
    return (*LAB_TESTS[analyte], find_unit(analyte, unit).name)


def _nrind(value: float, lo: float | None, hi: float | None) -> str:
    # SDTMIG 3.4 LBNRIND: relative to the reference range; the limits themselves are within the range
    if lo is None and hi is None:
        return ""
    if lo is not None and value < lo:
        return "LOW"
    if hi is not None and value > hi:
        return "HIGH"
    return "NORMAL"


def _lb(s: _Subject, r: dict, zone: ZoneInfo, study: Study) -> list[dict]:
    """The result's LB record, and for a creatinine with a derived eGFR the eGFR record."""
    try:
        testcd, test, cat, spec, unit = _test(r["analyte"], r["unit"])
    except (KeyError, LabValueError):
        raise ExportError(f"analyte {r['analyte']!r} in {r['unit']!r} has no LB test code", field="LBTESTCD",
                          row=r["id"]) from None
    at = _local(r["collected_at"], zone)
    base = {"STUDYID": study.study_id, "DOMAIN": "LB", "USUBJID": s.usubjid, "LBSPID": str(r["id"]),
            "LBCAT": cat, "LBSPEC": spec, "EPOCH": s.epoch_of_instant(at), "LBDTC": _dtc(at), "LBDY": s.dy(at.date()),
            "_at": at, "_visit": r["visit"]}
    tox_analyte = "egfr" if r["ctcae_term"] == "Chronic kidney disease" else r["analyte"]
    own = {**base, "LBTESTCD": testcd, "LBTEST": test, "LBORRES": _num_text(r["value"]), "LBORRESU": unit,
           "LBORNRLO": _range_text(r["analyte"], unit, r["lln"]), "LBORNRHI": _range_text(r["analyte"], unit, r["uln"]),
           "LBSTRESC": _num_text(r["value_si"]), "LBSTRESN": float(r["value_si"]), "LBSTRESU": r["unit_si"],
           "LBSTNRLO": r["lln"], "LBSTNRHI": r["uln"], "LBNRIND": _nrind(r["value_si"], r["lln"], r["uln"]),
           "LBDRVFL": "", "LBTOX": "", "LBTOXGR": ""}
    out = [own]
    if r["egfr"] is not None and r["analyte"] == "creatinine":
        egfr = round(float(r["egfr"]), 1)
        ecd, etest, ecat, espec = LAB_TESTS["egfr"]
        ref = study.reference_range("egfr", s.p["sex"])
        lo, hi = (ref.lln, ref.uln) if ref else (None, None)
        out.append({**base, "LBTESTCD": ecd, "LBTEST": etest, "LBCAT": ecat, "LBSPEC": espec,
                    "LBORRES": _num_text(egfr), "LBORRESU": ANALYTES["egfr"].unit_si,
                    "LBORNRLO": _num_text(lo) if lo is not None else "", "LBORNRHI": _num_text(hi) if hi is not None else "",
                    "LBSTRESC": _num_text(egfr), "LBSTRESN": egfr, "LBSTRESU": ANALYTES["egfr"].unit_si,
                    "LBSTNRLO": lo, "LBSTNRHI": hi, "LBNRIND": _nrind(egfr, lo, hi), "LBDRVFL": "Y",
                    "LBTOX": "", "LBTOXGR": ""})
    if r["ctcae_grade"] is not None:
        target = out[-1] if tox_analyte == "egfr" and len(out) == 2 else own
        target["LBTOX"], target["LBTOXGR"] = r["ctcae_term"], str(r["ctcae_grade"])
    return out


def _seq(records: list[dict], name: str) -> None:
    """--SEQ 1..n per subject in the records' order (sorted by the dataset keys beforehand)."""
    last, n = None, 0
    for rec in records:
        n = n + 1 if rec["USUBJID"] == last else 1
        last = rec["USUBJID"]
        rec[name] = n


def _partial(d: str | None, var: str, row) -> str:
    if not d:
        return ""
    if not (len(d) in (4, 7, 10) and d.isascii()):
        raise ExportError(f"{d!r} is not an ISO 8601 (partial) date", field=var, row=row)
    return d


@dataclass
class Built:
    records: dict[str, list[dict]]
    notes: list[str]
    left_out: dict


def build(snap: Snapshot, *, study: Study, tz: str, meta: ExportMeta, catalogue=None,
          countries: dict | None = None) -> Built:
    """Every dataset's records in key order with --SEQ assigned; raises ExportError naming record and variable."""
    zone = ZoneInfo(tz)
    sid = study.study_id
    countries = countries or {}
    subjects = {p["subject_id"]: _Subject(p, zone, sid) for p in snap.participants}
    deaths = {}
    for a in snap.aes:  # a fatal AE also makes the participant dead in DM (SDTMIG DM DTHFL)
        if a.get("outcome") == "fatal":
            deaths.setdefault(a["subject_id"], a.get("end_date") or "")
    rec: dict[str, list[dict]] = {}
    rec["DM"] = [_dm(s, study, countries, deaths) for s in subjects.values()]
    rec["EX"] = [_ex(s, study) for s in subjects.values() if s.injection]

    visits = Visits(study)
    sv: dict[tuple, dict] = {}

    def add_sv(s: _Subject, code: str, d: date):
        num, label, planned = visits.of(code, s.dy(d))
        if num is None:
            return
        key = (s.usubjid, num)
        iso_d = d.isoformat()
        cur = sv.get(key)
        if cur is None:
            sv[key] = {"STUDYID": sid, "DOMAIN": "SV", "USUBJID": s.usubjid, "VISITNUM": num, "VISIT": label,
                       "VISITDY": planned, "EPOCH": s.epoch_of_date(iso_d), "SVSTDTC": iso_d, "SVENDTC": iso_d,
                       "SVSTDY": s.dy(d), "SVENDY": s.dy(d)}
        else:
            if iso_d < cur["SVSTDTC"]:
                cur.update(SVSTDTC=iso_d, SVSTDY=s.dy(d), EPOCH=s.epoch_of_date(iso_d))
            if iso_d > cur["SVENDTC"]:
                cur.update(SVENDTC=iso_d, SVENDY=s.dy(d))

    by_pid = {s.p["id"]: s for s in subjects.values()}
    for v in snap.visits:
        s = by_pid[v["participant_id"]]
        add_sv(s, v["visit"], date.fromisoformat(v["visit_date"]))
    for s in subjects.values():
        if s.injection:
            add_sv(s, "D0", s.day1)

    lb: list[dict] = []
    sv_seen: set[tuple] = set()
    for r in snap.labs:
        if r["analyte"] in VITAL_SIGNS:
            continue
        s = subjects.get(r["subject_id"])
        if s is None:
            continue
        for x in _lb(s, r, zone, study):
            num, label, _ = visits.of(x.pop("_visit"), x["LBDY"])
            x["VISITNUM"], x["VISIT"] = num, label
            lb.append(x)
        if r["visit"] in ("SCR", "UNS", "D0") or (r["visit"] and r["visit"] in visits.planned):
            seen = (s.usubjid, r["visit"], lb[-1]["LBDTC"][:10])
            if seen not in sv_seen:  # one sample day of a visit is enough to place it in SV
                sv_seen.add(seen)
                add_sv(s, r["visit"], lb[-1]["_at"].date())
    # LBLOBXFL: the last result per test strictly before the injection instant (SDTMIG 3.4 --LOBXFL)
    last: dict[tuple, dict] = {}
    for x in lb:
        s = subjects[x["USUBJID"][len(sid) + 1:]]
        if s.injection and x["_at"] < s.injection:
            key = (x["USUBJID"], x["LBTESTCD"])
            if key not in last or x["_at"] >= last[key]["_at"]:
                last[key] = x
    for x in lb:
        x["LBLOBXFL"] = ""
    for x in last.values():
        x["LBLOBXFL"] = "Y"
    lb.sort(key=lambda x: (x["USUBJID"], x["LBTESTCD"], x["LBDTC"], int(x["LBSPID"]), x["LBDRVFL"]))
    _seq(lb, "LBSEQ")
    rec["LB"] = lb
    rec["SV"] = sorted(sv.values(), key=lambda x: (x["USUBJID"], x["VISITNUM"]))

    b = sdtm.build(snap.aes, meta, catalogue)
    for a in b.ae:
        s = subjects.get(a["USUBJID"][len(sid) + 1:])
        if s is not None and a["AESTDTC"]:  # AESTDY from DM's RFSTDTC: the same rule as every other domain
            a["AESTDY"] = s.dy(a["AESTDTC"])
            a["AEENDY"] = s.dy(a["AEENDTC"]) if a["AEENDTC"] else None
    rec["AE"], rec["SUPPAE"] = b.ae, b.supp

    ds = []
    for s in subjects.values():
        ds.append({"STUDYID": sid, "DOMAIN": "DS", "USUBJID": s.usubjid, "DSTERM": "INFORMED CONSENT OBTAINED",
                   "DSDECOD": "INFORMED CONSENT OBTAINED", "DSCAT": "PROTOCOL MILESTONE",
                   "EPOCH": s.epoch_of_date(s.p["consent_on"]), "DSSTDTC": s.p["consent_on"],
                   "DSSTDY": s.dy(s.p["consent_on"])})
        decod = FINAL_STATUS.get(s.p.get("status") or "")
        if decod and s.p.get("status_on"):
            term, _ = sdtm.to_ascii(s.p.get("status_reason") or decod, "DSTERM", s.p["subject_id"])
            ds.append({"STUDYID": sid, "DOMAIN": "DS", "USUBJID": s.usubjid, "DSTERM": term[:200].upper(),
                       "DSDECOD": decod, "DSCAT": "DISPOSITION EVENT", "EPOCH": s.epoch_of_date(s.p["status_on"]),
                       "DSSTDTC": s.p["status_on"], "DSSTDY": s.dy(s.p["status_on"])})
    ds.sort(key=lambda x: (x["USUBJID"], x["DSSTDTC"], x["DSDECOD"]))
    _seq(ds, "DSSEQ")
    rec["DS"] = ds

    cm = []
    for r in snap.conmeds:
        s = subjects.get(r["subject_id"])
        if s is None:
            continue
        start, stop = _partial(r["start_date"], "CMSTDTC", r["id"]), _partial(r["stop_date"], "CMENDTC", r["id"])
        cm.append({"STUDYID": sid, "DOMAIN": "CM", "USUBJID": s.usubjid, "CMSEQ": r["seq"], "CMSPID": str(r["id"]),
                   "CMTRT": _text(r["name"], "CMTRT", r["id"]), "CMINDC": _text(r["indication"], "CMINDC", r["id"]),
                   "CMDOSE": r["dose"], "CMDOSU": _text(r["unit"], "CMDOSU", r["id"]).upper(),
                   "CMROUTE": ROUTES.get(r["route"] or "", (r["route"] or "").upper()),
                   "EPOCH": s.epoch_of_date(start), "CMSTDTC": start, "CMENDTC": stop, "CMSTDY": s.dy(start),
                   "CMENDY": s.dy(stop), "CMENRTPT": "ONGOING" if r["ongoing"] else "",
                   "CMENTPT": _local_day(r["updated_at"], zone) if r["ongoing"] else ""})
    cm.sort(key=lambda x: (x["USUBJID"], x["CMSEQ"]))
    rec["CM"] = cm

    mh = []
    for r in snap.history:
        s = subjects.get(r["subject_id"])
        if s is None:
            continue
        mh.append({"STUDYID": sid, "DOMAIN": "MH", "USUBJID": s.usubjid, "MHSEQ": r["seq"], "MHSPID": str(r["id"]),
                   "MHTERM": _text(r["condition"], "MHTERM", r["id"]),
                   "MHSTDTC": _partial(r["onset"], "MHSTDTC", r["id"]),
                   "MHENRTPT": "ONGOING" if r["ongoing"] else "",
                   "MHENTPT": _local_day(r["updated_at"], zone) if r["ongoing"] else ""})
    mh.sort(key=lambda x: (x["USUBJID"], x["MHSEQ"]))
    rec["MH"] = mh
    for x in lb:
        x.pop("_at", None)
    return Built(rec, list(b.notes), dict(snap.left_out))


def _local_day(at: str, zone: ZoneInfo) -> str:
    return parse_datetime(at).astimezone(zone).date().isoformat()


def _text(value, var: str, row) -> str:
    """Free text as XPT v5 holds it: ASCII (accents dropped, symbols spelt), at most 200 bytes."""
    text, _ = sdtm.to_ascii(value or "", var, row)
    if len(text) > 200:
        raise ExportError(f"text of {len(text)} characters exceeds 200", field=var, row=row)
    return text
