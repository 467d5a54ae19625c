"""The data cut's readers (issue 18): stored instants compared as text, AE versions decoded once per process.

Both are shortcuts the signal pages take after every AE save; these tests hold them to the plain computation.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from safety_service.clock import parse_datetime
from safety_service.reports import datacut

T = datetime(2026, 6, 15, 10, 0, 0, tzinfo=timezone.utc)


def test_a_stored_instant_is_at_or_before_by_its_text_as_by_its_time():
    stored = "2026-06-15T10:00:00+00:00"
    assert datacut._at_or_before(stored, T)  # the same second
    assert datacut._at_or_before(stored, T + timedelta(microseconds=999_999))  # later in that second
    assert not datacut._at_or_before(stored, T - timedelta(microseconds=1))  # the second before
    assert not datacut._at_or_before("2026-06-15T10:00:01+00:00", T + timedelta(microseconds=500_000))
    # an instant with another offset (not the storage form) is parsed, and compares as the instant it is
    assert datacut._at_or_before("2026-06-15T12:00:00+02:00", T)
    assert not datacut._at_or_before("2026-06-15T12:00:01+02:00", T)
    # a zone-aware ``instant`` in another zone is the same instant
    cest = T.astimezone(timezone(timedelta(hours=2)))
    assert datacut._at_or_before(stored, cest) and not datacut._at_or_before("2026-06-15T10:00:01+00:00", cest)


def test_it_agrees_with_parsing_every_stored_instant_over_a_day_of_seconds():
    for k in range(0, 86_400, 3_599):
        stored = (T + timedelta(seconds=k)).isoformat(timespec="seconds")
        for delta in (-1, 0, 1):
            instant = T + timedelta(seconds=k + delta, microseconds=250_000)
            assert datacut._at_or_before(stored, instant) == (parse_datetime(stored) <= instant), (stored, instant)


def test_each_load_gets_its_own_dicts_and_lists():
    texts = [json.dumps({"id": 1, "seriousness": ["hospitalization"], "grade": 3}),
             json.dumps({"id": 2, "seriousness": [], "nested": {"a": [1]}, "grade": 1})]
    first = datacut._decoded(texts)
    first[0]["grade"] = 9
    first[0]["seriousness"].append("death")
    first[1]["nested"]["a"].append(2)
    again = datacut._decoded(texts)
    assert again == [json.loads(t) for t in texts]
    assert again[0] is not first[0] and again[0]["seriousness"] is not first[0]["seriousness"]


def test_the_decoded_versions_are_those_of_the_text_never_of_a_former_database():
    # content-addressed: the same AE id and version with other content (a restored database) decodes afresh
    a = datacut._decoded([json.dumps({"id": 1, "version": 2, "grade": 2})])
    b = datacut._decoded([json.dumps({"id": 1, "version": 2, "grade": 4})])
    assert a[0]["grade"] == 2 and b[0]["grade"] == 4
