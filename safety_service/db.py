"""The SQLite connection (WAL, foreign keys, busy timeout) and the one way to write: an IMMEDIATE transaction.

Why IMMEDIATE: the audit chain reads the last hash and appends; with a deferred BEGIN two writers could read
the same last hash, and in WAL mode the second one's upgrade to a write lock fails instead of waiting.
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlite_utils

BUSY_TIMEOUT_MS = 10_000


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open the database file with the pragmas every connection needs."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: no implicit BEGIN; transactions are explicit (atomic()).
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    # execute_plugins=False: no third-party sqlite-utils plugin runs on the trial's connection (nor is every
    # installed package scanned for one at each start)
    return sqlite_utils.Database(conn, execute_plugins=False)


@contextmanager
def atomic(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One logical change: the record, its audit entries and its outbox mail commit together or not at all.

    Nested use becomes a savepoint (sqlite-utils ``db.atomic()``).
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    with _commit_or_roll_back(db):
        yield db


@contextmanager
def _commit_or_roll_back(db: sqlite_utils.Database) -> Iterator[None]:
    """The end of a transaction begun by the caller: COMMIT after the block, ROLLBACK if it raised."""
    try:
        yield
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        db.conn.execute("COMMIT")


@contextmanager
def atomic_if_free(db: sqlite_utils.Database) -> Iterator[bool]:
    """A write that may be skipped (a cache fill): a transaction only if the write lock is free at once.

    Yields True inside the transaction, or False without one when another writer holds the lock, so the caller
    never queues behind the clinical writes (the busy handler's sleeps would add up to 100 ms to theirs).
    """
    if db.conn.in_transaction:
        with atomic(db):
            yield True
        return
    db.conn.execute("PRAGMA busy_timeout = 0")
    try:
        db.conn.execute("BEGIN IMMEDIATE")
        began = True
    except sqlite3.OperationalError as e:
        if "locked" not in str(e) and "busy" not in str(e):
            raise
        began = False
    finally:
        db.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if not began:
        yield False
        return
    with _commit_or_roll_back(db):
        yield True


def row(db: sqlite_utils.Database, sql: str, params: tuple | dict = ()) -> dict | None:
    """The first row of a query as a dict, or None."""
    for r in db.query(sql, params):
        return r
    return None


def rows(db: sqlite_utils.Database, sql: str, params: tuple | dict = ()) -> list[dict]:
    return list(db.query(sql, params))
