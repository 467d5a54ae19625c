"""An SAE report says whether it is the sponsor's expedited report to the competent authority and ethics committee
(ICH E2A III.A): only such a report meets a SUSAR's 7/15-day clock, not the site's 24-hour report to the sponsor."""


def up(db):
    db.execute("ALTER TABLE sae_reports ADD COLUMN expedited INTEGER NOT NULL DEFAULT 0 CHECK (expedited IN (0, 1))")
