"""Demo step (issue 12): one lab typo put right and one participant withdrawn, through the same paths as the pages.

The nurse types a creatinine ten times too high, is warned, confirms it anyway, then marks it entered in error and
enters the right value: the demo shows the struck-through result, its resolved alerts and the correction notice in
the outbox. One participant at another site withdraws consent: the later visits are not expected.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from ..clock import iso, local_date, parse_datetime
from ..db import rows
from ..domain import labs, participants
from ..domain.corrections import lab_error, status
from . import STEPS


def put_records_right(db, rulebook, config, now: datetime, rng, actors) -> None:
    tz, study = config["TIMEZONE"], rulebook.study
    typo_done = False
    for p in rows(db, "SELECT * FROM participants WHERE site = ? AND injection_at IS NOT NULL ORDER BY subject_id",
                  [study.site_codes[0]]):
        last = rows(db, "SELECT value, unit, collected_at FROM labs WHERE participant_id = ? AND analyte = "
                        "'creatinine' AND collected_at > ? ORDER BY collected_at DESC LIMIT 1",
                    [p["id"], p["injection_at"]])
        when = parse_datetime(last[0]["collected_at"]) + timedelta(days=7) if last else None
        if not last or when > now - timedelta(days=2):
            continue
        nurse = actors[f"nurse:{p['site']}"]
        right = last[0]["value"]
        data = {"analyte": "creatinine", "value": round(right * 10, 1), "unit": last[0]["unit"],
                "collected_at": iso(when), "visit": "UNS", "confirmed": True}
        typo = labs.record(db, p["subject_id"], data, rules=rulebook.lab_rules, study=study, tz=tz, user=nurse,
                           source="form", now=now - timedelta(days=1), plausibility=rulebook.plausibility).lab
        lab_error.mark_entered_in_error(db, typo["id"], reason=f"typed {typo['value']:g} for {right:g} (decimal point)",
                                        user=nurse, rules=rulebook.lab_rules, study=study, tz=tz, now=now)
        labs.record(db, p["subject_id"], {**data, "value": right, "confirmed": False}, rules=rulebook.lab_rules,
                    study=study, tz=tz, user=nurse, source="form", now=now, plausibility=rulebook.plausibility)
        typo_done = True
        break
    for p in rows(db, "SELECT * FROM participants WHERE site = ? AND injection_at IS NOT NULL ORDER BY subject_id",
                  [study.site_codes[-1]]):
        injected = local_date(parse_datetime(p["injection_at"]), tz)
        on = local_date(now, tz) - timedelta(days=10)
        if 120 <= (on - injected).days <= 250:  # mid follow-up: visits done before, the rest no longer expected
            status.set_status(db, p["subject_id"], {"status": "withdrawn", "on": on.isoformat(),
                                                    "reason": "consent withdrawn by the participant (demo)"},
                              user=actors[f"nurse:{p['site']}"], study=study, tz=tz, now=now)
            break
    assert typo_done, "the demo found no participant for the lab correction"


STEPS.append(put_records_right)
