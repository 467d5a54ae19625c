"""The reporting clocks of a serious AE, as pure functions of the AE and the reports already sent.

For every SAE:

- ``initial_24h``: the investigator reports the SAE to the sponsor immediately; the protocol says within 24 hours
  of the site's awareness (ICH E6(R2) 4.11.1). Met by report 0, whoever it went to.

For a SUSAR, or a possible SUSAR (expectedness not yet assessed: the conservative clock runs until it is), the
sponsor's expedited reports to the competent authority and ethics committee, met only by reports recorded as
``expedited`` (the site's report to the sponsor does not meet them):

- ``expedited_7d``: fatal or life-threatening: the initial expedited report within 7 calendar days
  (ICH E2A III.A.1);
- ``follow_up_15d``: ... "followed by as complete a report as possible within 8 additional calendar days", day 15
  (ICH E2A III.A.1): the next expedited report after that one;
- ``expedited_15d``: any other SUSAR: within 15 calendar days (ICH E2A III.A.2).

Each clock carries the number of the report that met it, or, while it runs, the number its report will get
(the next free ones, in due order). Day 0 of the sponsor's clock is its first knowledge (ICH E2A III.A); the
service counts from the site's awareness, which is never later, so a clock here never runs out after the
regulation's.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from ...clock import iso, parse_datetime, to_utc
from ..ae_rules import report_due

# ICH E2A III.A.1: the follow-up of a fatal or life-threatening SUSAR, 8 calendar days after the 7-day report.
FOLLOW_UP_DAYS_FATAL_OR_LIFE_THREATENING = 7 + 8
# Day clocks warn two calendar days ahead (a daily check cannot miss the warning); the 24-hour clock warns
# rules/notifications.toml's sae_report_warning_hours ahead.
DAY_CLOCK_WARNING = timedelta(days=2)


@dataclass(frozen=True)
class Clock:
    """One report due: when, under which rule, and the report number that met it (``met``) or will."""

    name: str
    number: int
    due_at: datetime
    title: str
    citation: str
    met: bool = False

    @property
    def kind(self) -> str:
        return "initial" if self.number == 0 else "follow_up"

    def as_dict(self) -> dict:
        return {"clock": self.name, "number": self.number, "kind": self.kind, "due_at": iso(self.due_at),
                "title": self.title, "citation": self.citation, "met": self.met}


def expedited(ae: dict) -> bool:
    """Serious, related, and not assessed as expected: a SUSAR or a possible one (the expedited clock runs)."""
    return bool(ae.get("serious") and ae.get("related") and ae.get("expected") is not True)


def fatal_or_life_threatening(ae: dict) -> bool:
    criteria = ae.get("seriousness") or []
    return "death" in criteria or "life_threatening" in criteria or ae.get("outcome") == "fatal"


def _calendar_days(awareness: datetime, days: int, tz: ZoneInfo) -> datetime:
    # Calendar days on the site's calendar: the same local wall-clock time N days later (as ae_rules.expedited_due).
    return (to_utc(awareness).astimezone(tz) + timedelta(days=days)).astimezone(timezone.utc)


def _rules(ae: dict, tz: str | ZoneInfo) -> list[tuple[str, datetime, str, str]]:
    """(name, due, title, citation) of each clock of an active serious AE; none otherwise."""
    if not ae.get("serious") or ae.get("status", "active") != "active" or not ae.get("awareness_at"):
        return []
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    aware = parse_datetime(ae["awareness_at"])
    out = [("initial_24h", report_due(aware), "Initial SAE report to the sponsor (24 h)",
            "ICH E6(R2) 4.11.1; protocol: 24 hours")]
    if expedited(ae):
        if fatal_or_life_threatening(ae):
            out.append(("expedited_7d", _calendar_days(aware, 7, zone),
                        "Expedited report of a fatal or life-threatening SUSAR to the authority (day 7)",
                        "ICH E2A III.A.1"))
            out.append(("follow_up_15d", _calendar_days(aware, FOLLOW_UP_DAYS_FATAL_OR_LIFE_THREATENING, zone),
                        "Expedited follow-up report, as complete as possible (day 15)", "ICH E2A III.A.1"))
        else:
            out.append(("expedited_15d", _calendar_days(aware, 15, zone),
                        "Expedited SUSAR report to the authority (day 15)", "ICH E2A III.A.2"))
    return out


def clocks(ae: dict, tz: str | ZoneInfo, sent: list[dict] = ()) -> list[Clock]:
    """Every clock of an active serious AE, soonest first, each met by one of the ``sent`` reports (dicts with
    ``number`` and ``expedited``, by number) or numbered as the report still to come."""
    rules = _rules(ae, tz)
    sent = sorted(sent, key=lambda r: r["number"])
    expedited_sent = [r["number"] for r in sent if r.get("expedited")]
    met = {"initial_24h": sent[0]["number"] if sent else None,
           "expedited_7d": expedited_sent[0] if expedited_sent else None,
           "expedited_15d": expedited_sent[0] if expedited_sent else None,
           "follow_up_15d": expedited_sent[1] if len(expedited_sent) > 1 else None}
    following = (sent[-1]["number"] + 1) if sent else 0
    out = []
    for name, due, title, citation in sorted(rules, key=lambda r: r[1]):
        if met[name] is not None:
            out.append(Clock(name, met[name], due, title, citation, met=True))
        else:
            out.append(Clock(name, following, due, title, citation))
            following += 1
    return sorted(out, key=lambda c: (c.due_at, c.number))


def pending(ae: dict, sent: list[dict], tz: str | ZoneInfo) -> list[Clock]:
    """The clocks still running (their report not yet recorded as sent)."""
    return [c for c in clocks(ae, tz, sent) if not c.met]


def met_by(ae: dict, sent: list[dict], report: dict, tz: str | ZoneInfo) -> list[Clock]:
    """The clocks a new ``report`` (number, expedited) meets, given the reports sent before it."""
    before = {c.name for c in clocks(ae, tz, sent) if c.met}
    return [c for c in clocks(ae, tz, [*sent, report]) if c.met and c.name not in before]


def warning_for(clock: Clock, warning_hours: float) -> timedelta:
    """How long before its due instant a clock warns."""
    return timedelta(hours=warning_hours) if clock.name == "initial_24h" else DAY_CLOCK_WARNING


def alert_keys(ae_id: int, clock: Clock) -> tuple[str, str]:
    """(warning key, missed key) of a clock. The 24-hour clock keeps the first round's keys, so an alert raised
    before the report series existed is not raised again."""
    if clock.name == "initial_24h":
        return f"sae_report_due:{ae_id}", f"sae_report_missed:{ae_id}"
    return f"sae_report_due:{ae_id}:{clock.name}", f"sae_report_missed:{ae_id}:{clock.name}"
