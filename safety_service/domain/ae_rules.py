"""The pure rules of an adverse event, shared by the nurse's form and the API.

``validate`` checks a payload against the catalogue, the participant's dates and the clock and returns the clean
fields, or raises InvalidInput naming every bad field at once. ``derive`` computes what is never typed: study
day, phase, treatment-emergence, relatedness, the 24-hour SAE report clock and, for a SUSAR or a possible one, the
7/15-day expedited report due date. No database, no Flask, no hidden clock: ``now`` and the site's zone are parameters.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from ..clock import iso, to_utc
from .ctcae import Catalogue
from .errors import InvalidInput
from .study import study_day

# ICH E2A II.B: the criteria that make an adverse event serious.
SERIOUSNESS = ("death", "life_threatening", "hospitalization", "disability", "congenital_anomaly",
               "important_medical_event")
# Causality scale of the protocol; "possible" and above is a suspected (reasonably possible) relationship (ICH E2A).
RELATEDNESS = ("not_related", "unlikely", "possible", "probable", "definite")
RELATED = frozenset({"possible", "probable", "definite"})
# CDISC SDTM AEACN controlled terms used here (NOT APPLICABLE, DOSE NOT CHANGED, DRUG WITHDRAWN, ...).
ACTIONS = ("not_applicable", "dose_not_changed", "drug_withdrawn", "drug_interrupted", "unknown")
# CDISC SDTM AEOUT controlled terms (RECOVERED/RESOLVED ... FATAL, UNKNOWN).
OUTCOMES = ("recovered", "recovering", "not_recovered", "recovered_with_sequelae", "fatal", "unknown")
ENDED_OUTCOMES = frozenset({"recovered", "recovered_with_sequelae", "fatal", "unknown"})

# ICH E6(R2) 4.11.1: the investigator reports an SAE to the sponsor immediately; the protocol says within 24 hours
# of awareness. (ICH E2A's clocks are the sponsor's: the 7/15 days below.)
SAE_REPORT_HOURS = 24
# ICH E2A III.A.1/III.A.2 and 21 CFR 312.32(c)(1): fatal or life-threatening SUSARs within 7 calendar days, others 15.
EXPEDITED_DAYS_FATAL_OR_LIFE_THREATENING = 7
EXPEDITED_DAYS_OTHER = 15

VERBATIM_MAX = 200      # SDTM AETERM: character values <= 200 bytes in SAS transport v5
TEXT_MAX = 4000

ENTERED = ("subject_id", "term", "verbatim", "grade", "onset", "onset_time", "end_date", "serious", "seriousness",
           "relatedness_product", "relatedness_procedure", "expected", "action_taken", "other_action", "outcome",
           "description", "awareness_at")
DERIVED = ("id", "site", "seq", "meddra_code", "soc", "related", "onset_day", "end_day", "phase",
           "treatment_emergent", "report_due_at", "expedited_due_at", "susar", "status", "version", "created_at",
           "created_by", "updated_at", "signed_off_at", "signed_off_by", "report_sent_at", "ctcae_version")

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Subject:
    """The participant's dates an AE is checked against."""

    consent_on: date
    injection_at: datetime | None  # aware; None until the cells are given

    @classmethod
    def from_participant(cls, p: dict) -> "Subject":
        """From the participant dict of the domain (ISO strings)."""
        inj = p.get("injection_at")
        return cls(consent_on=_as_date(p["consent_on"]),
                   injection_at=to_utc(datetime.fromisoformat(inj.replace("Z", "+00:00"))) if inj else None)


def _as_date(v) -> date:
    return v if isinstance(v, date) and not isinstance(v, datetime) else date.fromisoformat(str(v))


# ---------------------------------------------------------------------------------------------------- parsing

def _plain(v) -> str:
    """A value as text, trimmed; the parsers then refuse anything that is not their format."""
    return "" if v is None else str(v).strip()


def _text(v) -> str:
    """Free text as entered, trimmed. Raises ValueError for control characters other than tab and newline: a NUL
    cuts the text short in SAS transport files, and none of them belongs in a clinical narrative."""
    text = "" if v is None else str(v).strip()
    bad = next((c for c in text if (ord(c) < 32 and c not in "\t\n\r") or 127 <= ord(c) < 160), None)
    if bad is not None:
        raise ValueError(f"contains a control character (U+{ord(bad):04X}); remove it")
    return text


def _parse_bool(v) -> bool | None:
    """True/False from JSON or a form; None when absent; ValueError when it is something else."""
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return v
    low = str(v).strip().lower()
    if low in {"true", "yes", "on", "1", "y"}:
        return True
    if low in {"false", "no", "off", "0", "n"}:
        return False
    raise ValueError("must be true or false")


def _parse_grade(v) -> int:
    if isinstance(v, bool):
        raise ValueError("must be a whole number from 1 to 5")
    if isinstance(v, int):
        g = v
    elif isinstance(v, float) and v.is_integer():
        g = int(v)
    elif isinstance(v, str) and v.strip().isdigit():
        g = int(v.strip())
    else:
        raise ValueError("must be a whole number from 1 to 5")
    if not 1 <= g <= 5:
        raise ValueError("must be a whole number from 1 to 5")
    return g


def _parse_date(v) -> date:
    text = _plain(v)
    if not _DATE.match(text):
        raise ValueError("must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("is not a calendar date") from None


def _parse_onset(v, tz: ZoneInfo) -> tuple[date, time | None]:
    """A date, or a datetime (with offset, or local to the site when it has none) -> local date and time."""
    if isinstance(v, datetime):
        dt = v if v.tzinfo else v.replace(tzinfo=tz)
        local = dt.astimezone(tz)
        return local.date(), local.time().replace(second=0, microsecond=0)
    if isinstance(v, date):
        return v, None
    text = _plain(v)
    if _DATE.match(text):
        return _parse_date(text), None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("must be a date YYYY-MM-DD or a date and time (ISO 8601)") from None
    local = (dt if dt.tzinfo else dt.replace(tzinfo=tz)).astimezone(tz)
    return local.date(), local.time().replace(second=0, microsecond=0)


def _parse_instant(v, tz: ZoneInfo) -> datetime:
    """An ISO 8601 datetime; one without an offset is read as the site's local time."""
    if isinstance(v, datetime):
        return to_utc(v if v.tzinfo else v.replace(tzinfo=tz))
    text = _plain(v)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("must be a date and time (ISO 8601)") from None
    if _DATE.match(text):
        raise ValueError("must include the time the site learned of the event")
    return to_utc(dt if dt.tzinfo else dt.replace(tzinfo=tz))


def _choice(v, allowed: tuple[str, ...]) -> str:
    text = _plain(v)
    if text not in allowed:
        raise ValueError("must be one of: " + ", ".join(allowed))
    return text


# ---------------------------------------------------------------------------------------------------- validate

def validate(payload: dict, *, catalogue: Catalogue, subject: Subject, tz: ZoneInfo | str,
             now: datetime) -> dict:
    """The clean entered fields of an AE, or InvalidInput naming every field that is wrong and why.

    ``now`` is an aware datetime; dates are the site's local dates in ``tz``. Derived fields in the payload are
    refused (they are computed, never typed); unknown fields are refused so a typo is not silently dropped.
    """
    tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    now = to_utc(now)
    today = now.astimezone(tz).date()
    errors: dict[str, str] = {}
    out: dict = {}

    for key in payload:
        if key in DERIVED:
            errors[key] = "is derived by the service and cannot be entered"
        elif key not in ENTERED:
            errors[key] = "unknown field"

    def field(name, parse, required=True, default=None):
        raw = payload.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                errors[name] = "required"
            out[name] = default
            return
        try:
            out[name] = parse(raw)
        except ValueError as e:
            errors[name] = str(e)
            out[name] = None

    # The term: a CTCAE v5.0 term name or its MedDRA code, stored with the catalogue's own spelling.
    raw_term = payload.get("term")
    if isinstance(raw_term, int) and not isinstance(raw_term, bool):
        raw_term = str(raw_term)  # a MedDRA code sent as a JSON number
    term = catalogue.get(raw_term) if isinstance(raw_term, str) else None
    if term is None:
        errors["term"] = catalogue.unknown_term_message(raw_term)
    else:
        out.update(term=term.term, meddra_code=term.meddra_code, soc=term.soc)

    field("verbatim", _text)
    if out.get("verbatim") and len(out["verbatim"]) > VERBATIM_MAX:
        errors["verbatim"] = f"at most {VERBATIM_MAX} characters (SDTM AETERM)"
    field("grade", _parse_grade)
    if term is not None and out.get("grade") is not None:
        problem = catalogue.grade_error(term, out["grade"])
        if problem:
            errors["grade"] = problem

    # Onset: a local date (and time if known) at or after consent and not in the future.
    onset_date, onset_time = None, None
    if payload.get("onset") in (None, ""):
        errors["onset"] = "required"
    else:
        try:
            onset_date, onset_time = _parse_onset(payload["onset"], tz)
        except ValueError as e:
            errors["onset"] = str(e)
    if payload.get("onset_time") not in (None, ""):
        t = _plain(payload["onset_time"])
        m = _TIME.match(t)
        if not m:
            errors["onset_time"] = "must be a time HH:MM (24-hour)"
        elif onset_time is not None and onset_time != time(int(m[1]), int(m[2])):
            errors["onset_time"] = "differs from the time given in onset"
        else:
            onset_time = time(int(m[1]), int(m[2]))
    if onset_date is not None:
        if onset_date < subject.consent_on:
            errors["onset"] = (f"is before informed consent ({subject.consent_on.isoformat()}): an event before "
                               "consent is medical history, not an adverse event")
        elif onset_date > today or (onset_time is not None and onset_date == today
                                    and datetime.combine(onset_date, onset_time, tz) > now):
            errors["onset"] = "is in the future"
    out["onset"] = onset_date.isoformat() if onset_date else None
    out["onset_time"] = onset_time.strftime("%H:%M") if onset_time else None

    field("end_date", _parse_date, required=False)
    end = out.get("end_date")
    if end is not None:
        if onset_date is not None and end < onset_date:
            errors["end_date"] = "is before the onset"
        elif end > today:
            errors["end_date"] = "is in the future"
        out["end_date"] = end.isoformat()

    # Seriousness (ICH E2A): a serious AE meets at least one criterion, and any criterion makes it serious.
    field("serious", _parse_bool, required=False, default=False)
    serious = bool(out.get("serious"))
    out["serious"] = serious
    raw_criteria = payload.get("seriousness")
    criteria: list[str] = []
    if raw_criteria in (None, ""):
        raw_criteria = []
    if isinstance(raw_criteria, str) or not isinstance(raw_criteria, (list, tuple)):
        errors["seriousness"] = "must be a list of criteria"
    else:
        unknown = [str(c) for c in raw_criteria if c not in SERIOUSNESS]
        if unknown:
            errors["seriousness"] = f"unknown criterion {', '.join(unknown)}; allowed: " + ", ".join(SERIOUSNESS)
        criteria = [c for c in SERIOUSNESS if c in raw_criteria]  # canonical order, no repeats
    out["seriousness"] = criteria
    if "serious" not in errors and "seriousness" not in errors:
        if serious and not criteria:
            errors["seriousness"] = "a serious AE needs at least one seriousness criterion (ICH E2A)"
        elif criteria and not serious:
            errors["serious"] = "must be true when a seriousness criterion is given (ICH E2A)"

    field("relatedness_product", lambda v: _choice(v, RELATEDNESS))
    field("relatedness_procedure", lambda v: _choice(v, RELATEDNESS))
    field("expected", _parse_expected, required=False)
    field("action_taken", lambda v: _choice(v, ACTIONS), required=False, default="not_applicable")
    field("other_action", _text, required=False)
    if out.get("other_action") and len(out["other_action"]) > VERBATIM_MAX:
        errors["other_action"] = f"at most {VERBATIM_MAX} characters"
    field("outcome", lambda v: _choice(v, OUTCOMES))
    field("description", _text, required=False)
    if out.get("description") and len(out["description"]) > TEXT_MAX:
        errors["description"] = f"at most {TEXT_MAX} characters"

    # Death is graded 5, has the outcome fatal and is serious with the criterion death (CTCAE v5.0; ICH E2A).
    grade, outcome = out.get("grade"), out.get("outcome")
    if "grade" not in errors and "outcome" not in errors and grade is not None and outcome is not None:
        if grade == 5 and outcome != "fatal":
            errors["outcome"] = "must be fatal for a grade 5 AE (CTCAE grade 5 is death related to the AE)"
        elif outcome == "fatal" and grade != 5 and "death" not in criteria:
            errors["outcome"] = "fatal needs grade 5 or the seriousness criterion death"
        elif outcome == "fatal" and "death" not in criteria and "seriousness" not in errors:
            errors["seriousness"] = "death must be a seriousness criterion when the outcome is fatal (ICH E2A)"
        elif "death" in criteria and outcome != "fatal":
            errors["outcome"] = "must be fatal when death is a seriousness criterion"
    # An end date means the event ended (SDTM AEENDTC/AEOUT consistency).
    if outcome is not None and "end_date" not in errors:
        if outcome in ("recovered", "recovered_with_sequelae") and end is None:
            errors["end_date"] = f"required when the outcome is {outcome.replace('_', ' ')}"
        elif outcome in ("recovering", "not_recovered") and end is not None:
            errors["end_date"] = f"must be empty while the outcome is {outcome.replace('_', ' ')}"

    # Awareness: when the site learned of the event; starts the SAE clock. Not before onset, not in the future.
    if payload.get("awareness_at") in (None, ""):
        awareness = now
    else:
        try:
            awareness = _parse_instant(payload["awareness_at"], tz)
        except ValueError as e:
            errors["awareness_at"] = str(e)
            awareness = None
    if awareness is not None:
        if awareness > now:
            errors["awareness_at"] = "is in the future"
        elif onset_date is not None and awareness.astimezone(tz).date() < onset_date:
            errors["awareness_at"] = "is before the onset"
        elif (onset_time is not None and onset_date is not None
              and awareness < datetime.combine(onset_date, onset_time, tz)):
            errors["awareness_at"] = "is before the onset"
    out["awareness_at"] = iso(awareness) if awareness else None

    if errors:
        raise InvalidInput(dict(sorted(errors.items())))
    return out


def _parse_expected(v) -> bool | None:
    if isinstance(v, str) and v.strip().lower() in {"unknown", "not_assessed", "null", "none"}:
        return None
    return _parse_bool(v)


# ---------------------------------------------------------------------------------------------------- derive

def onset_local(ae: dict, tz: ZoneInfo) -> datetime | None:
    """The onset as an aware local datetime when its time is known, else None."""
    if not ae.get("onset") or not ae.get("onset_time"):
        return None
    h, m = ae["onset_time"].split(":")
    return datetime.combine(date.fromisoformat(ae["onset"]), time(int(h), int(m)), tz)


def phase_of(onset_day: int | None, boundary_days: int) -> str | None:
    """early when the onset falls on study days 1..boundary (the boundary day itself is early), late after it.

    The protocol's early window is the peri-procedural month counted from the injection day (day 1), so day 30 of
    a 30-day boundary is still early and day 31 is late. Onsets after consent but before the injection (negative
    days) are early too; they are told apart by ``treatment_emergent`` = False.
    """
    if onset_day is None:
        return None
    return "early" if onset_day <= boundary_days else "late"


def report_due(awareness: datetime) -> datetime:
    """SAE report to the sponsor: 24 elapsed hours after the site's awareness (ICH E6(R2) 4.11.1; protocol).

    Elapsed hours, not clock hours: computed in UTC, so a DST change in the site's zone does not move it.
    """
    return to_utc(awareness) + timedelta(hours=SAE_REPORT_HOURS)


def expedited_due(awareness: datetime, fatal_or_life_threatening: bool, tz: ZoneInfo) -> datetime:
    """Expedited (SUSAR) report due: 7 calendar days after awareness if fatal or life-threatening, else 15
    (ICH E2A III.A.1, III.A.2; 21 CFR 312.32(c)(1)).

    Calendar days are counted on the site's calendar: the same local clock time N days later, so across a DST
    change the due instant is 23 or 25 hours per changed day away in UTC, never an hour early on the wall clock.
    """
    days = EXPEDITED_DAYS_FATAL_OR_LIFE_THREATENING if fatal_or_life_threatening else EXPEDITED_DAYS_OTHER
    local = to_utc(awareness).astimezone(tz)
    # Aware + timedelta keeps the wall-clock time in the same zone; the new offset applies on conversion.
    return (local + timedelta(days=days)).astimezone(timezone.utc)


def derive(ae: dict, *, subject: Subject, tz: ZoneInfo | str, boundary_days: int) -> dict:
    """The derived fields of a validated AE (``validate``'s output): never typed, always recomputed."""
    tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    onset = date.fromisoformat(ae["onset"])
    end = date.fromisoformat(ae["end_date"]) if ae.get("end_date") else None
    if subject.injection_at is not None:
        injection_day = subject.injection_at.astimezone(tz).date()  # the injection's local calendar day
        onset_day = study_day(onset, injection_day)
        end_day = study_day(end, injection_day) if end else None
        exact = onset_local(ae, tz)
        # Treatment-emergent: onset at or after the injection. Without an onset time, an onset on the injection
        # day counts as emergent (the conservative reading; record the time to mark a pre-injection event).
        emergent = exact >= subject.injection_at if exact is not None else onset_day >= 1
    else:
        onset_day = end_day = None
        emergent = False
    related = (ae.get("relatedness_product") in RELATED) or (ae.get("relatedness_procedure") in RELATED)
    serious = bool(ae.get("serious"))
    criteria = ae.get("seriousness") or []
    awareness = datetime.fromisoformat(ae["awareness_at"]) if ae.get("awareness_at") else None
    # SUSAR: serious, related and assessed unexpected (ICH E2A II.A). Expectedness not yet assessed (None) is a
    # possible SUSAR, never a settled one, but its expedited clock runs until it is assessed (conservative;
    # ICH E2A III.A, 21 CFR 312.32(a)): domain/sae/susar.py.
    susar = serious and related and ae.get("expected") is False
    clock_runs = serious and related and ae.get("expected") is not True
    fatal_or_lt = "death" in criteria or "life_threatening" in criteria or ae.get("outcome") == "fatal"
    return {
        "onset_day": onset_day,
        "end_day": end_day,
        "phase": phase_of(onset_day, boundary_days),
        "treatment_emergent": emergent,
        "related": related,
        "report_due_at": iso(report_due(awareness)) if serious and awareness else None,
        "susar": susar,
        "expedited_due_at": iso(expedited_due(awareness, fatal_or_lt, tz)) if clock_runs and awareness else None,
    }


def evaluate(payload: dict, *, catalogue: Catalogue, subject: Subject, tz: ZoneInfo | str, now: datetime,
             boundary_days: int) -> dict:
    """``validate`` then ``derive``: the full AE fields, or InvalidInput naming every bad field."""
    clean = validate(payload, catalogue=catalogue, subject=subject, tz=tz, now=now)
    return {**clean, **derive(clean, subject=subject, tz=tz, boundary_days=boundary_days)}
