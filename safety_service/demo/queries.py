"""Demo step: data clarification queries in every state, made through the same domain functions as the pages.

One answered by amending the AE and closed (the three steps linked in the audit trail), one open on an AE grade,
one answered in words waiting for review, one reopened after its answer, one open on a lab value raised by the site's
investigator, and whatever the automatic checks of rules/queries.toml find.
"""
from __future__ import annotations

from datetime import datetime

from ..db import row
from ..domain import adverse_events, queries
from ..domain.queries import auto
from ..domain.queries.amend import answer_by_amending_ae
from . import STEPS

OTHER = {"not_related": "unlikely", "unlikely": "not_related", "possible": "unlikely", "probable": "possible",
         "definite": "probable"}


def add_demo_queries(db, rulebook, config, now: datetime, rng, actors) -> None:
    sites = rulebook.study.site_codes
    codes = tuple(v.code for v in rulebook.study.visits)
    sam, ada = actors["safety_officer"], actors["auditor"]
    ask = lambda user, entity, entity_id, field, text: queries.raise_query(  # noqa: E731
        db, {"entity": entity, "entity_id": entity_id, "field": field, "text": text}, user=user, now=now,
        visit_codes=codes)
    first = sites[0]
    nurse1 = actors[f"nurse:{first}"]
    aes = adverse_events.list_aes(db, None, {"site": first})
    if aes:
        ae = aes[0]
        q = ask(sam, "ae", ae["id"], "relatedness_product",
                f"{adverse_events.display_id(ae)}: is '{ae['relatedness_product'].replace('_', ' ')}' still your "
                "assessment of relatedness to the cells? The narrative points at the procedure.")
        answer_by_amending_ae(db, q["id"], text="Reassessed with the investigator after the urology note.",
                              changes={"relatedness_product": OTHER[ae["relatedness_product"]]}, version=ae["version"],
                              catalogue=rulebook.ctcae, study=rulebook.study, tz=config["TIMEZONE"], user=nurse1,
                              now=now)
        queries.close(db, q["id"], comment="Amendment reviewed: settled.", user=sam, now=now)
    if len(aes) > 1:
        ask(sam, "ae", aes[1]["id"], "grade", f"Please confirm grade {aes[1]['grade']} against the CTCAE v5.0 "
            f"definition of {aes[1]['term']}: which treatment or limitation of daily activities was there?")
    lab = row(db, "SELECT id FROM labs WHERE site = ? AND status = 'valid' ORDER BY id LIMIT 1", (first,))
    if lab and f"investigator:{first}" in actors:
        ask(actors[f"investigator:{first}"], "lab", lab["id"], "value",
            "Was this sample haemolysed? Please check the lab report and repeat if so.")
    if len(sites) > 1 and f"nurse:{sites[1]}" in actors:
        p = row(db, "SELECT subject_id FROM participants WHERE site = ? ORDER BY subject_id LIMIT 1", (sites[1],))
        if p:
            q = ask(ada, "participant", p["subject_id"], "weight_kg",
                    "Source data verification: the weight differs from the screening note. Which is right?")
            queries.answer(db, q["id"], text="The screening note was before the diuretic; the entry is right.",
                           user=actors[f"nurse:{sites[1]}"], now=now)
    if len(sites) > 2 and f"nurse:{sites[2]}" in actors:
        v = row(db, "SELECT p.subject_id, v.visit FROM visits v JOIN participants p ON p.id = v.participant_id"
                    " WHERE p.site = ? ORDER BY p.subject_id, v.id LIMIT 1", (sites[2],))
        if v:
            q = ask(sam, "visit", f"{v['subject_id']}:{v['visit']}", "visit_date",
                    "The visit date is a Sunday: is it the date of the visit or of the entry?")
            queries.answer(db, q["id"], text="It is right.", user=actors[f"nurse:{sites[2]}"], now=now)
            queries.reopen(db, q["id"], comment="Please check against the clinic diary: the clinic is closed on "
                                                "Sundays.", user=sam, now=now)
    auto.run(db, rulebook.queries, now)


STEPS.append(add_demo_queries)
