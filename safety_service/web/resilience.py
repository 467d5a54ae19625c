"""A busy, full or failing database answers 503 with Retry-After, not a bare 500.

Why: under load a writer can wait past the busy timeout (another process holds the write lock), and a full
disk refuses every write. The transaction was rolled back (db.atomic), so the honest answer is "not done,
try again", which a nurse's browser and an EDC's retry loop both understand; a 500 says neither.
Registered as a blueprint with no routes; any other database error is left to the 500 handler.
"""
from __future__ import annotations

import logging
import sqlite3

from flask import Blueprint, jsonify, render_template, request

bp = Blueprint("resilience", __name__)
log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# SQLite's messages for SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL and SQLITE_IOERR.
TRANSIENT = ("database is locked", "database table is locked", "database or disk is full", "disk i/o error")


@bp.app_errorhandler(sqlite3.OperationalError)
def database_unavailable(e: sqlite3.OperationalError):
    """503 for a transient database failure; re-raises anything else (a bug, which must stay a 500)."""
    text = str(e).lower()
    if not any(t in text for t in TRANSIENT):
        raise e
    log.warning("database unavailable for %s %s: %s", request.method, request.url_rule, text)
    message = ("The database is busy or cannot be written just now; this change was not completed. "
               "Reload to check, then try again in a few seconds.")
    if request.path.startswith("/api/"):
        response = jsonify({"error": {"code": "unavailable", "message": message}})
    else:
        response = render_template("error.html", status=503, message=message)
    return response, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
