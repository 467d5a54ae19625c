"""Eligibility screening (issue 13): the site's answers to the protocol's non-lab criteria, and protocol deviations
signed by the investigator that let a participant failing a criterion be injected.

Nothing is deleted: an answer is amended in place with a reason (old and new values in the audit trail, version
bumped), and a signed deviation is never changed (21 CFR 11.70: a signature stays linked to what was signed).
"""


def up(db):
    db.execute("""
        CREATE TABLE eligibility_answers (
            id INTEGER PRIMARY KEY,
            participant_id INTEGER NOT NULL REFERENCES participants(id),
            subject_id TEXT NOT NULL,
            site TEXT NOT NULL,
            criterion TEXT NOT NULL,
            met INTEGER NOT NULL CHECK (met IN (0, 1)),
            source_note TEXT NOT NULL CHECK (length(trim(source_note)) > 0),
            version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
            answered_at TEXT NOT NULL,
            answered_by TEXT NOT NULL,
            UNIQUE (participant_id, criterion)
        )""")
    db.execute("""CREATE TRIGGER eligibility_answers_no_delete BEFORE DELETE ON eligibility_answers
                  BEGIN SELECT RAISE(ABORT, 'eligibility answers are never deleted: amend them with a reason'); END""")
    db.execute("""
        CREATE TABLE protocol_deviations (
            id INTEGER PRIMARY KEY,
            participant_id INTEGER NOT NULL REFERENCES participants(id),
            subject_id TEXT NOT NULL,
            site TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'eligibility' CHECK (kind IN ('eligibility')),
            criteria TEXT NOT NULL,          -- JSON list of the criterion ids the deviation accepts
            description TEXT NOT NULL CHECK (length(trim(description)) > 0),
            signed_by TEXT NOT NULL,
            signer_name TEXT NOT NULL,
            signed_at TEXT NOT NULL,
            signature_meaning TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX protocol_deviations_participant ON protocol_deviations(participant_id)")
    db.execute("""CREATE TRIGGER protocol_deviations_no_delete BEFORE DELETE ON protocol_deviations
                  BEGIN SELECT RAISE(ABORT, 'a signed protocol deviation is never deleted'); END""")
    db.execute("""CREATE TRIGGER protocol_deviations_no_update BEFORE UPDATE ON protocol_deviations
                  BEGIN SELECT RAISE(ABORT, 'a signed protocol deviation is never changed'); END""")
