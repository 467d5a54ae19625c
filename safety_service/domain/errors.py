"""Errors the domain raises; the web layer maps them to pages and to the API's error format."""
from __future__ import annotations


class DomainError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        self.message = message
        self.fields = fields or {}
        super().__init__(message if not self.fields else f"{message}: " + "; ".join(f"{k}: {v}" for k, v in self.fields.items()))


class InvalidInput(DomainError):
    """Bad input; ``fields`` maps each offending field to why. Nothing was stored."""
    code, status = "invalid", 422

    def __init__(self, fields: dict[str, str], message: str = "Some fields are not valid"):
        super().__init__(message, fields)


class NotFound(DomainError):
    code, status = "not_found", 404


class Forbidden(DomainError):
    code, status = "forbidden", 403


class Conflict(DomainError):
    code, status = "conflict", 409


class VersionRequired(DomainError):
    """A change sent without the version it was made against (RFC 6585 428 Precondition Required): without it
    a stale edit could overwrite someone else's change unseen."""
    code, status = "version_required", 428


def require(fields: dict[str, str]) -> None:
    """Raise InvalidInput if any field error was collected (all errors at once, not the first only)."""
    if fields:
        raise InvalidInput(fields)
