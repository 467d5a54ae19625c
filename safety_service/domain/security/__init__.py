"""Security, round two (issue 15): sessions, sign-in throttling, password policy and the audit's row check.

Plain Python like the rest of domain/: the web layer passes in the client address, the clock and the settings.
"""
