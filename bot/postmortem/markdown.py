"""The Markdown postmortem: `templates/postmortem.md.j2`, headings per section, tables for
impact, runs, actions and the timeline.

Incident text is data, so it is made inert. Jinja2's HTML autoescape is off for `*.md.j2` (it
would escape quotes Markdown shows as they are); instead every `{{ value }}` passes `inert`,
which turns `&`, `<` and `>` into entities (no raw HTML reaches a Markdown viewer) unless a
filter already shaped it: `cell` and `row` also drop pipes and newlines inside table cells,
`code` keeps a PromQL or path inside its code span, `verbatim` is for Firebreak's own wording
and the URLs it built.
"""

from __future__ import annotations

from collections.abc import Iterable

from jinja2 import Environment

from bot.postmortem.environment import environment
from bot.postmortem.model import Postmortem

TEMPLATE = "postmortem.md.j2"


class Inert(str):
    """Text already safe for a Markdown viewer; `inert` leaves it as it is."""

    __slots__ = ()


def text(value: str) -> str:
    """Incident text made inert for Markdown viewers (no raw HTML)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cell(value: str) -> Inert:
    """Text safe inside one table cell."""
    return Inert(text(value).replace("|", "\\|").replace("\r", " ").replace("\n", " "))


def row(values: Iterable[object]) -> Inert:
    """One table row: `| a | b |`, every value made safe as a cell."""
    return Inert("| " + " | ".join(cell(str(v)) for v in values) + " |")


def code(value: str) -> Inert:
    """Text safe inside a single-backtick code span."""
    return Inert(value.replace("`", "'").replace("\n", " "))


def verbatim(value: str) -> Inert:
    """Text written as it is: Firebreak's own wording or a URL it built, never incident text."""
    return Inert(value)


def inert(value: object) -> str:
    """What every `{{ value }}` writes: incident text made inert unless a filter shaped it."""
    return value if isinstance(value, Inert) else text(str(value))


def _environment() -> Environment:
    env = environment(finalize=inert)
    env.filters.update(cell=cell, row=row, code=code, verbatim=verbatim)
    return env


_ENVIRONMENT = _environment()


def to_markdown(pm: Postmortem) -> str:
    """The whole postmortem as one Markdown document."""
    return _ENVIRONMENT.get_template(TEMPLATE).render(pm=pm).rstrip() + "\n"
