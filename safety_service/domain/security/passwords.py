"""The password policy: long enough, not the account's e-mail, not one of the 10,000 most common passwords.

Length is what counts (NIST SP 800-63B 5.1.1.2): no composition rules, so a passphrase of plain words is
welcome; a blocklist of common passwords instead of complexity rules. The list ships with the project
(common_passwords.txt, its source and licence in its header).
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

MIN_LENGTH = 10
MAX_LENGTH = 256  # long enough for any passphrase, short enough that hashing cannot be used to tie up a worker
LIST_FILE = Path(__file__).with_name("common_passwords.txt")


@lru_cache(maxsize=1)
def common() -> frozenset[str]:
    lines = LIST_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def _plain(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def problem(password: str, email: str = "") -> str | None:
    """Why the password is refused for the account with this e-mail, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"must have at least {MIN_LENGTH} characters (a passphrase of a few words is best)"
    if len(password) > MAX_LENGTH:
        return f"must have at most {MAX_LENGTH} characters"
    email = (email or "").strip().lower()
    local = email.split("@")[0]
    if email and (password.lower() == email or _plain(password) in {_plain(email), _plain(local)}):
        return "must not be the account's e-mail address or its name part"
    if len(_plain(local)) >= 4 and _plain(local) in _plain(password) and len(_plain(password)) - len(_plain(local)) < MIN_LENGTH:
        return "must not be built on the account's e-mail name"
    if password.lower() in common() or password.lower().replace(" ", "") in common():
        return "is one of the 10,000 most common passwords: choose another (a passphrase of a few words is best)"
    return None
