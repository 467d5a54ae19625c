"""The mail outbox: every message rendered and stored before any attempt to send it."""


def up(db):
    # key: the natural key of a message (alert:<alert id>:<recipient>, digest:<recipient>:<local date>), UNIQUE so
    # a check or digest that runs twice, or in two processes, queues a message once.
    # message_id: fixed at enqueue, so a retry after an unknown outcome carries the same Message-ID and the
    # receiving side can drop the duplicate (we prefer at-least-once for clinical alerts).
    db.execute("""
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            template TEXT NOT NULL,
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body_text TEXT NOT NULL,
            body_html TEXT NOT NULL,
            message_id TEXT NOT NULL UNIQUE,
            alert_id INTEGER REFERENCES alerts(id),
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','sending','sent','failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            due_at TEXT NOT NULL,
            claimed_at TEXT,
            sent_at TEXT,
            last_error TEXT,
            period_start TEXT,
            period_end TEXT,
            created_at TEXT NOT NULL
        )""")
    # The sender finds due rows through this index (pending by due time; stale claims by status).
    db.execute("CREATE INDEX outbox_due ON outbox(status, due_at)")
    db.execute("CREATE INDEX outbox_recipient ON outbox(recipient, kind, created_at)")
    db.execute("CREATE INDEX alerts_kind ON alerts(kind, raised_at)")
