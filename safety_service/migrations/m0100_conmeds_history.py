"""Concomitant medications, the AEs they were given for, and relevant medical history (issue 14).

Rows are never deleted (a wrong one is marked entered in error); each change bumps ``version`` and its old and
new values go to the audit trail in the same transaction. ``seq`` numbers a subject's records (CM1, MH1, ...),
as SDTM CMSEQ/MHSEQ do. Dates are ISO 8601, possibly partial (YYYY or YYYY-MM) as CDISC SDTMIG allows for
--STDTC when only part of the date is known.
"""


def up(db):
    db.execute("""
        CREATE TABLE conmeds (
            id INTEGER PRIMARY KEY,
            participant_id INTEGER NOT NULL REFERENCES participants(id),
            subject_id TEXT NOT NULL,
            site TEXT NOT NULL,
            seq INTEGER NOT NULL CHECK (seq >= 1),
            name TEXT NOT NULL,
            dose REAL,
            unit TEXT,
            route TEXT,
            indication TEXT,
            start_date TEXT,
            stop_date TEXT,
            ongoing INTEGER NOT NULL DEFAULT 0 CHECK (ongoing IN (0, 1)),
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'entered_in_error')),
            version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            -- an ongoing medication has no stop date yet (SDTM CMENRF/CMENRTPT vs CMENDTC)
            CHECK (NOT (ongoing = 1 AND stop_date IS NOT NULL)),
            UNIQUE (subject_id, seq)
        )""")
    db.execute("CREATE INDEX conmeds_site ON conmeds(site, subject_id)")
    db.execute("""CREATE TRIGGER conmeds_no_delete BEFORE DELETE ON conmeds
                  BEGIN SELECT RAISE(ABORT, 'con-meds are never deleted: mark them entered in error'); END""")
    # "Treatment given" for an AE (CIOMS I field 22, SDTM RELREC): a link, audited when made or taken away.
    db.execute("""
        CREATE TABLE ae_conmeds (
            ae_id INTEGER NOT NULL REFERENCES adverse_events(id),
            conmed_id INTEGER NOT NULL REFERENCES conmeds(id),
            PRIMARY KEY (ae_id, conmed_id)
        )""")
    db.execute("CREATE INDEX ae_conmeds_conmed ON ae_conmeds(conmed_id)")
    db.execute("""
        CREATE TABLE medical_history (
            id INTEGER PRIMARY KEY,
            participant_id INTEGER NOT NULL REFERENCES participants(id),
            subject_id TEXT NOT NULL,
            site TEXT NOT NULL,
            seq INTEGER NOT NULL CHECK (seq >= 1),
            condition TEXT NOT NULL,
            onset TEXT,
            ongoing INTEGER NOT NULL DEFAULT 0 CHECK (ongoing IN (0, 1)),
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'entered_in_error')),
            version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            UNIQUE (subject_id, seq)
        )""")
    db.execute("CREATE INDEX medical_history_site ON medical_history(site, subject_id)")
    db.execute("""CREATE TRIGGER medical_history_no_delete BEFORE DELETE ON medical_history
                  BEGIN SELECT RAISE(ABORT, 'medical history is never deleted: mark it entered in error'); END""")
