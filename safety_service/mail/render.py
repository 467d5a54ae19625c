"""Each mail is a name and three templates: templates/emails/<name>-subject.txt, <name>-body.txt, <name>-body.html.

One context renders all three, so the plain-text and HTML parts cannot drift apart. HTML is autoescaped (a
comment or an AE verbatim term is text, never markup); the text parts are not escaped. A missing variable is an
error (StrictUndefined), not an empty gap in a clinical message.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ..settings import PROJECT_ROOT

TEMPLATE_DIR = PROJECT_ROOT / "templates" / "emails"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=4)
def _environment(folder: str) -> Environment:
    return Environment(loader=FileSystemLoader(folder), undefined=StrictUndefined, trim_blocks=True,
                       lstrip_blocks=True, keep_trailing_newline=True,
                       autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False))


def render(name: str, context: dict, folder: Path | str = TEMPLATE_DIR) -> Rendered:
    """Render mail ``name``. Raises jinja2.TemplateNotFound for an unknown name, UndefinedError for a missing value."""
    env = _environment(str(folder))
    # A subject is one line: header injection through a newline in a value is impossible.
    subject = " ".join(env.get_template(f"{name}-subject.txt").render(context).split())
    text = env.get_template(f"{name}-body.txt").render(context)
    html = env.get_template(f"{name}-body.html").render(context)
    return Rendered(subject=subject, text=text, html=html)
