"""Computed figures cached in SQLite under the data version they were computed at (issue 18).

The ``figures`` data version moves, by trigger, in the transaction of any change to a table the figures read
(participants, visits, labs, lab_regrades, adverse_events, alerts: migration m0155). A figure is served from the
cache only while that version is unchanged; the key carries the other inputs (scope, the instant to the minute).
In the database, not per process: every web worker reads what one of them computed.
"""
from __future__ import annotations

import pickle
from typing import Callable, TypeVar

from sqlite_utils import Database

from ...db import atomic_if_free
from . import versions

T = TypeVar("T")
VERSION = "figures"
KEPT = 200  # entries kept at most: keys carry the minute, so a quiet day would otherwise add one a minute per view


def cached(db: Database, key: str, compute: Callable[[], T]) -> T:
    """The value stored under ``key`` at the current data version, else ``compute()`` stored under it.

    Stored only if the data version did not move while computing: a value never outlives the data it was made of;
    and only if the write lock is free (else the next view computes it again).
    The values are the service's own objects written by the service (pickle), never anything a user supplied.
    """
    version = versions.current(db, VERSION)
    hit = db.execute("SELECT version, value FROM figure_cache WHERE key = ?", [key]).fetchone()
    if hit and hit[0] == version:
        return pickle.loads(hit[1])
    value = compute()
    with atomic_if_free(db) as free:  # a view never waits behind an AE save to fill the cache
        if free and versions.current(db, VERSION) == version:
            db.execute("INSERT INTO figure_cache (key, version, value) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
                       "SET version = excluded.version, value = excluded.value",
                       [key, version, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)])
            # what an older data version computed can never be served again; beyond KEPT, the oldest entries go
            db.execute("DELETE FROM figure_cache WHERE version < ? OR rowid <= "
                       "(SELECT rowid FROM figure_cache ORDER BY rowid DESC LIMIT 1 OFFSET ?)", [version, KEPT])
    return value
