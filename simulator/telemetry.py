"""Monotonic counters and latency histograms, as a vLLM engine and its API server count them.

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
HTTP_STATUSES: tuple[str, ...] = ("2xx", "4xx", "5xx")
"""prometheus-fastapi-instrumentator groups status codes by class by default."""
HTTP_DURATION_BUCKETS_S: tuple[float, ...] = (0.1, 0.5, 1.0)
"""The instrumentator's default buckets for ``http_request_duration_seconds``."""


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
class HttpCounters:
    """What one vLLM API server counted (prometheus-fastapi-instrumentator's defaults).

    A response is counted when it starts: for streaming clients that is admission, so
    ``requests`` reflects demand; failures count as 5xx on the pod that answered them.
    """

    handlers: tuple[str, ...]
    requests: dict[tuple[str, str], float] = field(default_factory=dict)
    """(handler, status class) -> responses; every pair exists from the start, at 0."""
    duration: dict[str, Histogram] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for handler in self.handlers:
            for status in HTTP_STATUSES:
                self.requests.setdefault((handler, status), 0.0)
            self.duration.setdefault(handler, Histogram(HTTP_DURATION_BUCKETS_S))

    def record(self, handler: str, status: str, count: float) -> None:
        """Count ``count`` responses of ``handler`` with status class ``status``."""
        if count > 0.0:
            self.requests[(handler, status)] += count

    def by_status(self) -> dict[str, float]:
        """Responses by status class over every handler."""
        totals = dict.fromkeys(HTTP_STATUSES, 0.0)
        for (_, status), count in self.requests.items():
            totals[status] += count
        return totals
