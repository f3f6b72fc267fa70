"""`cordon`: mark a node unschedulable (and Firebreak's), so no new pod lands on it. Guarded:
at most the target's `max_cordoned_nodes` held by Firebreak, never a pool's last GPU node."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.runbooks import StepPlan, TargetState
from bot.runbook.actions.contract import ApplyContext, PlanContext
from bot.runbook.actions.nodes import NODE_PATTERN, cluster_of, node_of
from bot.runbook.errors import PlanError
from bot.runbook.guards import cordon_refusal

NAME = "cordon"
TOUCHES_TARGET = True


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    node: str = Field(min_length=1, max_length=253, pattern=NODE_PATTERN)


def plan(params: Params, state: TargetState, context: PlanContext) -> StepPlan:
    """Refuses when the node guard does; a node already cordoned is left as it is."""
    node = node_of(state, params.node)
    refusal = cordon_refusal(node)
    if refusal is not None:
        raise PlanError(f"cordon {node.name} refused: {refusal}")
    return StepPlan(
        index=context.index,
        action=NAME,
        current={"node": node.name, "unschedulable": node.unschedulable},
        desired={"node": node.name, "unschedulable": True},
        description=f"cordon {node.name}" + (" (already cordoned)" if node.unschedulable else ""),
    )


def apply(params: Params, step: StepPlan, context: ApplyContext) -> dict[str, Any]:
    cluster_of(context).set_unschedulable(params.node, True)
    return {"node": params.node, "unschedulable": True}
