"""Users, API tokens, the audit trail, participants, visits and alerts."""


def up(db):
    db.execute("""
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL CHECK (role IN ('nurse','investigator','safety_officer','auditor','admin')),
            site TEXT,
            password_hash TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            failed_logins INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT,
            created_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            token_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        )""")
    # Append-only: triggers refuse UPDATE and DELETE, and each row carries the SHA-256 chain hash.
    db.execute("""
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id TEXT,
            field TEXT,
            old_value TEXT,
            new_value TEXT,
            reason TEXT,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE
        )""")
    db.execute("CREATE INDEX audit_entity ON audit_log(entity, entity_id)")
    db.execute("CREATE INDEX audit_actor ON audit_log(actor, at)")
    db.execute("""CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
                  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""")
    db.execute("""CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
                  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""")
    db.execute("""
        CREATE TABLE participants (
            id INTEGER PRIMARY KEY,
            subject_id TEXT NOT NULL UNIQUE,
            site TEXT NOT NULL,
            sex TEXT NOT NULL CHECK (sex IN ('F','M')),
            birth_date TEXT NOT NULL,
            weight_kg REAL NOT NULL,
            consent_on TEXT NOT NULL,
            enrolled_on TEXT NOT NULL,
            injection_at TEXT,
            dose_cells REAL,
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','withdrawn','completed')),
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX participants_site ON participants(site)")
    db.execute("""
        CREATE TABLE visits (
            id INTEGER PRIMARY KEY,
            participant_id INTEGER NOT NULL REFERENCES participants(id),
            visit TEXT NOT NULL,
            visit_date TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            recorded_by TEXT NOT NULL,
            UNIQUE (participant_id, visit)
        )""")
    # One alert per natural key (e.g. overdue:S01-003:M3): a check that runs twice raises it once.
    db.execute("""
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            severity TEXT NOT NULL CHECK (severity IN ('critical','high','medium','low')),
            subject_id TEXT,
            site TEXT,
            rule TEXT,
            message TEXT NOT NULL,
            ref_entity TEXT,
            ref_id TEXT,
            raised_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','acknowledged','resolved')),
            acknowledged_at TEXT,
            acknowledged_by TEXT,
            ack_comment TEXT,
            resolved_at TEXT,
            resolved_by TEXT,
            resolve_comment TEXT
        )""")
    db.execute("CREATE INDEX alerts_status ON alerts(status, raised_at)")
    db.execute("CREATE INDEX alerts_subject ON alerts(subject_id)")
