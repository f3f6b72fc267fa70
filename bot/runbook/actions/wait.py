"""`wait`: let the fleet settle; the next step starts no sooner than `duration_s` later."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.runbooks import StepPlan, TargetState
from bot.runbook.actions.contract import ApplyContext, PlanContext

NAME = "wait"
TOUCHES_TARGET = False


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    duration_s: float = Field(ge=0.0, le=3600.0)


def plan(params: Params, state: TargetState, context: PlanContext) -> StepPlan:
    return StepPlan(
        index=context.index,
        action=NAME,
        current={},
        desired={"wait_s": params.duration_s},
        description=f"wait {params.duration_s:g} s",
    )


def apply(params: Params, step: StepPlan, context: ApplyContext) -> dict[str, Any]:
    """Waiting is the executor's job: it reads `resume_after_s` and schedules the next step."""
    return {"resume_after_s": params.duration_s}
