"""`signals check`: the topology triage resolves for a model, and what each catalogue signal
answers against the configured Prometheus — the first thing a new user runs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.correlation.catalogue import Catalogue
from bot.correlation.templates import ScopeError, render
from bot.correlation.topology import Topology, resolve
from bot.domain.errors import UpstreamUnavailableError
from bot.domain.findings import BadQueryError
from bot.domain.signals import Series
from bot.ports import MetricsSource


@dataclass(frozen=True)
class SignalProbe:
    """One signal's query for this model and what Prometheus answered."""

    name: str
    backend: str
    promql: str
    series: int
    has_data: bool
    problem: str = ""


def check_signals(
    source: MetricsSource,
    catalogue: Catalogue,
    labels: dict[str, str],
    now: datetime,
    window_s: float = 3600.0,
    step_s: float = 60.0,
) -> tuple[Topology, list[SignalProbe]]:
    """Resolve the topology over the last `window_s` and probe every signal once."""
    start = now - timedelta(seconds=window_s)

    def ask(promql: str) -> list[Series]:
        return source.query_range(promql, start, now, step_s)

    topology, _ = resolve(catalogue, ask, labels, step_s=step_s)
    scopes = topology.scopes()
    probes = []
    for signal in catalogue.signals:
        try:
            promql = render(signal, scopes, step_s=step_s)
        except ScopeError as exc:
            probes.append(SignalProbe(signal.name, signal.backend, "", 0, False, str(exc)))
            continue
        try:
            series = source.query_range(promql, start, now, step_s)
        except (UpstreamUnavailableError, BadQueryError) as exc:
            probes.append(SignalProbe(signal.name, signal.backend, promql, 0, False, str(exc)))
            continue
        has_data = any(math.isfinite(v) for s in series for _, v in s.points)
        probes.append(SignalProbe(signal.name, signal.backend, promql, len(series), has_data))
    return topology, probes
