"""A fleet history with several faults, and the `ALERTS` series the shipped rules wrote for them.

Where simulator/scenarios.py records one fault per two-hour history, a timeline runs one
simulation through several `Episode`s -- each a fault injected at a moment and, when it has a
`clear_after_s`, cleared again -- and writes two OpenMetrics documents, ready for
``promtool tsdb create-blocks-from openmetrics``:

- the fleet's metrics, as `HistoryWriter` writes them (a scrape every `SCRAPE_INTERVAL_S`
  unless told otherwise);
- `ALERTS`, as Prometheus writes it for alerting rules: one sample per rule evaluation
  (`EVALUATION_INTERVAL_S`) while an alert is pending (`alertstate="pending"`, for rules with a
  `for:`) or firing (`alertstate="firing"`), with the labels the alert carries: its name, the
  rule's `severity` and `service`, and the expression's labels (simulator/scenario_alerts.py).

An alert starts firing `alert_delay_s` after its fault, a second alert of the same fault a
minute later, and stops `RESOLVE_DELAY_S` after the fault is cleared; an episode never cleared
fires until the history ends. Nothing here imports Firebreak.

    spans = record_timeline(
        [Episode("saturation", "reranker-v2", at_s=1200, clear_after_s=180)],
        start_ts, duration_s=3600, metrics_path=Path("fleet.om"), alerts_path=Path("alerts.om"),
    )
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from simulator.faults import Fault, FaultKind, FaultRequest
from simulator.history import ExporterOptions, HistoryWriter
from simulator.scenario_alerts import GPU_KINDS, SERVING_ALERT_LABELS, SEVERITY, alert_for
from simulator.simulation import Simulation

SCRAPE_INTERVAL_S = 15.0
EVALUATION_INTERVAL_S = 15.0
PENDING_S = {"LLMKVCacheSaturated": 30.0, "GPUThermalThrottling": 30.0}
"""The rules' `for:` (deploy/prometheus/rules/genai.yml); the others fire at once."""
SECOND_ALERT_AFTER_S = 60.0
RESOLVE_DELAY_S = 60.0
"""How long an alert keeps firing after its fault clears (its rate windows drain)."""


@dataclass(frozen=True)
class Episode:
    """One fault of a timeline: what, on which model, when, and for how long."""

    kind: str
    model: str
    at_s: float
    clear_after_s: float | None = None
    intensity: float = 0.6
    xid: int | None = None
    alert_delay_s: float = 90.0


@dataclass(frozen=True)
class AlertSpan:
    """One alert as `ALERTS` records it: its labels (without `alertstate`), when it went
    pending, when it fired, and when it stopped (None: still firing when the history ends)."""

    labels: dict[str, str]
    pending_ts: float
    firing_ts: float
    end_ts: float | None
    episode: int


def record_timeline(
    episodes: Sequence[Episode],
    start_ts: float,
    duration_s: float,
    metrics_path: Path,
    alerts_path: Path,
    *,
    seed: int = 0,
    options: ExporterOptions | None = None,
    scrape_interval_s: float = SCRAPE_INTERVAL_S,
) -> list[AlertSpan]:
    """Simulate `duration_s` of the fleet from `start_ts` with `episodes`, write its metrics to
    `metrics_path` (one scrape every `scrape_interval_s`) and its `ALERTS` to `alerts_path`;
    answer the alerts, in episode order."""
    simulation = Simulation(seed)
    writer = HistoryWriter(options or ExporterOptions(), start_ts)
    events: list[tuple[float, int, str]] = []
    for index, episode in enumerate(episodes):
        events.append((episode.at_s, index, "inject"))
        if episode.clear_after_s is not None:
            events.append((episode.at_s + episode.clear_after_s, index, "clear"))
    events.sort()
    faults: dict[int, Fault] = {}

    writer.scrape(simulation)
    while simulation.clock_s < duration_s - 1e-6:
        next_scrape_s = min(duration_s, simulation.clock_s + scrape_interval_s)
        while events and events[0][0] <= next_scrape_s:
            at_s, index, what = events.pop(0)
            simulation.advance(at_s - simulation.clock_s)
            if what == "inject":
                faults[index] = simulation.inject(_request(episodes[index], simulation))
            else:
                simulation.clear(faults[index].id)
        simulation.advance(next_scrape_s - simulation.clock_s)
        writer.scrape(simulation)
    with metrics_path.open("w") as out:
        writer.write(out)

    end_ts = start_ts + duration_s
    spans: list[AlertSpan] = []
    for index, episode in enumerate(episodes):
        fault = faults.get(index)
        if fault is None:
            continue
        spans += _spans(index, episode, fault, start_ts, end_ts, metrics_path)
    with alerts_path.open("w") as out:
        write_alerts(spans, end_ts, out)
    return spans


def _request(episode: Episode, simulation: Simulation) -> FaultRequest:
    kind = FaultKind(episode.kind)
    node = None
    if episode.kind in GPU_KINDS:
        node = simulation.fleet.nodes_of(episode.model)[0]
    return FaultRequest(kind, episode.model, episode.intensity, node=node, xid=episode.xid)


def _spans(
    index: int, episode: Episode, fault: Fault, start_ts: float, end_ts: float, history: Path
) -> list[AlertSpan]:
    """The alerts the shipped rules raise for one episode."""
    fault_ts = start_ts + episode.at_s
    first_ts = fault_ts + episode.alert_delay_s
    alert, _ = alert_for(episode.kind, episode.model, fault, history, first_ts)
    cleared = None
    if episode.clear_after_s is not None:
        cleared = min(end_ts, fault_ts + episode.clear_after_s + RESOLVE_DELAY_S)
    spans = []
    for position, name in enumerate(alert.names):
        firing_ts = first_ts + position * SECOND_ALERT_AFTER_S
        if cleared is not None and firing_ts >= cleared:
            continue
        labels = dict(alert.labels)
        if position > 0:
            labels = _serving_labels(name, alert.labels)
        pending_ts = firing_ts - PENDING_S.get(name, 0.0)
        spans.append(AlertSpan(labels, pending_ts, firing_ts, cleared, index))
    return spans


def _serving_labels(name: str, first: dict[str, str]) -> dict[str, str]:
    """A later alert of the same fault: the rule's own labels and its `by` labels."""
    keep = SERVING_ALERT_LABELS.get(name, ("model_name",))
    labels = {"alertname": name, "severity": SEVERITY[name], "service": "llm-serving"}
    return labels | {k: first[k] for k in keep if k in first}


def write_alerts(spans: Sequence[AlertSpan], end_ts: float, out: TextIO) -> None:
    """`ALERTS` samples for `spans`, one per evaluation, as one OpenMetrics document."""
    write = out.write
    write("# TYPE ALERTS gauge\n# HELP ALERTS Alerts as Prometheus records them.\n")
    for span in spans:
        stop = span.end_ts if span.end_ts is not None else end_ts
        for state, begin, until in (
            ("pending", span.pending_ts, span.firing_ts),
            ("firing", span.firing_ts, stop),
        ):
            labels = {**span.labels, "alertstate": state}
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            ts = _first_evaluation(begin)
            while ts < until:
                write(f"ALERTS{{{text}}} 1 {ts:.3f}\n")
                ts += EVALUATION_INTERVAL_S
    write("# EOF\n")


def _first_evaluation(ts: float) -> float:
    """The first rule evaluation at or after `ts` (evaluations fall on whole intervals)."""
    steps = -(-ts // EVALUATION_INTERVAL_S)
    return float(steps * EVALUATION_INTERVAL_S)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
