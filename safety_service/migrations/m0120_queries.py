"""Data clarification queries (issue 17): a question on a record or one of its fields, and its thread.

A query is never deleted; its state (open, answered, closed) changes only by a step of its thread, and every
step is a row of ``query_messages`` that triggers keep append-only (ICH E6(R2) 4.9.0 / 21 CFR 11.10(e): the
question, the answer and who closed it stay readable). ``key`` is the natural key of an automatic query
(``auto:<rule>:<entity>:<id>``): UNIQUE, so a check that runs twice opens it once; NULL for a person's query.
"""


def up(db):
    db.execute("""
        CREATE TABLE queries (
            id INTEGER PRIMARY KEY,
            entity TEXT NOT NULL CHECK (entity IN ('ae', 'lab', 'visit', 'participant')),
            entity_id TEXT NOT NULL,
            field TEXT,
            subject_id TEXT NOT NULL,
            site TEXT NOT NULL,
            label TEXT NOT NULL,
            text TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'closed')),
            origin TEXT NOT NULL DEFAULT 'manual' CHECK (origin IN ('manual', 'auto')),
            rule TEXT,
            key TEXT UNIQUE,
            raised_at TEXT NOT NULL,
            raised_by TEXT NOT NULL,
            waiting_since TEXT NOT NULL,
            answered_at TEXT,
            answered_by TEXT,
            closed_at TEXT,
            closed_by TEXT,
            updated_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX queries_record ON queries(entity, entity_id, status)")
    db.execute("CREATE INDEX queries_site ON queries(site, status, raised_at)")
    db.execute("CREATE INDEX queries_subject ON queries(subject_id)")
    db.execute("""CREATE TRIGGER queries_no_delete BEFORE DELETE ON queries
                  BEGIN SELECT RAISE(ABORT, 'queries are never deleted: close them'); END""")
    db.execute("""
        CREATE TABLE query_messages (
            id INTEGER PRIMARY KEY,
            query_id INTEGER NOT NULL REFERENCES queries(id),
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            step TEXT NOT NULL CHECK (step IN ('raised', 'answered', 'closed', 'reopened')),
            text TEXT NOT NULL,
            status_after TEXT NOT NULL CHECK (status_after IN ('open', 'answered', 'closed')),
            amended_entity TEXT,
            amended_id TEXT,
            amended_version INTEGER
        )""")
    db.execute("CREATE INDEX query_messages_query ON query_messages(query_id, id)")
    db.execute("""CREATE TRIGGER query_messages_no_update BEFORE UPDATE ON query_messages
                  BEGIN SELECT RAISE(ABORT, 'query messages are never changed'); END""")
    db.execute("""CREATE TRIGGER query_messages_no_delete BEFORE DELETE ON query_messages
                  BEGIN SELECT RAISE(ABORT, 'query messages are never deleted'); END""")
