"""FakeMetricsSource, and synthetic fleet scenarios (one per fault shape) that answer through it.

The fake answers a PromQL query from the entry whose key is the longest substring of the
query: a list of Series, a callable building them for the asked range, or an exception to
raise. Unmatched queries answer [] (no data). `delay_s` / `slow` make answers slow.
`fault_scenario(kind, onset)` builds a fake whose series look like a vLLM + DCGM fleet that
is healthy until `onset` and then shows the given fault.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.domain.signals import Series

RangeBuilder = Callable[[datetime, datetime, float], list[Series]]
Answer = list[Series] | RangeBuilder | BaseException


@dataclass(frozen=True)
class Call:
    promql: str
    start: datetime | None
    end: datetime | None
    step_s: float | None


class FakeMetricsSource:
    """MetricsSource answering from canned or generated series keyed by PromQL substring."""

    def __init__(
        self,
        answers: Mapping[str, Answer] | None = None,
        *,
        delay_s: float = 0.0,
        slow: Mapping[str, float] | None = None,
    ) -> None:
        self.answers: dict[str, Answer] = dict(answers or {})
        self.delay_s = delay_s
        self.slow = dict(slow or {})
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def _match(self, promql: str, table: Mapping[str, object]) -> str | None:
        keys = [k for k in table if k in promql]
        return max(keys, key=len) if keys else None

    def _answer(self, promql: str, start: datetime, end: datetime, step_s: float) -> list[Series]:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            slow_key = self._match(promql, self.slow)
            pause = self.slow[slow_key] if slow_key is not None else self.delay_s
            if pause:
                time.sleep(pause)
            key = self._match(promql, self.answers)
            if key is None:
                return []
            answer = self.answers[key]
            if isinstance(answer, BaseException):
                raise answer
            if callable(answer):
                return answer(start, end, step_s)
            return list(answer)
        finally:
            with self._lock:
                self.in_flight -= 1

    def query_range(
        self, promql: str, start: datetime, end: datetime, step_s: float
    ) -> list[Series]:
        with self._lock:
            self.calls.append(Call(promql, start, end, step_s))
        return self._answer(promql, start, end, step_s)

    def query(self, promql: str, at: datetime | None = None) -> list[Series]:
        with self._lock:
            self.calls.append(Call(promql, at, at, None))
        moment = at or datetime.now().astimezone()
        series = self._answer(promql, moment, moment, 1.0)
        return [Series(s.labels, s.points[-1:]) for s in series if s.points]


# --- synthetic fleet -------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """A series' healthy value and, after onset + `delay_s`, its faulty value (ramped in)."""

    base: float
    fault: float | None = None
    delay_s: float = 0.0
    ramp_s: float = 60.0
    noise: float = 0.0
    step_change: bool = False

    def at(self, ts: float, onset_ts: float, rng: random.Random) -> float:
        value = self.base
        since = ts - onset_ts - self.delay_s
        if self.fault is not None and since >= 0:
            share = 1.0 if self.step_change or self.ramp_s <= 0 else min(1.0, since / self.ramp_s)
            value = self.base + (self.fault - self.base) * share
        return value + rng.gauss(0.0, self.noise) if self.noise else value


@dataclass
class Scenario:
    """A fleet's series as Levels per (PromQL key, series labels); `source()` serves them."""

    onset: datetime
    seed: int = 0
    series: dict[str, list[tuple[dict[str, str], Level]]] = field(default_factory=dict)
    versions: list[tuple[str, float | None, float | None]] = field(default_factory=list)

    def builder(self, key: str) -> RangeBuilder:
        entries = self.series[key]
        onset_ts = self.onset.timestamp()

        def build(start: datetime, end: datetime, step_s: float) -> list[Series]:
            result = []
            count = int((end - start).total_seconds() // step_s) + 1
            grid = [start.timestamp() + i * step_s for i in range(count)]
            for labels, level in entries:
                name = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
                points = []
                for ts in grid:
                    rng = random.Random(f"{self.seed}|{key}|{name}|{ts:.0f}")
                    value = level.at(ts, onset_ts, rng)
                    points.append((ts, max(0.0, value) if math.isfinite(value) else value))
                result.append(Series(dict(labels), points))
            return result

        return build

    def version_builder(self) -> RangeBuilder:
        def build(start: datetime, end: datetime, step_s: float) -> list[Series]:
            count = int((end - start).total_seconds() // step_s) + 1
            grid = [start.timestamp() + i * step_s for i in range(count)]
            result = []
            for version, from_ts, until_ts in self.versions:
                points = [
                    (ts, 1.0)
                    for ts in grid
                    if (from_ts is None or ts >= from_ts) and (until_ts is None or ts < until_ts)
                ]
                if points:
                    result.append(Series({"version": version, "pool": "a"}, points))
            return result

        return build

    def source(self, *, delay_s: float = 0.0) -> FakeMetricsSource:
        answers: dict[str, Answer] = {key: self.builder(key) for key in self.series}
        answers["llm_model_version_info"] = self.version_builder()
        return FakeMetricsSource(answers, delay_s=delay_s)


GPUS = (("gpu-node-1", "0"), ("gpu-node-1", "1"), ("gpu-node-2", "2"), ("gpu-node-2", "3"))

HEALTHY: dict[str, Level] = {
    "vllm:time_to_first_token_seconds": Level(0.35, noise=0.03),
    "vllm:e2e_request_latency_seconds": Level(4.0, noise=0.2),
    "vllm:inter_token_latency_seconds": Level(0.03, noise=0.001),
    "vllm:num_requests_waiting": Level(0.5, noise=0.4),
    "vllm:num_requests_running": Level(24.0, noise=1.5),
    "vllm:kv_cache_usage_perc": Level(0.41, noise=0.02),
    "vllm:num_preemptions_total": Level(0.0, noise=0.003),
    "vllm:generation_tokens_total": Level(1800.0, noise=50.0),
    "llm_drift_score": Level(0.02, noise=0.004),
    "llm_request_errors_total": Level(0.002, noise=0.0008),
    "llm_upstream_errors_total": Level(0.02, noise=0.01),
    "llm_requests_total": Level(12.0, noise=0.5),
    "llm_replicas": Level(4.0),
}
GPU_HEALTHY: dict[str, Level] = {
    "DCGM_FI_DEV_GPU_UTIL": Level(72.0, noise=2.5),
    "DCGM_FI_DEV_XID_ERRORS": Level(0.0),
    "DCGM_FI_DEV_GPU_TEMP": Level(64.0, noise=0.8),
    "DCGM_FI_DEV_SM_CLOCK": Level(1980.0, noise=8.0),
    "DCGM_FI_DEV_CLOCKS_EVENT_REASONS": Level(0.0),
    "DCGM_FI_DEV_POWER_USAGE": Level(310.0, noise=6.0),
}

# Per fault: fleet-level changes, and per-GPU changes keyed by the GPUs they hit.
FAULTS: dict[str, tuple[dict[str, Level], dict[str, tuple[tuple[str, ...], Level]]]] = {
    "healthy": ({}, {}),
    "capacity_saturation": (
        {
            "llm_requests_total": Level(12.0, 27.0, ramp_s=90, noise=0.5),
            "vllm:num_requests_running": Level(24.0, 48.0, 30, 90, noise=1.5),
            "vllm:kv_cache_usage_perc": Level(0.41, 0.97, 45, 120, noise=0.02),
            "vllm:num_requests_waiting": Level(0.5, 35.0, 90, 120, noise=0.4),
            "vllm:num_preemptions_total": Level(0.0, 1.5, 120, 60, noise=0.003),
            "vllm:time_to_first_token_seconds": Level(0.35, 2.8, 90, 120, noise=0.03),
            "vllm:e2e_request_latency_seconds": Level(4.0, 11.0, 90, 120, noise=0.2),
        },
        {"DCGM_FI_DEV_GPU_UTIL": (("0", "1", "2", "3"), Level(72.0, 96.0, 30, 90, noise=2.5))},
    ),
    "gpu_fault": (
        {
            "vllm:num_requests_waiting": Level(0.5, 12.0, 60, 60, noise=0.4),
            "vllm:time_to_first_token_seconds": Level(0.35, 1.6, 60, 60, noise=0.03),
            "llm_request_errors_total": Level(0.002, 0.03, 30, 30, noise=0.0008),
            "vllm:generation_tokens_total": Level(1800.0, 1350.0, 0, 30, noise=50.0),
        },
        {
            "DCGM_FI_DEV_XID_ERRORS": (("2",), Level(0.0, 79.0, step_change=True)),
            "DCGM_FI_DEV_GPU_UTIL": (("2",), Level(72.0, 0.0, 0, 15, noise=2.5)),
            "DCGM_FI_DEV_POWER_USAGE": (("2",), Level(310.0, 60.0, 0, 15, noise=6.0)),
        },
    ),
    "thermal_throttling": (
        {
            "vllm:inter_token_latency_seconds": Level(0.03, 0.06, 150, 120, noise=0.001),
            "vllm:num_requests_waiting": Level(0.5, 10.0, 200, 120, noise=0.4),
            "vllm:time_to_first_token_seconds": Level(0.35, 1.2, 200, 120, noise=0.03),
            "vllm:generation_tokens_total": Level(1800.0, 1300.0, 150, 120, noise=50.0),
        },
        {
            "DCGM_FI_DEV_GPU_TEMP": (("0", "1"), Level(64.0, 89.0, 0, 240, noise=0.8)),
            "DCGM_FI_DEV_CLOCKS_EVENT_REASONS": (
                ("0", "1"),
                Level(0.0, 1.0, 120, step_change=True),
            ),
            "DCGM_FI_DEV_SM_CLOCK": (("0", "1"), Level(1980.0, 1250.0, 120, 60, noise=8.0)),
            "DCGM_FI_DEV_POWER_USAGE": (("0", "1"), Level(310.0, 240.0, 120, 60, noise=6.0)),
        },
    ),
    "bad_deploy": (
        {
            "llm_drift_score": Level(0.02, 0.38, 120, 300, noise=0.004),
            "llm_request_errors_total": Level(0.002, 0.09, 30, 60, noise=0.0008),
            "vllm:e2e_request_latency_seconds": Level(4.0, 5.0, 60, 60, noise=0.2),
        },
        {},
    ),
    "upstream_errors": (
        {
            "llm_upstream_errors_total": Level(0.02, 4.0, 0, 30, noise=0.01),
            "llm_request_errors_total": Level(0.002, 0.15, 15, 30, noise=0.0008),
            "vllm:e2e_request_latency_seconds": Level(4.0, 6.0, 30, 60, noise=0.2),
        },
        {},
    ),
}

ALERTS: dict[str, list[str]] = {
    "healthy": ["LLMTTFTBurnRateFast"],
    "capacity_saturation": ["LLMTTFTBurnRateFast", "LLMKVCacheSaturated"],
    "gpu_fault": ["GPUXidError", "LLMTTFTBurnRateFast"],
    "thermal_throttling": ["GPUThermalThrottling"],
    "bad_deploy": ["LLMErrorRatioAfterDeploy"],
    "upstream_errors": ["LLMUpstreamErrors"],
}


def _adjust(level: Level, severity: float, noise_scale: float) -> Level:
    """`level` with its fault scaled to `severity` (0..1) and its noise by `noise_scale`."""
    fault = level.fault
    if fault is not None and not level.step_change:
        fault = level.base + (fault - level.base) * severity
    return replace(level, fault=fault, noise=level.noise * noise_scale)


def fault_scenario(
    kind: str,
    onset: datetime,
    *,
    seed: int = 0,
    severity: float = 1.0,
    noise_scale: float = 1.0,
) -> Scenario:
    """A fleet healthy until `onset`, then showing fault `kind` (see `FAULTS`).

    `severity` scales how far each faulty series moves (1 = as in `FAULTS`); `noise_scale`
    scales every series' noise. XID codes and version changes are not scaled.
    """
    fleet, per_gpu = FAULTS[kind]
    scenario = Scenario(onset=onset, seed=seed)
    for key, level in HEALTHY.items():
        chosen = fleet.get(key, level)
        scenario.series[key] = [({}, _adjust(chosen, severity, noise_scale))]
    for key, level in GPU_HEALTHY.items():
        hit_gpus, fault_level = per_gpu.get(key, ((), level))
        scenario.series[key] = [
            (
                {"Hostname": host, "gpu": gpu},
                _adjust(fault_level if gpu in hit_gpus else level, severity, noise_scale),
            )
            for host, gpu in GPUS
        ]
    onset_ts = onset.timestamp()
    if kind == "bad_deploy":
        scenario.versions = [("v1", None, onset_ts + 60), ("v2", onset_ts, None)]
    else:
        scenario.versions = [("v1", None, None)]
    return scenario
