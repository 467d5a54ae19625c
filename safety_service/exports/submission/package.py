"""The SDTM package as files: one XPT v5 per dataset, define.xml, the reviewer's guide, and a zip of them all.

Every file is a function of the snapshot and the export context: the XPT header stamps and the zip entries carry
the export time, nothing reads the clock, so the same data and time give the same bytes.
"""
from __future__ import annotations

import io
import zipfile
from operator import itemgetter
from dataclasses import dataclass
from typing import Sequence

from ...domain.study import Study
from ..meta import ExportMeta
from ..xpt import write_xpt
from . import define_xml, guide
from .datasets import AE_ONLY, PACKAGE, Dataset
from .domains import Built, Snapshot, build

DEFINE, GUIDE = "define.xml", "reviewers-guide.html"


@dataclass(frozen=True)
class Package:
    files: dict[str, bytes]  # file name -> bytes, in package order
    rows: dict[str, int]  # dataset -> records
    anchor: str

    def zip(self, when) -> bytes:
        """All files in one zip, entries stamped with ``when`` (fixed, so the archive is reproducible)."""
        buf = io.BytesIO()
        stamp = (when.year, when.month, when.day, when.hour, when.minute, when.second)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in self.files.items():
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                z.writestr(info, data)
        return buf.getvalue()


def _xpt(ds: Dataset, records: list[dict], meta: ExportMeta, columns: dict | None = None) -> bytes:
    row_key = next((v.name for v in ds.variables if v.name.endswith("SPID")), None)
    return write_xpt([v.xpt() for v in ds.variables], records, ds.name, ds.label, meta.exported_at_utc, row_key,
                     columns)


def _columns(names: list[str], records: list[dict]) -> dict[str, list]:
    """Each variable's values in record order, None where a record lacks it: a row of every variable per record
    (itemgetter), transposed, rather than a pass over the records per variable (the LB domain has 63,000 x 25)."""
    if not records or not names:
        return {n: [] for n in names}
    row = itemgetter(*names)
    try:
        rows = list(map(row, records))
    except KeyError:  # a record without some variable: read it value by value
        return {n: [r.get(n) for r in records] for n in names}
    if len(names) == 1:
        return {names[0]: rows}
    return {n: list(values) for n, values in zip(names, zip(*rows))}


def _files(datasets: Sequence[Dataset], built: Built, meta: ExportMeta, title: str, anchor: str,
           with_guide: bool) -> Package:
    files: dict[str, bytes] = {}
    pairs = [(ds, built.records[ds.name]) for ds in datasets]
    # each column read out of the records once, for the XPT file and the define's lengths alike
    columns = {ds.name: _columns([v.name for v in ds.variables], recs) for ds, recs in pairs}
    for ds, recs in pairs:
        files[ds.file] = _xpt(ds, recs, meta, columns[ds.name])
    ctx = define_xml.Context(meta.study_id, title, meta, anchor, built.left_out, built.notes,
                             GUIDE if with_guide else None)
    files[DEFINE] = define_xml.write_define(pairs, ctx, columns)
    if with_guide:
        files[GUIDE] = guide.write_guide(pairs, ctx)
    return Package(files, {ds.name: len(recs) for ds, recs in pairs}, anchor)


def countries(study: Study) -> dict[str, str]:
    """Site -> ISO 3166-1 alpha-3 country, where rules/study.toml names one."""
    return {s.code: s.country for s in study.sites}


def make_package(snap: Snapshot, *, study: Study, tz: str, meta: ExportMeta, catalogue=None) -> Package:
    """Every dataset of the package, define.xml describing them and the reviewer's guide."""
    built = build(snap, study=study, tz=tz, meta=meta, catalogue=catalogue, countries=countries(study))
    return _files(PACKAGE, built, meta, study.title, snap.anchor, with_guide=True)


def ae_define(rows: Sequence[dict], *, meta: ExportMeta, anchor: str, title: str = "", catalogue=None) -> bytes:
    """define.xml for the AE listing's ae.xpt and suppae.xpt alone (the same rows as those files)."""
    from .. import sdtm

    b = sdtm.build(rows, meta, catalogue)
    built = Built({"AE": b.ae, "SUPPAE": b.supp}, list(b.notes), {"AE": b.excluded})
    return _files(AE_ONLY, built, meta, title or meta.study_id, anchor, with_guide=False).files[DEFINE]
