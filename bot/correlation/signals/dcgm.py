"""NVIDIA DCGM exporter signals, one series per GPU so a single failing GPU stands out."""

from __future__ import annotations

from bot.correlation.templates import Evaluator, Signal, Support
from bot.domain.findings import Direction, HypothesisKind

UP, DOWN = Direction.UP, Direction.DOWN
CAPACITY = HypothesisKind.CAPACITY_SATURATION
THERMAL = HypothesisKind.THERMAL_THROTTLING
GPU = HypothesisKind.GPU_FAULT

GPU_SCOPE: tuple[tuple[str, str], ...] = (
    ("model_name", "model_name"),
    ("Hostname", "Hostname"),
    ("gpu", "gpu"),
    ("UUID", "UUID"),
    ("namespace", "namespace"),
    ("pod", "pod"),
)

# Clock-event reason bits: 0x40 HW thermal, 0x20 SW thermal, 0x8 HW slowdown. PromQL has no
# bitwise operators, so the bits are read arithmetically; 1 when any of them is set.
_REASONS = "DCGM_FI_DEV_CLOCKS_EVENT_REASONS{scope}"
_THERMAL_BITS = f"clamp_max(floor({_REASONS} / 32) % 4 + floor({_REASONS} / 8) % 2, 1)"


def _per_gpu(expression: str) -> str:
    return f"max by (Hostname, gpu) ({expression})"


SIGNALS: tuple[Signal, ...] = (
    Signal(
        name="gpu_util",
        backend="dcgm",
        template=_per_gpu("DCGM_FI_DEV_GPU_UTIL{scope}"),
        expected=DOWN,
        supports=(Support(GPU, DOWN, 0.7, localized=True), Support(CAPACITY, UP, 0.2)),
        scope_labels=GPU_SCOPE,
        unit="%",
        floor_abs=3.0,
        description="GPU utilisation per GPU",
    ),
    Signal(
        name="xid_errors",
        backend="dcgm",
        template=_per_gpu("DCGM_FI_DEV_XID_ERRORS{scope}"),
        expected=UP,
        scope_labels=GPU_SCOPE,
        unit="code",
        evaluator=Evaluator.XID,
        description="last XID error code per GPU (0 none)",
    ),
    Signal(
        name="gpu_temp",
        backend="dcgm",
        template=_per_gpu("DCGM_FI_DEV_GPU_TEMP{scope}"),
        expected=UP,
        # Temperature also rises with load; the clock signals are what set throttling apart.
        supports=(Support(THERMAL, UP, 0.5),),
        scope_labels=GPU_SCOPE,
        unit="C",
        floor_abs=2.0,
        description="GPU temperature",
    ),
    Signal(
        name="sm_clock",
        backend="dcgm",
        template=_per_gpu("DCGM_FI_DEV_SM_CLOCK{scope}"),
        expected=DOWN,
        supports=(
            Support(THERMAL, DOWN, 0.6),
            Support(GPU, DOWN, 0.2, localized=True),
            Support(CAPACITY, DOWN, -0.3),
        ),
        scope_labels=GPU_SCOPE,
        unit="MHz",
        floor_abs=30.0,
        description="SM clock",
    ),
    Signal(
        name="clock_thermal_reasons",
        backend="dcgm",
        template=_per_gpu(_THERMAL_BITS),
        expected=UP,
        supports=(Support(THERMAL, UP, 1.0), Support(CAPACITY, UP, -0.4)),
        scope_labels=GPU_SCOPE,
        unit="flag",
        floor_abs=0.1,
        description="clock-event reasons: HW/SW thermal or HW slowdown bit set",
    ),
    Signal(
        name="power_usage",
        backend="dcgm",
        template=_per_gpu("DCGM_FI_DEV_POWER_USAGE{scope}"),
        expected=DOWN,
        supports=(Support(THERMAL, DOWN, 0.2), Support(GPU, DOWN, 0.2, localized=True)),
        scope_labels=GPU_SCOPE,
        unit="W",
        floor_abs=10.0,
        description="board power draw",
    ),
)
