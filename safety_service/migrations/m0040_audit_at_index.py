"""Index the audit trail by time, for the auditors' browse-by-date page."""


def up(db):
    db.execute("CREATE INDEX IF NOT EXISTS audit_at ON audit_log(at)")
