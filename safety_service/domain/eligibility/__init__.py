"""Eligibility screening against the protocol's inclusion and exclusion criteria (rules/eligibility.toml).

criteria: the rules file's model; assess: each criterion met / not met / unknown with its evidence; screening:
the site's answers, the investigator's signed deviations and the injection gate; log: the CONSORT-style
screening log.
"""
from .assess import Assessment, Finding, assess
from .criteria import Criteria, Criterion, load_criteria
from .screening import answer, injection_blockers, record_injection, sign_deviation

__all__ = ["Assessment", "Finding", "assess", "Criteria", "Criterion", "load_criteria", "answer",
           "injection_blockers", "record_injection", "sign_deviation"]
