"""The dashboard reads the cohort in a few queries (issue 18), and gets the rows the per-participant reads gave.

Story: the demo study, a result entered in error and a participant who left; the safety officer's and a site
nurse's dashboards are built from the cohort-wide reads, which must equal the participant-by-participant ones.
"""
from __future__ import annotations

import safety_service.demo as demo
from safety_service.charts import sources
from safety_service.domain import participants
from safety_service.domain.corrections import lab_error, status

from conftest import NOW


def test_it_reads_the_cohorts_egfr_and_schedules_in_one_query_each_with_the_same_rows(app, db, people, monkeypatch):
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    monkeypatch.setattr(demo, "N_PARTICIPANTS", 12)
    demo.load_demo(db, rb, app.config, now=NOW)
    creatinine = db.execute("SELECT id FROM labs WHERE analyte = 'creatinine' AND status = 'valid' "
                            "ORDER BY id DESC LIMIT 1").fetchone()[0]
    lab_error.mark_entered_in_error(db, creatinine, reason="another patient's sample", user=people["safety_sam"],
                                    rules=rb.lab_rules, study=rb.study, tz=tz, now=NOW)
    leaving = next(p for p in participants.list_for(db, people["nurse_nina"]) if p.get("injection_at"))
    status.set_status(db, leaving["subject_id"], {"status": "withdrawn", "on": "2026-06-01", "reason": "moved away"},
                      user=people["nurse_nina"], study=rb.study, tz=tz, now=NOW)
    for persona in ("safety_sam", "nurse_nina"):
        user = people[persona]
        cohort = participants.list_for(db, user)
        assert len(cohort) > 3
        one_by_one = [r for p in cohort if p.get("injection_at")
                      for r in sources.lab_series(db, p["subject_id"], user, "egfr")]
        assert sources.cohort_egfr(db, cohort, user) == one_by_one
        assert creatinine not in {r["id"] for r in one_by_one}
        assert sources.cohort_schedules(db, cohort, rb.study, tz, NOW) == {
            p["subject_id"]: participants.participant_schedule(db, p, rb.study, tz, NOW) for p in cohort}
