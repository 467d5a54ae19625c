"""Loading the study's rules files (TOML) into pydantic models, failing with the file, key and problem.

TOML rather than YAML: YAML reads ``on:`` as True, ``NO`` as False and converts dates silently.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from .settings import ConfigurationError

M = TypeVar("M", bound=BaseModel)


class RulesError(ConfigurationError):
    """A rules file is missing, unreadable or invalid; the message names the file, key and problem."""

    def __init__(self, path: Path | str, key: str, problem: str):
        self.path, self.key, self.problem = str(path), key, problem
        super().__init__(f"{path}: {key}: {problem}")


def load_toml(path: Path, model: type[M]) -> M:
    """Read ``path`` and validate it as ``model``.

    Raises RulesError naming the file, the dotted key and what is wrong.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(path, "(file)", "file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise RulesError(path, "(syntax)", str(e)) from None
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        problems = [(".".join(str(p) for p in err["loc"]) or "(top level)", err["msg"]) for err in e.errors()]
        key, msg = problems[0]
        others = "".join(f"; {k}: {m}" for k, m in problems[1:4])
        raise RulesError(path, key, msg + others) from None


class StrictModel(BaseModel):
    """Base for rules models: unknown keys are an error, so a typo is not silently ignored."""

    model_config = {"extra": "forbid", "frozen": True}
