"""Per-request access to the database, rules, clock and settings for views (the domain gets them as arguments)."""
from __future__ import annotations

from datetime import datetime

from flask import current_app, g
from sqlite_utils import Database

from ..clock import local_text
from ..db import connect


def get_db() -> Database:
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(_exc=None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.conn.close()


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
