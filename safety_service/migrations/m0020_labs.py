"""Lab results (value as entered and in the canonical unit, derived eGFR, CTCAE grade) and the AE offers they make."""


def up(db):
    # One result per participant, analyte and collection instant: the same sample is never counted twice.
    # Results are never updated or deleted (a wrong result is answered by a corrected one, both audited).
    db.execute("""
        CREATE TABLE labs (
            id INTEGER PRIMARY KEY,
            participant_id INTEGER NOT NULL REFERENCES participants(id),
            subject_id TEXT NOT NULL,
            site TEXT NOT NULL,
            analyte TEXT NOT NULL,
            value REAL NOT NULL,
            unit TEXT NOT NULL,
            value_si REAL NOT NULL,
            unit_si TEXT NOT NULL,
            egfr REAL,
            ctcae_term TEXT,
            ctcae_grade INTEGER CHECK (ctcae_grade BETWEEN 1 AND 5),
            uln REAL,
            lln REAL,
            range_source TEXT CHECK (range_source IN ('lab', 'study')),
            visit TEXT,
            collected_at TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('form', 'api', 'csv', 'demo')),
            entered_at TEXT NOT NULL,
            entered_by TEXT NOT NULL,
            UNIQUE (participant_id, analyte, collected_at)
        )""")
    db.execute("CREATE INDEX labs_subject ON labs(subject_id, analyte, collected_at)")
    db.execute("CREATE INDEX labs_site ON labs(site)")
    db.execute("""CREATE TRIGGER labs_no_update BEFORE UPDATE ON labs
                  BEGIN SELECT RAISE(ABORT, 'lab results are never changed'); END""")
    db.execute("""CREATE TRIGGER labs_no_delete BEFORE DELETE ON labs
                  BEGIN SELECT RAISE(ABORT, 'lab results are never deleted'); END""")
    # A graded lab worse than baseline offers the nurse an AE to confirm; she records it or dismisses it with a
    # reason. Never an AE created silently.
    db.execute("""
        CREATE TABLE lab_ae_offers (
            lab_id INTEGER PRIMARY KEY REFERENCES labs(id),
            subject_id TEXT NOT NULL,
            site TEXT NOT NULL,
            term TEXT NOT NULL,
            grade INTEGER NOT NULL CHECK (grade BETWEEN 1 AND 5),
            onset TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'dismissed')),
            created_at TEXT NOT NULL,
            dismissed_at TEXT,
            dismissed_by TEXT,
            dismiss_reason TEXT
        )""")
    db.execute("CREATE INDEX lab_ae_offers_subject ON lab_ae_offers(subject_id, status)")
