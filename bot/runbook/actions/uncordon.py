"""`uncordon`: let pods schedule on a node again — only one Firebreak cordoned; a node someone
else cordoned stays as they left it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.runbooks import StepPlan, TargetState
from bot.runbook.actions.contract import ApplyContext, PlanContext
from bot.runbook.actions.nodes import NODE_PATTERN, cluster_of, node_of

NAME = "uncordon"
TOUCHES_TARGET = True


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    node: str = Field(min_length=1, max_length=253, pattern=NODE_PATTERN)


def plan(params: Params, state: TargetState, context: PlanContext) -> StepPlan:
    node = node_of(state, params.node)
    current = {"node": node.name, "unschedulable": node.unschedulable}
    if node.unschedulable and not node.cordoned_by_firebreak:
        return StepPlan(
            index=context.index,
            action=NAME,
            current=current,
            desired=current,
            description=f"leave {node.name} cordoned (not cordoned by Firebreak)",
        )
    return StepPlan(
        index=context.index,
        action=NAME,
        current=current,
        desired={"node": node.name, "unschedulable": False},
        description=f"uncordon {node.name}" + ("" if node.unschedulable else " (not cordoned)"),
    )


def apply(params: Params, step: StepPlan, context: ApplyContext) -> dict[str, Any]:
    cluster_of(context).set_unschedulable(params.node, False)
    return {"node": params.node, "unschedulable": False}
