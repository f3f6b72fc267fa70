"""What every action module provides, and what it is given to plan and to act.

An action module names its verb (`NAME`), declares a pydantic `Params` model the loader
validates every step against, computes a pure `plan(params, state, context)` — current →
desired — and `apply(params, step_plan, context)` sets that desired state through the
Target port. Desired state, never a delta: applying the same plan twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from bot.domain.runbooks import StepPlan, TargetState
from bot.ports import ClusterTarget, Target


@dataclass(frozen=True)
class PlanContext:
    """What a plan may read beside the target's state."""

    index: int = 0
    during_incident: bool = True
    state_at_run_start: TargetState | None = None
    run_started_at: datetime | None = None


def _ignore_text(text: str) -> None:
    return None


def _ignore_record(event: str, detail: dict[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class ApplyContext:
    """What an action may touch when it acts: one model on one target, and the run's journal."""

    target: Target
    model: str
    now: datetime
    announce: Callable[[str], None] = field(default=_ignore_text)
    record: Callable[[str, dict[str, Any]], None] = field(default=_ignore_record)
    cluster: ClusterTarget | None = None


class ActionModule(Protocol):
    """The shape of `bot.runbook.actions.<verb>` modules (constants read as properties)."""

    @property
    def NAME(self) -> str: ...
    @property
    def Params(self) -> type[BaseModel]: ...
    @property
    def TOUCHES_TARGET(self) -> bool: ...

    def plan(self, params: Any, state: TargetState, context: PlanContext) -> StepPlan: ...
    def apply(self, params: Any, step: StepPlan, context: ApplyContext) -> dict[str, Any]: ...
