"""vLLM engine signals: latency symptoms and the saturation evidence behind them."""

from __future__ import annotations

from bot.correlation.templates import POD_SCOPE, Signal, Support
from bot.domain.findings import Direction, HypothesisKind

UP, DOWN = Direction.UP, Direction.DOWN
CAPACITY = HypothesisKind.CAPACITY_SATURATION
THERMAL = HypothesisKind.THERMAL_THROTTLING
GPU = HypothesisKind.GPU_FAULT
UPSTREAM = HypothesisKind.UPSTREAM_ERRORS


def _p95(metric: str) -> str:
    return f"histogram_quantile(0.95, sum by (le) (rate({metric}_bucket{{scope}}[{{rate}}])))"


SIGNALS: tuple[Signal, ...] = (
    Signal(
        name="ttft_p95",
        backend="vllm",
        template=_p95("vllm:time_to_first_token_seconds"),
        expected=UP,
        scope_labels=POD_SCOPE,
        unit="s",
        floor_abs=0.05,
        symptom=True,
        description="time to first token, p95",
    ),
    Signal(
        name="e2e_latency_p95",
        backend="vllm",
        template=_p95("vllm:e2e_request_latency_seconds"),
        expected=UP,
        scope_labels=POD_SCOPE,
        unit="s",
        floor_abs=0.1,
        symptom=True,
        description="end-to-end request latency, p95",
    ),
    Signal(
        name="inter_token_latency_p95",
        backend="vllm",
        template=_p95("vllm:inter_token_latency_seconds"),
        expected=UP,
        supports=(Support(THERMAL, UP, 0.3), Support(CAPACITY, UP, 0.1)),
        scope_labels=POD_SCOPE,
        unit="s",
        floor_abs=0.005,
        description="inter-token latency, p95; slower decode per token",
    ),
    Signal(
        name="queue_waiting",
        backend="vllm",
        template="sum(vllm:num_requests_waiting{scope})",
        expected=UP,
        supports=(
            Support(CAPACITY, UP, 0.6),
            Support(THERMAL, UP, 0.15),
            Support(GPU, UP, 0.15),
            Support(UPSTREAM, UP, -0.3),
        ),
        scope_labels=POD_SCOPE,
        unit="requests",
        floor_abs=1.0,
        description="requests waiting in the scheduler queue",
    ),
    Signal(
        name="requests_running",
        backend="vllm",
        template="sum(vllm:num_requests_running{scope})",
        expected=UP,
        supports=(Support(CAPACITY, UP, 0.4),),
        scope_labels=POD_SCOPE,
        unit="requests",
        floor_abs=1.0,
        description="requests in the running batch",
    ),
    Signal(
        name="kv_cache_usage",
        backend="vllm",
        template="max(vllm:kv_cache_usage_perc{scope})",
        expected=UP,
        supports=(
            Support(CAPACITY, UP, 0.7),
            Support(THERMAL, UP, 0.1),
            Support(UPSTREAM, UP, -0.3),
        ),
        scope_labels=POD_SCOPE,
        unit="ratio",
        floor_abs=0.02,
        description="KV cache usage (0..1), the fullest replica",
    ),
    Signal(
        name="preemption_rate",
        backend="vllm",
        template="sum(rate(vllm:num_preemptions_total{scope}[{rate}]))",
        expected=UP,
        supports=(Support(CAPACITY, UP, 0.5),),
        scope_labels=POD_SCOPE,
        unit="1/s",
        floor_abs=0.02,
        description="sequences preempted for lack of KV cache, per second",
    ),
    Signal(
        name="generation_token_rate",
        backend="vllm",
        template="sum(rate(vllm:generation_tokens_total{scope}[{rate}]))",
        expected=DOWN,
        supports=(Support(GPU, DOWN, 0.2), Support(THERMAL, DOWN, 0.15)),
        scope_labels=POD_SCOPE,
        unit="tokens/s",
        floor_abs=1.0,
        description="tokens generated per second (throughput)",
    ),
)
