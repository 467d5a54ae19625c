"""Exports for auditors: each writer is a pure function of (rows, meta) -> bytes.

Nothing here touches the database or Flask; the web and CLI layers fetch the rows,
call a writer, and record the export in the audit trail.
"""
