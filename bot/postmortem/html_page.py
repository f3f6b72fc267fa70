"""The HTML postmortem: `templates/postmortem.html.j2`, one self-contained page — inline CSS,
charts as base64 data: URIs.

No scripts, no external stylesheets, fonts or images; the template is rendered with Jinja2's
autoescape on, so every piece of incident text is escaped. A chart file that cannot be read is
named, not embedded.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.postmortem.environment import environment
from bot.postmortem.model import Chart, Postmortem

TEMPLATE = "postmortem.html.j2"
_MIME_BY_SUFFIX = {
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
MAX_CHART_BYTES = 5 * 1024 * 1024

ChartLoader = Callable[[str], bytes | None]


@dataclass(frozen=True)
class Figure:
    """A chart as the page shows it: embedded as `src` (a data: URI), or None when unavailable."""

    title: str
    path: str
    src: str | None


def read_chart(path: str) -> bytes | None:
    """A chart file's bytes, or None when it is missing, unreadable or too large."""
    file = Path(path)
    try:
        if not file.is_file() or file.stat().st_size > MAX_CHART_BYTES:
            return None
        return file.read_bytes()
    except OSError:
        return None


def figures(charts: Iterable[Chart], load_chart: ChartLoader = read_chart) -> list[Figure]:
    """Each chart with its image as a data: URI, when its type is known and its file readable."""
    shown = []
    for chart in charts:
        mime = _MIME_BY_SUFFIX.get(Path(chart.path).suffix.lower())
        data = load_chart(chart.path) if mime else None
        src = None
        if mime is not None and data is not None:
            src = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        shown.append(Figure(chart.title, chart.path, src))
    return shown


_ENVIRONMENT = environment()


def to_html(pm: Postmortem, load_chart: ChartLoader = read_chart) -> str:
    """The whole postmortem as one HTML document with its charts embedded."""
    template = _ENVIRONMENT.get_template(TEMPLATE)
    return template.render(pm=pm, figures=figures(pm.charts, load_chart))
