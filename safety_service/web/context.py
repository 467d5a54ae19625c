"""Per-request access to the database, rules, clock and settings for views (the domain gets them as arguments)."""
from __future__ import annotations

import threading
from datetime import datetime

from flask import current_app, g
from sqlite_utils import Database

from ..clock import local_text
from ..db import connect


# One connection per worker thread and database file, reused across requests: closing the last connection to a
# WAL database checkpoints it, which cost ~22 ms on every write request (benchmarks/bench_http.py).
_per_thread = threading.local()


def get_db() -> Database:
    if "db" not in g:
        path = current_app.config["DATABASE"]
        kept = getattr(_per_thread, "db", None)
        if kept is None or kept[0] != path:
            if kept is not None:
                kept[1].conn.close()
            _per_thread.db = (path, connect(path))
        g.db = _per_thread.db[1]
    return g.db


def close_db(_exc=None) -> None:
    """End of request: the connection stays open for the thread's next request, never inside a transaction."""
    db = g.pop("db", None)
    if db is not None and db.conn.in_transaction:
        db.conn.execute("ROLLBACK")


def rulebook():
    return current_app.extensions["rulebook"]


def study():
    return rulebook().study


def clock():
    return current_app.extensions["clock"]


def now() -> datetime:
    return clock().now()


def tz() -> str:
    return current_app.config["TIMEZONE"]


def local(at, empty: str = "") -> str:
    """A stored UTC instant in the study's time zone, for pages (also the template global ``local``)."""
    return local_text(at, tz(), empty)
