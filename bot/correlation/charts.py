"""PNG charts of moved signals: the series, its baseline band, the window start and the onset.

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no global backend state), so
rendering is thread-safe and needs no display.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter

from bot.domain.findings import Finding

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
WIDTH_IN, HEIGHT_IN, DPI = 6.4, 2.6, 90


def _clock(ts: float, _position: int | None = None) -> str:
    return f"{datetime.fromtimestamp(ts, tz=UTC):%H:%M}"


def _ticks(points: Sequence[tuple[float, float]]) -> list[float]:
    """Clock-aligned ticks (every 1, 2, 5, 10, 15, 30 or 60 minutes), about six of them."""
    if not points:
        return []
    first, last = points[0][0], points[-1][0]
    every_s = next(
        (m * 60.0 for m in (1, 2, 5, 10, 15, 30) if (last - first) / (m * 60.0) <= 7), 3600.0
    )
    tick = (first // every_s + 1) * every_s
    ticks = []
    while tick <= last:
        ticks.append(tick)
        tick += every_s
    return ticks


def chart_path(directory: Path, finding: Finding) -> Path:
    """Where the chart of `finding` goes: one file per signal, named after it."""
    return directory / f"{_SAFE_NAME.sub('_', finding.signal)}.png"


def render_chart(
    finding: Finding,
    points: Sequence[tuple[float, float]],
    window_start: datetime,
    directory: Path,
) -> Path:
    """Draw one finding's series with its baseline band and onset; return the PNG path."""
    directory.mkdir(parents=True, exist_ok=True)
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot([t for t, _ in points], [v for _, v in points], color="#1f4e9c", linewidth=1.3)
    if finding.baseline_median is not None:
        half = (finding.baseline_iqr or 0.0) / 2
        axes.axhspan(
            finding.baseline_median - half,
            finding.baseline_median + half,
            color="#9bc59d",
            alpha=0.35,
            label="baseline IQR",
        )
        axes.axhline(finding.baseline_median, color="#3b7a3e", linewidth=0.8, linestyle=":")
    axes.axvline(
        window_start.timestamp(), color="#777777", linewidth=0.8, linestyle="--", label="window"
    )
    if finding.onset_at is not None:
        axes.axvline(finding.onset_at.timestamp(), color="#c0392b", linewidth=1.2, label="onset")
    axes.xaxis.set_major_locator(FixedLocator(_ticks(points)))
    axes.xaxis.set_major_formatter(FuncFormatter(_clock))
    unit = f" ({finding.unit})" if finding.unit else ""
    axes.set_ylabel(f"{finding.signal}{unit}", fontsize=8)
    axes.set_title(finding.describe()[:110], fontsize=8)
    axes.tick_params(labelsize=7)
    axes.legend(fontsize=6, loc="upper left")
    figure.tight_layout()
    path = chart_path(directory, finding)
    figure.savefig(path, format="png")
    return path
