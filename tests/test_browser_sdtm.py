"""The auditor downloads the SDTM package from the exports page in a real browser (Debian's chromium), on the demo
study: every dataset reads back with pandas, DM holds every participant, define.xml validates against the XSD."""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import odmlib
import pandas as pd
import pytest
from lxml import etree

from safety_service.domain import participants

pytestmark = pytest.mark.browser

XSD = Path(os.path.dirname(odmlib.__file__), "schemas", "define", "2.1", "define2-1-0.xsd")


def test_it_lets_the_auditor_download_the_sdtm_package(as_role, demo_site, tmp_path):
    page = as_role("auditor", accept_downloads=True)
    page.goto("/exports")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the SDTM package (zip)").click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.suffix == ".zip"
    z = zipfile.ZipFile(path)
    assert sorted(n for n in z.namelist() if n.endswith(".xpt")) == sorted(
        f"{d}.xpt" for d in ("dm", "sv", "ex", "cm", "ae", "ds", "mh", "lb", "suppae"))
    frames = {d: pd.read_sas(io.BytesIO(z.read(f"{d.lower()}.xpt")), format="xport", encoding="ascii")
              for d in ("DM", "EX", "AE", "LB", "SV", "DS")}
    db = demo_site.db()
    try:
        everyone = participants.list_for(db, None)
    finally:
        db.conn.close()
    assert sorted(frames["DM"]["SUBJID"]) == sorted(p["subject_id"] for p in everyone)
    assert set(frames["AE"]["USUBJID"]) <= set(frames["DM"]["USUBJID"])
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(etree.fromstring(z.read("define.xml"))), schema.error_log
    assert b"audit chain head" in z.read("reviewers-guide.html")
