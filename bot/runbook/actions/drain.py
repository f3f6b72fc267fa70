"""`drain`: cordon a node, then evict its pods through the Eviction API, as `kubectl drain`
does: DaemonSet and mirror pods stay, a PodDisruptionBudget's refusal (429) is retried until
`timeout_s`, and what could not be evicted by then fails the step, named pod by pod.
Guarded like `cordon`. Desired state: cordoned, no evictable pod left."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.runbooks import StepPlan, TargetState
from bot.runbook.actions.contract import ApplyContext, PlanContext
from bot.runbook.actions.nodes import NODE_PATTERN, cluster_of, node_of
from bot.runbook.errors import PlanError, TargetError
from bot.runbook.guards import cordon_refusal

NAME = "drain"
TOUCHES_TARGET = True
TOO_MANY_REQUESTS = 429


class Params(BaseModel):
    """The node, and how long evictions a PodDisruptionBudget refuses are retried."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node: str = Field(min_length=1, max_length=253, pattern=NODE_PATTERN)
    timeout_s: float = Field(default=300.0, gt=0.0, le=3600.0)


def plan(params: Params, state: TargetState, context: PlanContext) -> StepPlan:
    node = node_of(state, params.node)
    refusal = cordon_refusal(node)
    if refusal is not None:
        raise PlanError(f"drain {node.name} refused: {refusal}")
    pods = sorted(node.pods)
    shown = f"evict {len(pods)} pod(s)" if pods else "no pod to evict"
    cordon = "" if node.unschedulable else "cordon and "
    return StepPlan(
        index=context.index,
        action=NAME,
        current={"node": node.name, "unschedulable": node.unschedulable, "pods": pods},
        desired={"node": node.name, "unschedulable": True, "pods": []},
        description=f"{cordon}drain {node.name}: {shown} (timeout {params.timeout_s:g} s)",
    )


def apply(params: Params, step: StepPlan, context: ApplyContext) -> dict[str, Any]:
    result = cluster_of(context).drain(params.node, params.timeout_s)
    detail = {
        "node": result.node,
        "evicted": list(result.evicted),
        "skipped": dict(result.skipped),
        "remaining": dict(result.remaining),
    }
    context.record("node_drained" if result.complete else "node_drain_incomplete", detail)
    if not result.complete:
        left = "; ".join(f"{pod}: {why}" for pod, why in sorted(result.remaining.items()))
        raise TargetError(
            f"drain of {result.node} incomplete after {params.timeout_s:g} s; not evicted: {left}",
            TOO_MANY_REQUESTS,
        )
    return {"node": result.node, "unschedulable": True, "pods": [], "evicted": detail["evicted"]}
