"""SAE report series, idempotency keys and one-time form tokens.

- ``sae_reports``: the numbered reports of a serious AE (0 = the initial report, 1.. follow-ups), each with the
  due date that applied to it, when and to whom it went and what changed. A report is a record of something that
  happened: never changed, never deleted (triggers), like the AE versions. The single ``report_sent_at`` of the
  first round becomes report 0 of its AE.
- ``idempotency_keys``: an API client's ``Idempotency-Key`` per user, UNIQUE, written in the same transaction as
  the AE it made, so two concurrent identical POSTs make one AE.
- ``form_tokens``: the one-time token of a submitted page form, claimed in the same transaction as the record it
  made, so a double click or a re-submitted form lands on the first record.
"""


def up(db):
    db.execute("""
        CREATE TABLE sae_reports (
            id INTEGER PRIMARY KEY,
            ae_id INTEGER NOT NULL REFERENCES adverse_events(id),
            number INTEGER NOT NULL CHECK (number >= 0),
            kind TEXT NOT NULL CHECK (kind IN ('initial', 'follow_up')),
            due_at TEXT,
            sent_at TEXT NOT NULL,
            sent_by TEXT NOT NULL,
            recipient TEXT NOT NULL,
            summary TEXT,
            changes TEXT NOT NULL DEFAULT '[]',
            ae_version INTEGER,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            CHECK ((number = 0) = (kind = 'initial')),
            UNIQUE (ae_id, number)
        )""")
    db.execute("""CREATE TRIGGER sae_reports_no_update BEFORE UPDATE ON sae_reports
                  BEGIN SELECT RAISE(ABORT, 'a sent SAE report is never changed: send a follow-up'); END""")
    db.execute("""CREATE TRIGGER sae_reports_no_delete BEFORE DELETE ON sae_reports
                  BEGIN SELECT RAISE(ABORT, 'SAE reports are never deleted'); END""")
    # The first round's single "report sent" becomes report 0 (the initial report to the sponsor).
    db.execute("""
        INSERT INTO sae_reports (ae_id, number, kind, due_at, sent_at, sent_by, recipient, summary, changes,
                                 ae_version, created_at, created_by)
        SELECT id, 0, 'initial', report_due_at, report_sent_at, coalesce(report_sent_by, updated_by), 'sponsor',
               'initial SAE report (recorded as sent before the report series existed)', '[]', NULL,
               report_sent_at, coalesce(report_sent_by, updated_by)
        FROM adverse_events WHERE report_sent_at IS NOT NULL""")
    db.execute("""
        CREATE TABLE idempotency_keys (
            user_id INTEGER NOT NULL REFERENCES users(id),
            key TEXT NOT NULL,
            scope TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            status INTEGER NOT NULL,
            entity TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            response TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (user_id, key)
        )""")
    db.execute("""
        CREATE TABLE form_tokens (
            token TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            purpose TEXT NOT NULL,
            entity TEXT,
            entity_id TEXT,
            used_at TEXT NOT NULL
        )""")
