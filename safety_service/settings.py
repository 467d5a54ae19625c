"""Every setting with its default and help; read from SAFETY_* environment variables, rejected early if bad.

A test checks that every setting here is documented in the README.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigurationError(Exception):
    """The service cannot start with this setting or rules file (the `safety` command prints it and exits 2)."""


class SettingsError(ConfigurationError, ValueError):
    """A setting has a value the service cannot run with; the message names the variable."""


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in {"1", "true", "yes", "on"}:
        return True
    if low in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true/false")


def _port(text: str) -> int:
    port = int(text)
    if not 0 < port < 65536:
        raise ValueError("expected a port number 1-65535")
    return port


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("expected a positive whole number")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("expected a whole number, 0 or more")
    return value


def _timezone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {text!r}") from None
    return text


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str


SETTINGS: list[Setting] = [
    Setting("DATABASE", None, "Path of the SQLite database file (default: instance/safety.db)."),
    Setting("SECRET_KEY", None, "Key signing sessions and CSRF tokens (default: a random key kept in instance/secret_key)."),
    Setting("AUDIT_KEY", None, "Key of the audit chain's HMAC, kept outside the database; several comma-separated: the "
            "first chains new entries, the others verify older ones (default: a random key kept in instance/audit_key)."),
    Setting("RULES_DIR", None, "Folder of the study's rules files (default: rules/ of the project)."),
    Setting("TIMEZONE", "Europe/Berlin", "The study's time zone: local dates, SAE clocks shown, digest times.", _timezone),
    Setting("SMTP_HOST", "", "SMTP server; empty keeps mail in the outbox, readable by admins in the web UI."),
    Setting("SMTP_PORT", 25, "SMTP port.", _port),
    Setting("SMTP_USER", "", "SMTP login user (login only when set)."),
    Setting("SMTP_PASSWORD", "", "SMTP login password."),
    Setting("SMTP_STARTTLS", False, "Use STARTTLS before login.", _bool),
    Setting("MAIL_FROM", "safety-service@localhost", "Sender address of alert and digest mails."),
    Setting("BASE_URL", "http://127.0.0.1:5000", "Address used for links in mails (default: the host and port served, "
            "run.py --host/--port or HOST/PORT; a configured one that names another port is warned of at start-up)."),
    Setting("SESSION_IDLE_MINUTES", 15, "Sign out after this many idle minutes (21 CFR Part 11 session control).", _positive_int),
    Setting("MAX_FAILED_LOGINS", 5, "Failed sign-ins in a row before an account is locked.", _positive_int),
    Setting("LOCKOUT_MINUTES", 15, "First sign-in pause (per e-mail and client address; doubled at each further "
            "pause) and how long failed e-signatures lock the account.", _positive_int),
    Setting("PROXY_HOPS", 0, "Reverse proxies in front of the app whose X-Forwarded-For is trusted for the client "
            "address (sign-in pauses are per address): 1 behind one nginx, 0 when clients connect directly.",
            _non_negative_int),
    Setting("MAX_UPLOAD_MB", 5, "Largest accepted request body or upload, in megabytes.", _positive_int),
    Setting("SCHEDULER_ENABLED", True, "Run the scheduled jobs inside this process (off under gunicorn: run `safety scheduler`).", _bool),
]


def served_base_url(host: str, port: int) -> str:
    """The address of this server as a browser reaches it: links in mails default to it (a wildcard host -> 127.0.0.1)."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}"


def base_url_mismatch(configured: str, host: str, port: int) -> str | None:
    """A one-line warning when SAFETY_BASE_URL points at another port than the one served, else None.

    Only the port is compared: behind a proxy or a DNS name the host legitimately differs, and https on 443
    in front of a local port is the usual deployment, so a default-port URL (no port, or 80/443) is trusted.
    """
    from urllib.parse import urlsplit

    try:
        url_port = urlsplit(configured).port
    except ValueError:
        return f"SAFETY_BASE_URL={configured!r} has no valid port: links in mails may not work"
    if url_port is None or url_port in (80, 443) or url_port == port:
        return None
    return (f"SAFETY_BASE_URL={configured} but this server listens on port {port}: links in mails point at port "
            f"{url_port} (unset SAFETY_BASE_URL to use {served_base_url(host, port)})")


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings from SAFETY_* variables over the defaults.

    Raises SettingsError naming the variable when a value cannot be parsed.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for s in SETTINGS:
        raw = environ.get(f"SAFETY_{s.name}")
        if raw is None:
            values[s.name] = s.default
            continue
        try:
            values[s.name] = s.parse(raw)
        except ValueError as e:
            raise SettingsError(f"SAFETY_{s.name}={raw!r}: {e}") from None
    if environ.get("SAFETY_BASE_URL") is None and (environ.get("PORT") or "").strip().isdigit():
        # `PORT=8080 make run` and the commands beside it (safety digest) link to the port actually served
        values["BASE_URL"] = served_base_url(environ.get("HOST", "127.0.0.1"), int(environ["PORT"]))
    return values


def resolve_paths(cfg: dict[str, Any], instance_path: Path) -> None:
    """Fill the defaults that live under instance/: the database and a persisted random secret key."""
    instance_path.mkdir(parents=True, exist_ok=True)
    if not cfg.get("DATABASE"):
        cfg["DATABASE"] = str(instance_path / "safety.db")
    if not cfg.get("RULES_DIR"):
        cfg["RULES_DIR"] = str(PROJECT_ROOT / "rules")
    if not cfg.get("SECRET_KEY"):
        key_file = instance_path / "secret_key"
        if not key_file.exists():
            # Written once with owner-only permissions so sessions survive a restart.
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        cfg["SECRET_KEY"] = key_file.read_text().strip()
    if not cfg.get("AUDIT_KEY"):
        # Beside the secret key, never in the database: whoever can write the file cannot re-chain the audit trail.
        # One key a line: the first chains new entries, later lines are retired keys kept to verify older entries.
        key_file = instance_path / "audit_key"
        if not key_file.exists():
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
        cfg["AUDIT_KEY"] = ",".join(line.strip() for line in key_file.read_text().splitlines() if line.strip())


def audit_keys(cfg: dict[str, Any]) -> list[str]:
    """The audit keyring from AUDIT_KEY: current key first."""
    return [k.strip() for k in str(cfg.get("AUDIT_KEY") or "").split(",") if k.strip()]
