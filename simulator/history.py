"""An offline metric history of the fleet, written as OpenMetrics text for backfilling.

``HistoryWriter.scrape(simulation)`` records every series the live ``/metrics`` would show at
``start_ts + simulation.clock_s``, adding the target labels Prometheus would add at scrape
time (``job``, ``instance``; see ``simulator.series``). ``write(out)`` writes everything as
one OpenMetrics document that ``promtool tsdb create-blocks-from openmetrics FILE DIR``
accepts: one block per family (OpenMetrics forbids interleaving a family's samples), each
series' points in time order, timestamps in seconds, ``# EOF`` last.

    writer = HistoryWriter(ExporterOptions(), start_ts=1_700_000_000.0)
    for _ in range(240):
        simulation.advance(15)
        writer.scrape(simulation)
    with open("history.om", "w") as out:
        writer.write(out)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TextIO

from simulator.exposition import sample_lines
from simulator.series import ExporterOptions, Family, Kind, Labels, Series, collect
from simulator.simulation import Simulation

__all__ = ["ExporterOptions", "HistoryWriter"]


@dataclass
class _FamilyHistory:
    name: str
    kind: Kind
    help: str
    points: dict[Labels, list[tuple[float, Series]]] = field(default_factory=dict)


class HistoryWriter:
    """Accumulates scrapes of a simulation and writes them as one OpenMetrics document."""

    def __init__(self, options: ExporterOptions, start_ts: float) -> None:
        self.options = options
        self.start_ts = start_ts
        self._families: dict[str, _FamilyHistory] = {}
        self._last_ts: float | None = None

    @property
    def scrapes(self) -> int:
        """How many distinct instants have been recorded."""
        instants = {
            ts
            for family in self._families.values()
            for points in family.points.values()
            for ts, _ in points
        }
        return len(instants)

    def scrape(self, simulation: Simulation) -> float:
        """Record every series at ``start_ts + simulation.clock_s``; return that timestamp.

        A second scrape at the same instant records nothing (a series may hold one sample
        per timestamp)."""
        ts = round(self.start_ts + simulation.clock_s, 3)
        if self._last_ts is not None and ts <= self._last_ts:
            return ts
        self._last_ts = ts
        for family in collect(simulation, self.options):
            history = self._families.get(family.name)
            if history is None:
                history = _FamilyHistory(family.name, family.kind, family.help)
                self._families[family.name] = history
            for series in family.series:
                labels = (
                    *series.labels,
                    ("instance", series.target.instance),
                    ("job", series.target.job),
                )
                history.points.setdefault(labels, []).append((ts, series))
        return ts

    def write(self, out: TextIO) -> None:
        """Write every recorded sample as OpenMetrics text, ending with ``# EOF``."""
        for history in self._families.values():
            family = Family(history.name, history.kind, history.help)
            out.write(f"# TYPE {history.name} {history.kind}\n")
            out.write(f"# HELP {history.name} {_escape_help(history.help)}\n")
            for labels, points in history.points.items():
                for ts, series in points:
                    stamp = f"{ts:.3f}"
                    for line in sample_lines(family, series, labels):
                        out.write(f"{line} {stamp}\n")
        out.write("# EOF\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
