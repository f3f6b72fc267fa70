"""The action registry: verb → action module. The loader and executor know actions only here."""

from __future__ import annotations

from types import MappingProxyType

from bot.runbook.actions import (
    annotate,
    cordon,
    drain,
    failover,
    notify,
    restart,
    rollback,
    scale,
    uncordon,
    verify,
    wait,
)
from bot.runbook.actions.contract import ActionModule

_MODULES: tuple[ActionModule, ...] = (
    scale,
    failover,
    rollback,
    restart,
    cordon,
    drain,
    uncordon,
    wait,
    verify,
    notify,
    annotate,
)

ACTIONS: MappingProxyType[str, ActionModule] = MappingProxyType({m.NAME: m for m in _MODULES})


def action_named(name: str) -> ActionModule | None:
    """The action module for a verb, or None when no such action exists."""
    return ACTIONS.get(name)
