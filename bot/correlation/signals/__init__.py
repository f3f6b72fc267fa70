"""The signal catalogue as data, one module per backend; `CATALOGUE` is what triage queries."""

from __future__ import annotations

from bot.correlation.signals import dcgm, drift, kube, tgi, triton, vllm
from bot.correlation.templates import Signal

CATALOGUE: tuple[Signal, ...] = (
    *vllm.SIGNALS,
    *dcgm.SIGNALS,
    *drift.SIGNALS,
    *kube.SIGNALS,
    *tgi.SIGNALS,
    *triton.SIGNALS,
)


def by_name(name: str) -> Signal:
    """The catalogue entry called `name`; KeyError when there is none."""
    for signal in CATALOGUE:
        if signal.name == name:
            return signal
    raise KeyError(name)


__all__ = ["CATALOGUE", "by_name"]
