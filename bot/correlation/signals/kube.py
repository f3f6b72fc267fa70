"""Kubernetes (kube-state-metrics) signals; only queried when the incident names a namespace."""

from __future__ import annotations

from bot.correlation.templates import Signal, Support
from bot.domain.findings import Direction, HypothesisKind

SIGNALS: tuple[Signal, ...] = (
    Signal(
        name="container_restarts",
        backend="kube",
        template="sum(increase(kube_pod_container_status_restarts_total{scope}[{rate}]))",
        expected=Direction.UP,
        supports=(
            Support(HypothesisKind.GPU_FAULT, Direction.UP, 0.3),
            Support(HypothesisKind.BAD_DEPLOY, Direction.UP, 0.3),
        ),
        scope_labels=(("namespace", "namespace"), ("pod", "pod")),
        requires_scope=True,
        unit="restarts",
        floor_abs=0.5,
        description="container restarts in the rate window",
    ),
)
