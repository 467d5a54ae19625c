from datetime import date, datetime, timedelta, timezone

import pytest

from conftest import NOW
from safety_service.clock import FixedClock
from safety_service.domain import participants
from safety_service.domain.study import schedule, study_day, visit_status

INJECTED = date(2026, 1, 12)


def statuses(study, today, done=None):
    return {v.visit: v.status for v in schedule(study, INJECTED, done or {}, today)}


@pytest.fixture
def study(app):
    return app.extensions["rulebook"].study


def test_it_places_month_1_on_day_30_with_a_7_day_window(study):
    m1 = schedule(study, INJECTED, {}, INJECTED)[0]
    assert (m1.due_on, m1.window_start, m1.window_end) == (date(2026, 2, 11), date(2026, 2, 4), date(2026, 2, 18))


@pytest.mark.parametrize("today, expected", [
    (date(2026, 2, 3), "upcoming"),   # the day before the window opens
    (date(2026, 2, 4), "open"),       # first day of the window
    (date(2026, 2, 18), "open"),      # last day of the window is still inside it
    (date(2026, 2, 19), "overdue"),   # the day after
    (date(2026, 3, 20), "overdue"),   # 30 days after window end: still overdue
    (date(2026, 3, 21), "missed"),    # 31 days after
])
def test_it_derives_month_1_status_at_the_window_edges(study, today, expected):
    assert statuses(study, today)["M1"] == expected


def test_it_walks_twelve_months_with_a_fixed_clock(study):
    seen = {}
    for offset in range(0, 430):
        today = INJECTED + timedelta(days=offset)
        for visit, status in statuses(study, today).items():
            seen.setdefault(visit, []).append(status)
    for visit, history in seen.items():
        # each visit goes upcoming -> open -> overdue -> missed, in that order, without going back
        compressed = [s for i, s in enumerate(history) if i == 0 or history[i - 1] != s]
        assert compressed == ["upcoming", "open", "overdue", "missed"], (visit, compressed)
    m12 = schedule(study, INJECTED, {}, INJECTED)[-1]
    assert m12.due_on == date(2027, 1, 12) and m12.window_end == date(2027, 2, 11)


def test_it_shows_done_once_recorded_whatever_the_date(study):
    assert statuses(study, date(2026, 12, 1), {"M1": date(2026, 2, 10)})["M1"] == "done"
    assert visit_status(date(2026, 2, 4), date(2026, 2, 18), date(2026, 2, 25), date(2026, 3, 1), 30) == "done"


def test_it_counts_study_days_without_a_day_zero():
    assert study_day(INJECTED, INJECTED) == 1
    assert study_day(INJECTED + timedelta(days=1), INJECTED) == 2
    assert study_day(INJECTED - timedelta(days=1), INJECTED) == -1


def test_it_serves_the_schedule_by_api_as_the_clock_moves(app, api, enrol, clock):
    enrol("S01-001")
    sam = api("safety_sam")
    clock.set(datetime(2026, 2, 19, 12, 0, tzinfo=timezone.utc))
    body = sam.get("/api/v1/participants/S01-001").json
    assert {v["visit"]: v["status"] for v in body["schedule"]}["M1"] == "overdue"
    nina = api("nurse_nina")
    r = nina.post("/api/v1/participants/S01-001/visits/M1", json={"visit_date": "2026-02-17"})
    assert r.status_code == 200, r.json
    assert {v["visit"]: v["status"] for v in r.json["schedule"]}["M1"] == "done"
    assert nina.post("/api/v1/participants/S01-001/visits/M1", json={"visit_date": "2026-02-18"}).status_code == 422
