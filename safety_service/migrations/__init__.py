"""Numbered, append-only migrations: one module per migration, applied in name order, never edited once shipped.

Ranges by area (so engineers working in parallel never collide): 0001-0009 foundation, 0010-0019 adverse events,
0020-0029 labs, 0030-0039 alerts and mail, 0040-0049 exports, 0050-0059 signals, 0060-0069 pages, 0070-0079 hardening.
Each module is named ``m<NNNN>_<what>.py`` and defines ``up(db)``; it runs in one transaction with its record.
"""
from __future__ import annotations

import importlib
import pkgutil

from sqlite_utils import Database, Migrations


def migration_set() -> Migrations:
    """Every migration module of this package, registered in name order."""
    migrations = Migrations("safety_service")
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("m") and m.name[1:5].isdigit())
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        migrations(name=name)(module.up)
    return migrations


def apply(db: Database) -> list[str]:
    """Apply what is pending; idempotent. Returns the names applied now."""
    from ..db import atomic

    migrations = migration_set()
    # One IMMEDIATE transaction around the set: two processes starting together (gunicorn workers, the
    # scheduler) serialise here and the second finds nothing pending.
    with atomic(db):
        pending = [m.name for m in migrations.pending(db)]
        migrations.apply(db)
    return pending
