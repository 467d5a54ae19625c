"""The linear-time PDF text layout of the DSMB report (reports/pdf_layout.py): nothing lost, nothing overflows."""
from __future__ import annotations

import io

from pypdf import PdfReader

from safety_service.exports.pdf_document import FONT, font_paths
from safety_service.reports import pdf_layout
from fpdf import FPDF


def _pdf() -> FPDF:
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    for style, path in font_paths().items():
        pdf.add_font(FONT, style, path)
    pdf.set_font(FONT, "", 8)
    pdf.add_page()
    return pdf


def test_it_wraps_every_word_once_and_no_line_runs_over_the_width():
    pdf = _pdf()
    m = pdf_layout.Measure(pdf)
    text = ", ".join(f"S0{i % 3 + 1}-{i:03d}" for i in range(300))
    lines = m.wrap(text, 120)
    assert " ".join(lines) == text
    assert all(pdf.get_string_width(line) <= 120 for line in lines)
    assert len(lines) > 10


def test_it_cuts_a_word_longer_than_the_line_without_losing_characters():
    pdf = _pdf()
    m = pdf_layout.Measure(pdf)
    word = "x" * 400
    lines = m.wrap(f"before {word} after", 50)
    assert "".join(lines).replace(" ", "") == f"before{word}after"
    assert all(pdf.get_string_width(line) <= 50 for line in lines)


def test_it_repeats_the_heading_row_on_each_page_a_table_runs_onto():
    pdf = _pdf()
    m = pdf_layout.Measure(pdf)
    rows = [[str(i), f"S01-{i:03d}", "Flank pain " * (1 + i % 4)] for i in range(200)]
    pdf_layout.table(pdf, m, ["No.", "Subject", "Term"], rows, [5, 10, 40], 3.6, FONT, 7)
    reader = PdfReader(io.BytesIO(bytes(pdf.output())))
    assert len(reader.pages) > 1
    texts = [p.extract_text() for p in reader.pages]
    assert all("Subject" in t for t in texts)
    assert all(f"S01-{i:03d}" in "".join(texts) for i in range(200))
