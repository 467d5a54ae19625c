"""PDF listing: read back with pypdf; header on every page, page n of m, signature line, Unicode, determinism."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pypdf

from safety_service.domain.summary import summarize
from safety_service.exports import summary_tables
from safety_service.exports.pdf import write_ae_pdf
from test_export_rows import NOW, STUDY, ae, active, meta, participants, sample_rows


def pages(data: bytes) -> list[str]:
    return [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages]


def many_rows(n: int) -> list[dict]:
    return [ae(i, f"S{1 + i % 3:02d}-{i:03d}", 1, verbatim=f"verbatim number {i}") for i in range(1, n + 1)]


def test_it_prints_the_header_and_page_n_of_m_on_every_page():
    texts = pages(write_ae_pdf(many_rows(150), meta(subject_id="S01-001", min_grade=2)))
    assert len(texts) > 2
    for i, text in enumerate(texts, start=1):
        assert f"{STUDY} - Adverse event listing" in text
        assert f"Exported at {NOW.isoformat()} (UTC) by auditor_ada@example.org" in text
        assert "Filters: min_grade=2; subject_id=S01-001" in text
        assert f"Page {i} of {len(texts)}" in text


def test_it_lists_every_row_across_pages():
    rows = many_rows(150)
    text = "\n".join(pages(write_ae_pdf(rows, meta())))
    found = set(int(m) for m in re.findall(r"verbatim number (\d+)", text))
    assert found == {r["id"] for r in rows}
    assert "Adverse event listing (150 rows)" in text


def test_it_is_landscape_with_a_signature_line_at_the_end():
    data = write_ae_pdf(sample_rows(), meta())
    reader = pypdf.PdfReader(io.BytesIO(data))
    box = reader.pages[0].mediabox
    assert box.width > box.height
    last = reader.pages[-1].extract_text()
    assert "Reviewed by (name):" in last and "Signature:" in last and "Date:" in last


def test_it_prints_unicode_verbatim_terms():
    text = "\n".join(pages(write_ae_pdf(sample_rows(), meta())))
    assert "Fièvre ≥ 38 °C" in text
    for r in sample_rows():
        assert r["subject_id"] in text
    assert "Enteredinerror" in "".join(text.split())  # listed with its status label (wrapped), not hidden


def test_it_adds_the_summary_tables():
    tables = summary_tables.tables(summarize(participants(), sample_rows()))
    text = "\n".join(pages(write_ae_pdf(sample_rows(), meta(), summary=tables)))
    assert "Overview of treatment-emergent adverse events" in text
    assert "Participants by maximum CTCAE v5.0 grade" in text
    assert "Serious adverse events (2 rows)" in text
    assert "Adverse events leading to death (1 rows)" in text


def test_it_says_so_when_there_are_no_rows():
    text = "\n".join(pages(write_ae_pdf([], meta())))
    assert "Adverse event listing (0 rows)" in text and "No rows." in text


def test_it_gives_the_same_bytes_for_the_same_rows_and_time():
    assert write_ae_pdf(sample_rows(), meta()) == write_ae_pdf(sample_rows(), meta())


def test_it_carries_the_export_time_as_the_creation_date():
    later = NOW + timedelta(hours=1)
    info = pypdf.PdfReader(io.BytesIO(write_ae_pdf(active(sample_rows()), meta(later)))).metadata
    assert info.creation_date.replace(tzinfo=None) == later.replace(tzinfo=None)
    assert info.author == "auditor_ada@example.org"
