"""`annotate`: write a note on the incident timeline (and audit log) at this point of a run."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.runbooks import StepPlan, TargetState
from bot.runbook.actions.contract import ApplyContext, PlanContext

NAME = "annotate"
TOUCHES_TARGET = False


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1, max_length=2000)
    tags: list[str] = Field(default_factory=list, max_length=20)


def plan(params: Params, state: TargetState, context: PlanContext) -> StepPlan:
    return StepPlan(
        index=context.index,
        action=NAME,
        current={},
        desired={"text": params.text, "tags": list(params.tags)},
        description=f"annotate: {params.text[:80]}",
    )


def apply(params: Params, step: StepPlan, context: ApplyContext) -> dict[str, Any]:
    detail = {"text": params.text, "tags": list(params.tags)}
    context.record("annotated", detail)
    return detail
