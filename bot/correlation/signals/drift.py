"""Model drift, deploy and request-outcome signals exported by the serving gateway."""

from __future__ import annotations

from bot.correlation.templates import MODEL_SCOPE, Evaluator, Signal, Support
from bot.domain.findings import Direction, HypothesisKind

UP, DOWN = Direction.UP, Direction.DOWN
CAPACITY = HypothesisKind.CAPACITY_SATURATION
DEPLOY = HypothesisKind.BAD_DEPLOY
GPU = HypothesisKind.GPU_FAULT
THERMAL = HypothesisKind.THERMAL_THROTTLING
UPSTREAM = HypothesisKind.UPSTREAM_ERRORS

POOL_SCOPE: tuple[tuple[str, str], ...] = (*MODEL_SCOPE, ("pool", "pool"))

SIGNALS: tuple[Signal, ...] = (
    Signal(
        name="drift_psi",
        backend="drift",
        template="max(llm_drift_score{scope})",
        expected=UP,
        supports=(Support(DEPLOY, UP, 0.6),),
        fixed_matchers=(("metric", "psi"),),
        unit="psi",
        floor_abs=0.02,
        description="population stability index of model inputs/outputs",
    ),
    Signal(
        name="error_ratio",
        backend="drift",
        template=(
            "sum(rate(llm_request_errors_total{scope}[{rate}]))"
            " / sum(rate(llm_requests_total{scope}[{rate}]))"
        ),
        expected=UP,
        supports=(
            Support(DEPLOY, UP, 0.5),
            Support(UPSTREAM, UP, 0.3),
            Support(GPU, UP, 0.1),
        ),
        unit="ratio",
        floor_abs=0.005,
        description="share of requests that failed",
    ),
    Signal(
        # A share, not a rate: a traffic surge multiplies upstream errors without their cause.
        name="upstream_error_ratio",
        backend="drift",
        template=(
            "sum(rate(llm_upstream_errors_total{scope}[{rate}]))"
            " / sum(rate(llm_requests_total{scope}[{rate}]))"
        ),
        expected=UP,
        supports=(Support(UPSTREAM, UP, 0.9), Support(DEPLOY, UP, -0.2)),
        unit="ratio",
        floor_abs=0.01,
        description="share of requests whose upstream calls failed",
    ),
    Signal(
        name="request_rate",
        backend="drift",
        template="sum(rate(llm_requests_total{scope}[{rate}]))",
        expected=UP,
        # Demand rising argues against throttling being the cause.
        supports=(Support(CAPACITY, UP, 0.8), Support(THERMAL, UP, -0.3)),
        unit="1/s",
        floor_abs=0.2,
        description="requests per second (demand)",
    ),
    Signal(
        name="replicas",
        backend="drift",
        template="sum(llm_replicas{scope})",
        expected=DOWN,
        supports=(Support(CAPACITY, DOWN, 0.5), Support(GPU, DOWN, 0.2)),
        scope_labels=POOL_SCOPE,
        unit="replicas",
        floor_abs=0.5,
        description="serving replicas",
    ),
    Signal(
        name="model_version",
        backend="drift",
        template="max by (version, pool) (llm_model_version_info{scope})",
        expected=UP,
        scope_labels=POOL_SCOPE,
        unit="version",
        evaluator=Evaluator.VERSION,
        description="model versions live (a new one inside the window is a deploy)",
    ),
)
