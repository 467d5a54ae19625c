"""Deliver one stored message with smtplib: STARTTLS and login when configured, the stored Message-ID.

Failures are sorted in two: ``RetryableError`` (the server is down, busy or answered 4xx: try again later) and
``PermanentError`` (5xx for this message or recipient: retrying cannot help). A connection-level failure says
so (``connection=True``) so the sender stops its batch instead of knocking on a closed door for every message.
"""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

TIMEOUT_SECONDS = 30


class DeliveryError(Exception):
    def __init__(self, message: str, *, connection: bool = False):
        super().__init__(message)
        self.connection = connection


class RetryableError(DeliveryError):
    """Try again later (server unreachable, timed out, 4xx answer)."""


class PermanentError(DeliveryError):
    """Retrying cannot help (5xx answer for this message or all of its recipients)."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    user: str = ""
    password: str = ""
    starttls: bool = False
    mail_from: str = "safety-service@localhost"

    @classmethod
    def from_config(cls, config) -> "SmtpSettings":
        return cls(host=config.get("SMTP_HOST") or "", port=int(config.get("SMTP_PORT") or 25),
                   user=config.get("SMTP_USER") or "", password=config.get("SMTP_PASSWORD") or "",
                   starttls=bool(config.get("SMTP_STARTTLS")),
                   mail_from=config.get("MAIL_FROM") or "safety-service@localhost")


def build_message(msg: dict, mail_from: str, now: datetime) -> EmailMessage:
    """The MIME message of an outbox row: plain text first, HTML as the alternative."""
    em = EmailMessage()
    em["Subject"] = msg["subject"]
    em["From"] = mail_from
    em["To"] = msg["recipient"]
    em["Date"] = format_datetime(now)
    em["Message-ID"] = msg["message_id"]
    em["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to machine mail
    em.set_content(msg["body_text"])
    em.add_alternative(msg["body_html"], subtype="html")
    return em


def send(msg: dict, settings: SmtpSettings, now: datetime, timeout: float = TIMEOUT_SECONDS) -> None:
    """Deliver an outbox row. Raises RetryableError or PermanentError; returns only when the server accepted it."""
    em = build_message(msg, settings.mail_from, now)
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=timeout) as smtp:
            smtp.ehlo()
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.user:
                smtp.login(settings.user, settings.password)
            smtp.send_message(em)
    except smtplib.SMTPRecipientsRefused as e:
        codes = [code for code, _ in e.recipients.values()]
        detail = "; ".join(f"{rcpt}: {code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
                           for rcpt, (code, text) in e.recipients.items())
        if codes and all(code >= 500 for code in codes):
            raise PermanentError(f"recipient refused: {detail}") from None
        raise RetryableError(f"recipient deferred: {detail}") from None
    except smtplib.SMTPAuthenticationError as e:
        # Bad credentials are a configuration fault an operator can fix: keep the mail and retry until the limit.
        raise RetryableError(f"SMTP login failed: {e.smtp_code} {_text(e.smtp_error)}", connection=True) from None
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, smtplib.SMTPNotSupportedError) as e:
        # Before SMTPResponseException (SMTPConnectError is one): a greeting refused is the server, not this mail.
        raise RetryableError(f"SMTP connection failed: {e}", connection=True) from None
    except smtplib.SMTPResponseException as e:
        if 500 <= e.smtp_code < 600:
            raise PermanentError(f"refused: {e.smtp_code} {_text(e.smtp_error)}") from None
        raise RetryableError(f"deferred: {e.smtp_code} {_text(e.smtp_error)}") from None
    except smtplib.SMTPException as e:
        raise RetryableError(f"SMTP error: {e}") from None
    except (OSError, ssl.SSLError) as e:  # refused, unreachable, timed out, TLS handshake
        raise RetryableError(f"cannot reach {settings.host}:{settings.port}: {e}", connection=True) from None


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
