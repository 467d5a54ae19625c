"""Records that can be put right (issue 12, part A): lab results entered in error, delta and plausibility checks
before saving, re-grading after a late baseline, participant status, and late visits resolving their alert.

Each module is one path; every change writes its audit entries in the transaction that makes it, and an alert that
no longer holds is resolved with the reason, never deleted.
"""
