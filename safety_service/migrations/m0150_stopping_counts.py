"""Running counts of the stopping rule: each participant's first counted AE per rule, kept in the AE's transaction.

With them an AE save asks "has the rule crossed?" in a few indexed reads instead of replaying every AE (issue 18);
the scheduled check rebuilds them from scratch and compares. The AE term index serves the cluster check at a save.
"""


def up(db):
    db.execute("""
        CREATE TABLE stopping_firsts (
            rule_id TEXT NOT NULL,
            subject_id TEXT NOT NULL,
            ae_id INTEGER NOT NULL,
            onset TEXT NOT NULL,
            PRIMARY KEY (rule_id, subject_id)
        )""")
    db.execute("CREATE INDEX IF NOT EXISTS ae_term ON adverse_events(term, onset)")
    db.execute("CREATE INDEX IF NOT EXISTS participants_injection ON participants(injection_at)")
