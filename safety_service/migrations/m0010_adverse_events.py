"""Adverse events: the current version of each AE and every version it ever had.

An AE is never deleted (a wrong one is marked entered in error) and a version row is never changed: triggers
refuse both, so "changes shall not obscure previously recorded information" (21 CFR 11.10(e)) holds for
every writer, not only for the domain code.
"""

RELATEDNESS = "('not_related','unlikely','possible','probable','definite')"


def up(db):
    db.execute(f"""
        CREATE TABLE adverse_events (
            id INTEGER PRIMARY KEY,
            participant_id INTEGER NOT NULL REFERENCES participants(id),
            subject_id TEXT NOT NULL,
            site TEXT NOT NULL,
            seq INTEGER NOT NULL CHECK (seq >= 1),
            term TEXT NOT NULL,
            meddra_code TEXT NOT NULL,
            soc TEXT NOT NULL,
            ctcae_version TEXT NOT NULL,
            verbatim TEXT NOT NULL,
            grade INTEGER NOT NULL CHECK (grade BETWEEN 1 AND 5),
            serious INTEGER NOT NULL CHECK (serious IN (0, 1)),
            seriousness TEXT NOT NULL DEFAULT '[]',
            relatedness_product TEXT NOT NULL CHECK (relatedness_product IN {RELATEDNESS}),
            relatedness_procedure TEXT NOT NULL CHECK (relatedness_procedure IN {RELATEDNESS}),
            related INTEGER NOT NULL CHECK (related IN (0, 1)),
            expected INTEGER CHECK (expected IN (0, 1)),
            action_taken TEXT NOT NULL CHECK (action_taken IN
                ('not_applicable','dose_not_changed','drug_withdrawn','drug_interrupted','unknown')),
            other_action TEXT,
            outcome TEXT NOT NULL CHECK (outcome IN
                ('recovered','recovering','not_recovered','recovered_with_sequelae','fatal','unknown')),
            onset TEXT NOT NULL,
            onset_time TEXT,
            end_date TEXT,
            onset_day INTEGER CHECK (onset_day <> 0),
            end_day INTEGER CHECK (end_day <> 0),
            phase TEXT CHECK (phase IN ('early','late')),
            treatment_emergent INTEGER NOT NULL CHECK (treatment_emergent IN (0, 1)),
            awareness_at TEXT NOT NULL,
            report_due_at TEXT,
            expedited_due_at TEXT,
            susar INTEGER NOT NULL CHECK (susar IN (0, 1)),
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','entered_in_error')),
            version INTEGER NOT NULL CHECK (version >= 1),
            description TEXT,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            signed_off_at TEXT,
            signed_off_by TEXT,
            signed_off_version INTEGER,
            report_sent_at TEXT,
            report_sent_by TEXT,
            UNIQUE (subject_id, seq)
        )""")
    db.execute("CREATE INDEX ae_subject ON adverse_events(subject_id, onset)")
    db.execute("CREATE INDEX ae_site ON adverse_events(site, onset)")
    # The SAE clock check finds open 24-hour clocks through this index, then re-checks them against now.
    db.execute("CREATE INDEX ae_report_due ON adverse_events(report_due_at) WHERE report_due_at IS NOT NULL "
               "AND report_sent_at IS NULL AND status = 'active'")
    db.execute("""CREATE TRIGGER adverse_events_no_delete BEFORE DELETE ON adverse_events
                  BEGIN SELECT RAISE(ABORT, 'adverse events are never deleted: mark them entered in error'); END""")
    db.execute("""
        CREATE TABLE ae_versions (
            id INTEGER PRIMARY KEY,
            ae_id INTEGER NOT NULL REFERENCES adverse_events(id),
            version INTEGER NOT NULL,
            data TEXT NOT NULL,
            reason TEXT,
            changed_at TEXT NOT NULL,
            changed_by TEXT NOT NULL,
            UNIQUE (ae_id, version)
        )""")
    db.execute("""CREATE TRIGGER ae_versions_no_update BEFORE UPDATE ON ae_versions
                  BEGIN SELECT RAISE(ABORT, 'AE versions are never changed'); END""")
    db.execute("""CREATE TRIGGER ae_versions_no_delete BEFORE DELETE ON ae_versions
                  BEGIN SELECT RAISE(ABORT, 'AE versions are never deleted'); END""")
