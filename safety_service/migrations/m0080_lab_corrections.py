"""Lab results that can be put right (issue 12): status valid / entered in error, re-grade records, withdrawn offers.

- ``labs`` gains ``status`` ('valid' | 'entered_in_error'), ``error_reason``, ``error_at``, ``error_by`` (the agreed
  columns) and ``confirmed_checks`` (the plausibility checks the person entering it confirmed). The one-result-per-
  sample rule becomes a partial UNIQUE index on valid rows, so the right value for a sample can be entered after the
  wrong one was marked in error. The no-update trigger now allows exactly one change: valid -> entered_in_error with
  a reason, who and when, every other column unchanged. The no-delete trigger stays.
- ``lab_regrades``: append-only re-grade records (a baseline entered or corrected later changes the CTCAE grade of
  the results graded against it; the result row itself never changes). The latest record is the current grade.
- ``lab_ae_offers`` may be 'withdrawn' (its result entered in error, or re-graded below the offer).

SQLite cannot drop a table constraint in place: the tables are rebuilt with ``rebuild`` (copy, drop, recreate
under the same name, copy back, with their indexes and triggers), foreign keys deferred to the commit so that
the child rows (offers, AEs' links...) find their parents again. ``rebuild`` is imported by later migrations of
this range; like every migration it is never edited once committed.
"""
from __future__ import annotations

import re


def _sql_of(db, table: str) -> str:
    return db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]).fetchone()[0]


def rebuild(db, table: str, new_create_sql: str, *, drop_objects: tuple[str, ...] = ()) -> None:
    """Recreate ``table`` from ``new_create_sql`` (same name, same columns in the same order) keeping its rows,
    indexes and triggers (except ``drop_objects``, which the caller recreates). Runs inside the migration's
    transaction: foreign keys are deferred to its commit, and re-inserting the parents satisfies the children."""
    objects = [(name, sql) for name, sql in db.execute(
        "SELECT name, sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') AND sql IS NOT NULL",
        [table]).fetchall() if name not in drop_objects]
    columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})").fetchall()]
    cols = ", ".join(f'"{c}"' for c in columns)
    db.execute("PRAGMA defer_foreign_keys = ON")
    db.execute(f'CREATE TEMP TABLE "_old_{table}" AS SELECT {cols} FROM "{table}"')
    db.execute(f'DROP TABLE "{table}"')  # its triggers go with it (and DROP fires none)
    db.execute(new_create_sql)
    db.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM temp."_old_{table}"')
    db.execute(f'DROP TABLE temp."_old_{table}"')
    for _name, sql in objects:
        db.execute(sql)


def _replace(sql: str, pattern: str, replacement: str) -> str:
    new, n = re.subn(pattern, replacement, sql, count=1)
    if n != 1:
        raise RuntimeError(f"migration m0080: schema text not as expected ({pattern!r} not found)")
    return new


def up(db):
    # --- labs -------------------------------------------------------------------------------------------------
    sql = _sql_of(db, "labs")
    sql = _replace(sql, r",\s*UNIQUE\s*\(\s*participant_id\s*,\s*analyte\s*,\s*collected_at\s*\)", "")
    sql = _replace(sql, r"\)\s*$", """,
            status TEXT NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'entered_in_error')),
            error_reason TEXT,
            error_at TEXT,
            error_by TEXT,
            confirmed_checks TEXT
        )""")
    rebuild(db, "labs", sql, drop_objects=("labs_no_update",))
    # One valid result per participant, analyte and collection instant (the same sample is never counted twice);
    # results entered in error stay beside the corrected one.
    db.execute("CREATE UNIQUE INDEX labs_one_valid_per_sample ON labs(participant_id, analyte, collected_at) "
               "WHERE status = 'valid'")
    kept = [r[1] for r in db.execute("PRAGMA table_info(labs)").fetchall()
            if r[1] not in ("status", "error_reason", "error_at", "error_by")]
    unchanged = " AND ".join(f'NEW."{c}" IS OLD."{c}"' for c in kept)
    # 21 CFR 11.10(e): a record is never overwritten; marking it entered in error is the one change allowed.
    db.execute(f"""CREATE TRIGGER labs_no_update BEFORE UPDATE ON labs
                   WHEN NOT (OLD.status = 'valid' AND NEW.status = 'entered_in_error'
                             AND length(trim(coalesce(NEW.error_reason, ''))) > 0
                             AND NEW.error_at IS NOT NULL AND NEW.error_by IS NOT NULL AND {unchanged})
                   BEGIN SELECT RAISE(ABORT, 'lab results are never changed, only marked entered in error'); END""")
    # --- re-grade records ---------------------------------------------------------------------------------------
    db.execute("""
        CREATE TABLE lab_regrades (
            id INTEGER PRIMARY KEY,
            lab_id INTEGER NOT NULL REFERENCES labs(id),
            ctcae_term TEXT,
            ctcae_grade INTEGER CHECK (ctcae_grade BETWEEN 1 AND 5),
            basis TEXT,
            baseline REAL,
            reason TEXT NOT NULL,
            at TEXT NOT NULL,
            by TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX lab_regrades_lab ON lab_regrades(lab_id, id)")
    db.execute("""CREATE TRIGGER lab_regrades_no_update BEFORE UPDATE ON lab_regrades
                  BEGIN SELECT RAISE(ABORT, 'lab re-grades are append-only'); END""")
    db.execute("""CREATE TRIGGER lab_regrades_no_delete BEFORE DELETE ON lab_regrades
                  BEGIN SELECT RAISE(ABORT, 'lab re-grades are append-only'); END""")
    # --- AE offers: withdrawn ---------------------------------------------------------------------------------
    sql = _sql_of(db, "lab_ae_offers")
    sql = _replace(sql, r"CHECK \(status IN \('open', 'dismissed'\)\)",
                   "CHECK (status IN ('open', 'dismissed', 'withdrawn'))")
    sql = _replace(sql, r"\)\s*$", """,
            withdrawn_at TEXT,
            withdrawn_by TEXT,
            withdraw_reason TEXT
        )""")
    rebuild(db, "lab_ae_offers", sql)
