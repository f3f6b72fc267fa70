"""The Jinja2 environment the postmortem templates (`templates/*.j2`) render in, and the small
functions both templates share to shape values: times, durations, the impact measures, a run
step's cells and the three lesson lists. Layout lives in the templates; escaping is set by the
Markdown and HTML renderers (markdown.py, html_page.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.postmortem.model import Impact, Lessons, StepRow
from bot.summary.durations import clock, human_duration, stamp

UNKNOWN = "—"


def at(moment: datetime | None) -> str:
    """`12:03:27 UTC`, or a dash when the moment is unknown."""
    return UNKNOWN if moment is None else clock(moment)


def took(seconds: float | None) -> str:
    """`94 s`, or a dash when it is unknown."""
    return UNKNOWN if seconds is None else human_duration(seconds)


def span(seconds: float | None) -> str:
    """`12 min (720 s)`: readable and exact; a dash when the transition never happened."""
    return UNKNOWN if seconds is None else f"{human_duration(seconds)} ({round(seconds)} s)"


def percent(fraction: float) -> str:
    """`84%` for 0.84."""
    return f"{fraction:.0%}"


def labels(scope: Mapping[str, str]) -> str:
    """`model=llama, namespace=serving`, sorted by label name."""
    return ", ".join(f"{name}={value}" for name, value in sorted(scope.items()))


def measures(impact: Impact) -> list[tuple[str, str]]:
    """The impact table's rows (the scope row is the template's to place)."""
    return [
        ("Started", stamp(impact.started_at)),
        ("Ended", stamp(impact.ended_at) if impact.ended_at else "ongoing"),
        ("Duration", human_duration(impact.duration_s)),
        ("Time to acknowledge (TTA)", span(impact.time_to_acknowledge_s)),
        ("Time to mitigate (TTM)", span(impact.time_to_mitigate_s)),
        ("Time to resolve (TTR)", span(impact.time_to_resolve_s)),
        ("Alerts (firing / total)", f"{impact.alerts_firing} / {impact.alerts_total}"),
    ]


def step_cells(step: StepRow) -> tuple[str, ...]:
    """Phase, step, status, started, finished and took: one row of a run's steps table."""
    return (
        step.phase,
        step.action,
        step.status,
        at(step.started_at),
        at(step.finished_at),
        took(step.duration_s),
    )


def lesson_groups(lessons: Lessons) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The three lesson lists under their headings, in the order a postmortem reads them."""
    return (
        ("What went well", lessons.went_well),
        ("What went wrong", lessons.went_wrong),
        ("Where we got lucky", lessons.got_lucky),
    )


FILTERS: dict[str, Callable[..., str]] = {
    "stamp": stamp,
    "clock": clock,
    "at": at,
    "took": took,
    "span": span,
    "percent": percent,
    "labels": labels,
}
GLOBALS: dict[str, Callable[..., Any]] = {
    "measures": measures,
    "step_cells": step_cells,
    "lesson_groups": lesson_groups,
}


def environment(finalize: Callable[[Any], Any] | None = None) -> Environment:
    """An environment over this package's templates, with the shared filters and functions.

    HTML autoescape is on for every template but `*.md.j2`, whose renderer makes incident text
    inert with `finalize` instead. Undefined names fail loudly; block tags leave no blank lines
    of their own.
    """
    env = Environment(
        loader=PackageLoader("bot.postmortem", "templates"),
        autoescape=select_autoescape(
            enabled_extensions=("html.j2",), disabled_extensions=("md.j2",), default=True
        ),
        finalize=finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    env.globals.update(GLOBALS)
    return env
