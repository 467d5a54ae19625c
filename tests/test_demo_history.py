"""The demo step for con-meds and medical history: everyone on a stable ACE inhibitor or ARB, T2DM in the
history, and some AEs with their treatment given."""
from __future__ import annotations

from safety_service.db import rows
from safety_service.demo import load_demo

from conftest import NOW


def test_the_demo_gives_every_participant_an_acei_or_arb_and_a_history(app, db):
    load_demo(db, app.extensions["rulebook"], app.config, now=NOW)
    people = {r["subject_id"] for r in rows(db, "SELECT subject_id FROM participants")}
    ras = {r["subject_id"] for r in rows(db, "SELECT subject_id FROM conmeds WHERE indication = "
                                             "'Diabetic nephropathy' AND ongoing = 1 AND name IN ('Ramipril', "
                                             "'Lisinopril', 'Losartan', 'Irbesartan', 'Valsartan')")}
    assert people and ras == people
    # stable for >= 12 weeks before consent (protocol inclusion)
    late = rows(db, "SELECT c.subject_id FROM conmeds c JOIN participants p ON p.id = c.participant_id WHERE "
                    "c.indication = 'Diabetic nephropathy' AND julianday(p.consent_on) - julianday(c.start_date) < 84")
    assert late == []
    t2dm = {r["subject_id"] for r in rows(db, "SELECT subject_id FROM medical_history "
                                              "WHERE condition = 'Type 2 diabetes mellitus'")}
    assert t2dm == people
    assert db.execute("SELECT count(*) FROM ae_conmeds").fetchone()[0] > 0
