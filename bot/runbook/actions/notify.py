"""`notify`: post a message in the incident's chat thread."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.runbooks import StepPlan, TargetState
from bot.runbook.actions.contract import ApplyContext, PlanContext

NAME = "notify"
TOUCHES_TARGET = False


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    message: str = Field(min_length=1, max_length=2000)


def plan(params: Params, state: TargetState, context: PlanContext) -> StepPlan:
    return StepPlan(
        index=context.index,
        action=NAME,
        current={},
        desired={"message": params.message},
        description=f"notify: {params.message[:80]}",
    )


def apply(params: Params, step: StepPlan, context: ApplyContext) -> dict[str, Any]:
    context.announce(params.message)
    return {"message": params.message}
