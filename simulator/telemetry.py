"""Monotonic counters and latency histograms, as a vLLM engine and a gateway accumulate them.

Observations arrive in bulk (thousands of requests per simulated step), so a histogram takes a
count and a log-normal latency distribution and spreads the count over its buckets with the
distribution's CDF instead of sampling each request. Everything here only ever grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# vLLM v1 bucket boundaries (vllm/v1/metrics/loggers.py), so PromQL written for the
# simulator works unchanged against a real vLLM.
TTFT_BUCKETS_S: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
    7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
INTER_TOKEN_BUCKETS_S: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
    10.0, 20.0, 40.0, 80.0,
)  # fmt: skip
E2E_BUCKETS_S: tuple[float, ...] = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
    120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip

FINISHED_REASONS: tuple[str, ...] = ("stop", "length", "abort")
GATEWAY_CODES: tuple[str, ...] = ("200", "499", "500", "502", "503")
ERROR_CODES: tuple[str, ...] = ("500", "502", "503")


def lognormal_cdf(value: float, median: float, sigma: float) -> float:
    """P(X <= value) for a log-normal with the given median and log-space sigma."""
    if value <= 0.0:
        return 0.0
    z = (math.log(value) - math.log(median)) / (sigma * math.sqrt(2.0))
    return 0.5 * (1.0 + math.erf(z))


@dataclass
class Histogram:
    """A cumulative Prometheus histogram fed with bulk log-normal observations."""

    bounds: tuple[float, ...]
    cumulative: list[float] = field(default_factory=list)
    """Observations <= each bound, then the +Inf bucket (== count) last."""
    total: float = 0.0

    def __post_init__(self) -> None:
        if not self.cumulative:
            self.cumulative = [0.0] * (len(self.bounds) + 1)

    @property
    def count(self) -> float:
        return self.cumulative[-1]

    def observe_lognormal(self, count: float, median: float, sigma: float) -> None:
        """Add ``count`` observations drawn from a log-normal(median, sigma)."""
        if count <= 0.0:
            return
        median = max(median, 1e-6)
        for index, bound in enumerate(self.bounds):
            self.cumulative[index] += count * lognormal_cdf(bound, median, sigma)
        self.cumulative[-1] += count
        self.total += count * median * math.exp(sigma * sigma / 2.0)


@dataclass
class EngineCounters:
    """What one vLLM engine (one replica) has counted since it started."""

    preemptions: float = 0.0
    prompt_tokens: float = 0.0
    generation_tokens: float = 0.0
    finished: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FINISHED_REASONS, 0.0))
    time_to_first_token: Histogram = field(default_factory=lambda: Histogram(TTFT_BUCKETS_S))
    e2e_latency: Histogram = field(default_factory=lambda: Histogram(E2E_BUCKETS_S))
    inter_token_latency: Histogram = field(default_factory=lambda: Histogram(INTER_TOKEN_BUCKETS_S))


@dataclass
class GatewayCounters:
    """What the model's gateway has counted: requests by HTTP code and upstream failures."""

    requests: dict[str, float] = field(default_factory=lambda: dict.fromkeys(GATEWAY_CODES, 0.0))
    upstream_errors: float = 0.0

    def record(self, code: str, count: float) -> None:
        """Count ``count`` responses with HTTP status ``code``."""
        if count > 0.0:
            self.requests[code] = self.requests.get(code, 0.0) + count

    def errors(self) -> dict[str, float]:
        """Server-side errors (5xx) by code."""
        return {code: value for code, value in self.requests.items() if code.startswith("5")}
