"""Data versions and the checks' watermarks (issue 18): what changed since a check last ran, kept by SQLite itself.

- ``data_versions``: counters bumped by triggers in the same transaction as the change they count.
  ``lab_rules`` moves with any lab result or participant row written (the lab rules' inputs: results, their
  status, the injection, the participant's status); ``figures`` moves with any row the dashboard's figures read.
- ``lab_rule_dirty``: per participant, the ``lab_rules`` version of its last change (one row per participant,
  never growing with the results), so the check finds the participants to evaluate again in one indexed read.
- ``check_state``: per check, the version, rules digest and ``now`` it last evaluated at, written in the same
  transaction as the last alerts that run raised.
- ``figure_cache``: computed figures keyed by what they depend on (data version, scope, date), shared by every web
  worker since it lives in the database.
"""

COUNTED = ("participants", "visits", "labs", "lab_regrades", "adverse_events", "alerts")


def up(db):
    db.execute("CREATE TABLE data_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    db.execute("INSERT INTO data_versions (name, version) VALUES ('lab_rules', 0), ('figures', 0)")
    db.execute("""
        CREATE TABLE lab_rule_dirty (
            participant_id INTEGER PRIMARY KEY,
            version INTEGER NOT NULL
        )""")
    db.execute("CREATE INDEX lab_rule_dirty_version ON lab_rule_dirty(version)")
    db.execute("""
        CREATE TABLE check_state (
            name TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            rules_digest TEXT NOT NULL,
            as_of TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE figure_cache (
            key TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            value BLOB NOT NULL
        )""")
    # Results that came into view since the last run's ``now`` (collected between the two instants).
    db.execute("CREATE INDEX IF NOT EXISTS labs_collected ON labs(collected_at)")
    bump_lab = """UPDATE data_versions SET version = version + 1 WHERE name = 'lab_rules';
                  INSERT INTO lab_rule_dirty (participant_id, version)
                  VALUES ({pid}, (SELECT version FROM data_versions WHERE name = 'lab_rules'))
                  ON CONFLICT (participant_id) DO UPDATE SET version = excluded.version;"""
    for table, pid in (("labs", "NEW.participant_id"), ("participants", "NEW.id")):
        for event in ("INSERT", "UPDATE"):
            db.execute(f"""CREATE TRIGGER {table}_{event.lower()}_lab_rules_version AFTER {event} ON {table}
                           BEGIN {bump_lab.format(pid=pid)} END""")
    for table in COUNTED:
        for event in ("INSERT", "UPDATE", "DELETE"):
            db.execute(f"""CREATE TRIGGER {table}_{event.lower()}_figures_version AFTER {event} ON {table}
                           BEGIN UPDATE data_versions SET version = version + 1 WHERE name = 'figures'; END""")
