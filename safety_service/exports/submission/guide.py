"""The reviewer's guide of the SDTM package: one short HTML page naming the choices made (cf. PHUSE cSDRG)."""
from __future__ import annotations

from html import escape
from typing import Sequence

from . import terminology as ct

CHOICES = (
    ("Standards", f"SDTMIG 3.4, CDISC SDTM Controlled Terminology {ct.CT_VERSION}, Define-XML 2.1, SAS transport "
                  "version 5. Codes of CDISC codelists carry their NCI C-codes in define.xml where known."),
    ("Reference dates", "RFSTDTC = RFXSTDTC = RFXENDTC = the single intra-renal UC-MSC injection, in the study's "
                        "local time. Study days (--DY) count from RFSTDTC's date: day 1 is the injection day, the "
                        "day before is -1; there is no day 0. RFENDTC = RFPENDTC = the date the participant "
                        "completed, withdrew, was lost to follow-up or died; null while on study."),
    ("Arms", "Single arm: ARMCD UCMSC, ARM 'UC-MSC 1 x 10^6 cells/kg'. An enrolled participant not (yet) injected "
             "keeps ARM/ARMCD, has null ACTARM/ACTARMCD and ARMNRS 'ASSIGNED, NOT TREATED' (SDTMIG 3.4 DM)."),
    ("Exposure", "EX has one record per injected participant: EXDOSE is the protocol dose per kg (cells/kg), "
                 "EXROUTE INTRARENAL is a sponsor extension of the extensible ROUTE codelist."),
    ("Epochs and early/late", "EPOCH is SCREENING before the injection, TREATMENT on the injection day after it, "
                              "FOLLOW-UP later. The protocol's early/late AE windows are not epochs: they are the "
                              "supplemental qualifier AEPHASE in SUPPAE, with causality to the procedure (AERELPRC) "
                              "and the treatment-emergent flag (AETRTEM)."),
    ("MedDRA", "AEs are coded with NCI CTCAE v5.0, whose terms are MedDRA v20.1 lowest level terms (LLT): AELLT/"
               "AELLTCD are the CTCAE term and code; AEPTCD is the PT code where the catalogue knows it; AEDECOD "
               "is the CTCAE term; AEBODSYS/AESOC and their codes are CTCAE's SOC. AEHLT, AEHLGT and their codes "
               "are Expected and present but null: the service holds no MedDRA hierarchy."),
    ("Laboratory", "Each valid result gives one LB record with the value and unit as entered (LBORRES/LBORRESU) "
                   "and in the analyte's standard unit (LBSTRESN/LBSTRESU, exact Decimal conversion). eGFR derived "
                   "from a creatinine (CKD-EPI 2021) is its own record with LBDRVFL = Y. LBTOXGR is the CTCAE v5.0 "
                   "grade. LBLOBXFL (SDTMIG 3.4's baseline flag; LBBLFL is not used) marks the last result of each "
                   "test collected before the injection instant. Blood pressure and temperature are vital signs "
                   "(SDTM VS), which this package does not contain."),
    ("Visits", "VISITNUM/VISIT come from rules/study.toml: SCREENING 1, INJECTION DAY 2, the follow-up visits 3.. "
               "in order; an unscheduled visit is the preceding planned VISITNUM + 0.01. SV has one record per "
               "visit done: recorded follow-up visits, the injection day and visits at which samples were taken."),
    ("Disposition", "DS holds informed consent (PROTOCOL MILESTONE) for every participant and one final "
                    "DISPOSITION EVENT (COMPLETED, WITHDRAWAL BY SUBJECT, LOST TO FOLLOW-UP or DEATH) for those "
                    "who left the study; participants still on study have none."),
    ("Con-meds and history", "CM and MH come from the sites' records; partial dates stay partial (no imputation), "
                             "ongoing records have --ENRTPT ONGOING with the date the site last confirmed them as "
                             "--ENTPT. Drug and condition names are not dictionary-coded."),
    ("Left out", "Records entered in error (AEs, lab results, con-meds, history) are never tabulated; define.xml "
                 "counts them per dataset. Text is ASCII (accents dropped, symbols spelt out) and at most 200 bytes; "
                 "a longer AE term continues in SUPPAE (AETERM1...)."),
    ("Country and race", "COUNTRY comes from rules/study.toml (each site's ISO 3166-1 alpha-3 code, required there, "
                         "the same place CIOMS I field 1a reads); RACE is not collected by the safety service and is null."),
)


def write_guide(datasets: Sequence, ctx) -> bytes:
    """The guide as HTML bytes (UTF-8), naming the audit chain head the package was made at."""
    rows = "".join(f"<tr><td>{escape(ds.name)}</td><td>{escape(ds.label)}</td><td>{escape(ds.file)}</td>"
                   f"<td>{len(recs)}</td><td>{ctx.left_out.get(ds.name, 0)}</td></tr>" for ds, recs in datasets)
    choices = "".join(f"<h2>{escape(t)}</h2><p>{escape(text)}</p>" for t, text in CHOICES)
    notes = "".join(f"<li>{escape(n)}</li>" for n in ctx.notes)
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Reviewer's guide: {escape(ctx.study_id)} SDTM package</title></head>
<body>
<h1>Reviewer's guide: {escape(ctx.study_id)} SDTM package</h1>
<p>{escape(ctx.study_title)}</p>
<p>Made at audit chain head <code>{escape(ctx.anchor)}</code> (<code>safety audit anchor</code>; check it with
<code>safety audit verify --anchor {escape(ctx.anchor)}</code>) on {escape(ctx.meta.exported_at_iso)} by
{escape(ctx.meta.exported_by)}. define.xml names the same head in every dataset's comment.</p>
<table><thead><tr><th>Dataset</th><th>Label</th><th>File</th><th>Records</th><th>Entered in error, left out</th></tr>
</thead><tbody>{rows}</tbody></table>
{choices}
{"<h2>Notes</h2><ul>" + notes + "</ul>" if notes else ""}
</body></html>
"""
    return html.encode("utf-8")
