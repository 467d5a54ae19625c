"""PDF listings: landscape, paginated, a header with the export context, "Page n of m", a signature line.

The document itself (fonts, header, footer, tables) is exports/pdf_document.py, imported when a PDF is made.
"""
from __future__ import annotations

from typing import Sequence

from .columns import AE_COLUMNS, AE_PDF_KEYS, Table, ae_table, columns_by_key
from .meta import ExportMeta


def write_tables_pdf(tables: Sequence[Table], meta: ExportMeta) -> bytes:
    """Each table in turn, then the signature line."""
    from .pdf_document import ListingPDF

    pdf = ListingPDF(meta)
    pdf.add_page()
    for t in tables:
        pdf.table_block(t)
    pdf.signature_block()
    return bytes(pdf.output())


def write_ae_pdf(rows: Sequence[dict], meta: ExportMeta, summary: Sequence[Table] = ()) -> bytes:
    """The AE listing (the columns that fit a landscape page), then the summary tables if given."""
    listing = ae_table(rows)
    narrow = Table(listing.name, listing.title, columns_by_key(AE_COLUMNS, AE_PDF_KEYS), listing.rows,
                   "All columns are in the CSV and XLSX exports.")
    return write_tables_pdf([narrow, *summary], meta)
