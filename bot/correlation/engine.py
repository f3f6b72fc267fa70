"""Correlation for triage: resolve the topology, query the catalogue, score every signal, rank
causes, draw charts.

`correlate` is the one entry point. It first resolves the incident's topology (model → pods →
nodes → GPUs → images, `topology.py`), which scopes every signal, then reads rollouts and dead
engines from it (`evidence.py`; a deploy announced as a change outranks an inferred rollout).
Windows, relative to the alert's start `started_at`:

    baseline_start ── baseline_s ──▶ window_start ── lead_s ──▶ started_at ──▶ now
                                     (the fault may precede the alert by `for:` + detection)

Queries run on a small thread pool. A failed query makes its signal `unavailable` with the
reason; after `breaker_failures` failures with no success the rest are skipped, and the report
says Prometheus is unavailable while still ranking what it has (alert-name priors at least).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import structlog

from bot.correlation import charts, evidence, hypotheses, rules
from bot.correlation.catalogue import Catalogue, default_catalogue
from bot.correlation.scoring import DEFAULT_POLICY, ScoringPolicy, score_signal
from bot.correlation.templates import Evaluator, ScopeError, Signal, render
from bot.correlation.topology import Topology, resolve
from bot.domain.changes import Change
from bot.domain.errors import UpstreamUnavailableError
from bot.domain.findings import BadQueryError, Finding, FindingStatus, TriageReport
from bot.domain.signals import Series
from bot.ports import MetricsSource

log = structlog.get_logger(__name__)

TARGET_POINTS = 720
MIN_STEP_S = 15.0


@dataclass(frozen=True)
class _Answer:
    """What one signal's query produced: series, or why there are none."""

    signal: Signal
    promql: str
    series: list[Series] | None
    status: FindingStatus | None = None
    reason: str = ""
    issued: bool = True


class _Breaker:
    """Stops querying a source that has failed repeatedly without a single success."""

    def __init__(self, failures_to_open: int) -> None:
        self._lock = threading.Lock()
        self._limit = failures_to_open
        self.failures = 0
        self.successes = 0
        self.last_reason = ""

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self.successes == 0 and self.failures >= self._limit

    def record(self, ok: bool, reason: str = "") -> None:
        with self._lock:
            if ok:
                self.successes += 1
            else:
                self.failures += 1
                self.last_reason = reason


def choose_step_s(range_s: float, *, min_step_s: float = MIN_STEP_S) -> float:
    """A step giving about `TARGET_POINTS` points, never below `min_step_s`."""
    return max(min_step_s, float(math.ceil(range_s / TARGET_POINTS)))


def _ask(
    source: MetricsSource,
    signal: Signal,
    promql: str,
    start: datetime,
    end: datetime,
    step_s: float,
    breaker: _Breaker,
) -> _Answer:
    if breaker.is_open:
        reason = f"skipped: Prometheus unavailable ({breaker.last_reason})"
        return _Answer(signal, promql, None, FindingStatus.UNAVAILABLE, reason, issued=False)
    try:
        series = source.query_range(promql, start, end, step_s)
    except BadQueryError as exc:
        log.error("signal_query_rejected", signal=signal.name, promql=promql, error=str(exc))
        breaker.record(ok=True)  # the source answered; the query is at fault
        return _Answer(signal, promql, None, FindingStatus.UNAVAILABLE, f"query rejected: {exc}")
    except UpstreamUnavailableError as exc:
        log.warning("signal_query_failed", signal=signal.name, error=str(exc))
        breaker.record(ok=False, reason=str(exc))
        return _Answer(signal, promql, None, FindingStatus.UNAVAILABLE, str(exc))
    breaker.record(ok=True)
    return _Answer(signal, promql, series)


def _evaluate(
    answer: _Answer, window_start_ts: float, policy: ScoringPolicy
) -> tuple[Finding, list[tuple[float, float]]]:
    """The finding for one answer, plus the points of the series that decided it (for charts)."""
    signal = answer.signal
    if answer.series is None:
        status = answer.status or FindingStatus.UNAVAILABLE
        finding = Finding(
            signal.name, signal.backend, answer.promql, status, answer.reason, unit=signal.unit
        )
        return finding, []
    if signal.evaluator is Evaluator.XID:
        finding = rules.evaluate_xid(
            signal.name, signal.backend, answer.promql, answer.series, window_start_ts
        )
    else:
        finding, _ = score_signal(
            signal.name,
            signal.backend,
            answer.promql,
            answer.series,
            window_start_ts,
            floor_abs=signal.floor_abs,
            unit=signal.unit,
            policy=policy,
        )
    labels = finding.series_labels
    chosen = next((s for s in answer.series if not labels or s.labels == labels), None)
    return finding, [] if chosen is None else list(chosen.points)


def _with_pod(finding: Finding, topology: Topology) -> Finding:
    """A GPU finding names the model's pod on that GPU too, when the topology knows it."""
    labels = finding.series_labels
    if "pod" in labels or not {"Hostname", "gpu"} <= labels.keys():
        return finding
    pod = topology.pod_on(labels["Hostname"], labels["gpu"])
    return replace(finding, series_labels={**labels, "pod": pod}) if pod else finding


def _chart_rank(finding: Finding, lead: Sequence[str]) -> tuple[int, float]:
    """Charts follow the top hypothesis's evidence, then the largest deviations."""
    position = lead.index(finding.signal) if finding.signal in lead else len(lead)
    return position, -abs(finding.z if finding.z is not None else 0.0)


def _unavailable_sources(
    answers: Sequence[_Answer], breaker: _Breaker, issued: int
) -> dict[str, str]:
    if breaker.successes == 0 and breaker.failures > 0:
        return {"prometheus": breaker.last_reason or "no query answered"}
    by_backend: dict[str, list[_Answer]] = {}
    for answer in answers:
        by_backend.setdefault(answer.signal.backend, []).append(answer)
    return {
        backend: group[0].reason
        for backend, group in by_backend.items()
        if all(a.status is FindingStatus.UNAVAILABLE for a in group) and issued > 0
    }


BLIND_SPOTS: dict[str, str] = {
    "http": "no vLLM API-server http_requests_total for the model's pods; error causes "
    "(upstream, deploy) cannot be judged",
    "drift": "no llm_drift_score for the model; drift cannot be judged",
    "rollout": "rollouts cannot be seen (no ReplicaSet from kube-state-metrics or pod names)",
}


def _seen_backends(
    answers: Sequence[_Answer], topology: Topology, rollout: Finding
) -> frozenset[str]:
    seen = set(topology.seen)
    seen.update(a.signal.backend for a in answers if a.series)
    if rollout.status is not FindingStatus.INCONCLUSIVE:
        seen.add(evidence.ROLLOUT)
    return frozenset(seen)


def correlate(
    source: MetricsSource,
    labels: dict[str, str],
    alert_names: Sequence[str],
    started_at: datetime,
    now: datetime,
    *,
    chart_dir: Path | None = None,
    baseline_s: float = 1800.0,
    lead_s: float = 600.0,
    deploy_window_s: float = 1800.0,
    step_s: float | None = None,
    rate_window_s: float = 60.0,
    max_parallel: int = 4,
    max_charts: int = 4,
    breaker_failures: int = 3,
    catalogue: Catalogue | None = None,
    policy: ScoringPolicy = DEFAULT_POLICY,
    changes: Sequence[Change] = (),
) -> TriageReport:
    """Resolve the incident's topology, score every catalogue signal against its baseline and
    rank causes, saying what could not be seen. `changes` are the scope's announced changes;
    a deploy among them outranks a rollout inferred from the pods."""
    if started_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("started_at and now must be timezone-aware")
    catalogue = catalogue or default_catalogue()
    clock_start = time.perf_counter()
    started_at = min(started_at, now)
    window_start = started_at - timedelta(seconds=lead_s)
    baseline_start = window_start - timedelta(seconds=baseline_s)
    step = step_s or choose_step_s((now - baseline_start).total_seconds())
    rollout_split = max(
        baseline_start + timedelta(seconds=policy.min_baseline_points * step),
        started_at - timedelta(seconds=deploy_window_s),
    )
    breaker = _Breaker(breaker_failures)

    def ask(promql: str) -> list[Series]:
        if breaker.is_open:
            raise UpstreamUnavailableError(
                f"skipped: Prometheus unavailable ({breaker.last_reason})"
            )
        try:
            series = source.query_range(promql, baseline_start, now, step)
        except UpstreamUnavailableError as exc:
            breaker.record(ok=False, reason=str(exc))
            raise
        breaker.record(ok=True)
        return series

    topology, topology_queries = resolve(catalogue, ask, labels, step_s=step)
    scopes = topology.scopes()
    signals = catalogue.signals
    answers: list[_Answer] = []
    with ThreadPoolExecutor(max_workers=max(1, max_parallel)) as pool:
        futures = []
        for signal in signals:
            try:
                promql = render(signal, scopes, rate_window_s=rate_window_s, step_s=step)
            except ScopeError as exc:
                answers.append(
                    _Answer(signal, "", None, FindingStatus.INCONCLUSIVE, str(exc), issued=False)
                )
                continue
            futures.append(
                pool.submit(_ask, source, signal, promql, baseline_start, now, step, breaker)
            )
        answers.extend(f.result() for f in futures)
    order = {s.name: i for i, s in enumerate(signals)}
    answers.sort(key=lambda a: order[a.signal.name])

    evaluated = [
        (_with_pod(f, topology), points)
        for f, points in (_evaluate(a, window_start.timestamp(), policy) for a in answers)
    ]
    rollout = evidence.rollout_finding(topology, rollout_split.timestamp())
    rollout = evidence.announced_rollout(changes, rollout_split, now, rollout) or rollout
    death = evidence.engine_death_finding(topology, window_start.timestamp(), now.timestamp(), step)
    findings = [f for f, _ in evaluated] + [rollout, death]
    by_name = {f.signal: f for f in findings}
    catalogue_by_name = {s.name: s for s in signals}
    issued = topology_queries + [a.promql for a in answers if a.issued]
    unavailable = _unavailable_sources(answers, breaker, len(issued))
    seen = _seen_backends(answers, topology, rollout)
    missing = list(topology.missing)
    if topology.pods:
        missing += [note for backend, note in BLIND_SPOTS.items() if backend not in seen]
    coverage = hypotheses.Coverage(seen, catalogue.causes)
    ranked = hypotheses.rank(
        findings,
        catalogue_by_name,
        rules.hard_rules(by_name),
        alert_names,
        unavailable,
        coverage=coverage,
        missing=missing,
    )

    chart_paths: list[str] = []
    if chart_dir is not None:
        lead = ranked[0].evidence if ranked else ()
        moved = [(f, p) for f, p in evaluated if f.moved and p]
        moved.sort(key=lambda fp: _chart_rank(fp[0], lead))
        for finding, points in moved[:max_charts]:
            path = charts.render_chart(finding, points, window_start, chart_dir)
            chart_paths.append(str(path))

    report = TriageReport(
        labels=dict(labels),
        alert_names=tuple(alert_names),
        baseline_start=baseline_start,
        window_start=window_start,
        window_end=now,
        step_s=step,
        hypotheses=tuple(ranked),
        findings=tuple(findings),
        unavailable=unavailable,
        queries=tuple(issued),
        chart_paths=tuple(chart_paths),
        duration_s=round(time.perf_counter() - clock_start, 3),
        topology=topology.to_dict(),
        missing=tuple(missing),
    )
    top = report.top
    log.info(
        "triage_correlated",
        top=None if top is None else top.kind.value,
        confidence=None if top is None else top.confidence,
        moved=[f.signal for f in findings if f.moved],
        queries=len(issued),
        pods=len(topology.pods),
        gpus=len(topology.gpus),
        missing=len(missing),
        unavailable=sorted(unavailable),
        duration_s=report.duration_s,
    )
    return report
