"""Answering a query by putting the record right, in one step: the amendment (through the record's own domain
function, with its version check) and the answer commit together or not at all, and each names the other: the
amendment's reason is "Answer to query Q<n>: ...", the answer records the version the amendment made."""
from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from ..errors import InvalidInput
from .workflow import answer


def answer_by_amending_ae(db: Database, query_id, *, text, changes: dict, version, catalogue, study, tz: str,
                          user: dict, now: datetime, auto_rules=None) -> dict:
    """Answer an AE query by amending the AE (``changes`` as adverse_events.amend takes them, ``version`` the AE
    version the change was made against). Raises what ``answer`` and ``adverse_events.amend`` raise (InvalidInput,
    NotFound, Forbidden, Conflict for a stale version); nothing is written unless both succeed."""
    from .. import adverse_events

    def amend(q: dict, reason: str) -> tuple[str, str, int]:
        if q["entity"] != "ae":
            raise InvalidInput({"changes": "only a query on an AE is answered by amending it here"})
        new = adverse_events.amend(db, int(q["entity_id"]), changes, reason=reason, catalogue=catalogue, study=study,
                                   tz=tz, actor=user, now=now, expected_version=version)
        return ("adverse_event", q["entity_id"], new["version"])

    return answer(db, query_id, text=text, user=user, now=now, amend=amend, auto_rules=auto_rules)
