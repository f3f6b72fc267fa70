"""NVIDIA Triton signals; Triton names the model label `model`, not `model_name`."""

from __future__ import annotations

from bot.correlation.templates import Signal, Support
from bot.domain.findings import Direction, HypothesisKind

TRITON_SCOPE: tuple[tuple[str, str], ...] = (
    ("model_name", "model"),
    ("namespace", "namespace"),
    ("pod", "pod"),
)

SIGNALS: tuple[Signal, ...] = (
    Signal(
        name="triton_pending_requests",
        backend="triton",
        template="sum(nv_inference_pending_request_count{scope})",
        expected=Direction.UP,
        supports=(Support(HypothesisKind.CAPACITY_SATURATION, Direction.UP, 0.6),),
        scope_labels=TRITON_SCOPE,
        unit="requests",
        floor_abs=1.0,
        description="requests pending in Triton",
    ),
)
