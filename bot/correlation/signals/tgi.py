"""Hugging Face TGI signals, for pools served by text-generation-inference."""

from __future__ import annotations

from bot.correlation.templates import POD_SCOPE, Signal, Support
from bot.domain.findings import Direction, HypothesisKind

SIGNALS: tuple[Signal, ...] = (
    Signal(
        name="tgi_queue_size",
        backend="tgi",
        template="sum(tgi_queue_size{scope})",
        expected=Direction.UP,
        supports=(Support(HypothesisKind.CAPACITY_SATURATION, Direction.UP, 0.6),),
        scope_labels=POD_SCOPE,
        unit="requests",
        floor_abs=1.0,
        description="requests waiting in the TGI router queue",
    ),
)
