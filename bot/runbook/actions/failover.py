"""`failover`: shift traffic weight to another pool / region. The named pool gets `percent`;
the others share the rest in their current proportions, so a repeat plans the same weights."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.runbooks import StepPlan, TargetState
from bot.runbook.actions.contract import ApplyContext, PlanContext
from bot.runbook.errors import PlanError

NAME = "failover"
TOUCHES_TARGET = True
TOTAL_WEIGHT = 100


class Params(BaseModel):
    """Send `percent` of the traffic to `to_pool`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    to_pool: str = Field(min_length=1)
    percent: int = Field(default=100, ge=1, le=TOTAL_WEIGHT)
    require_replicas: bool = True


def shifted_weights(current: dict[str, int], to_pool: str, percent: int) -> dict[str, int]:
    """Weights summing to 100 with `to_pool` at `percent`, the rest split by current share."""
    others = {pool: max(w, 0) for pool, w in current.items() if pool != to_pool}
    if not others:
        return {to_pool: TOTAL_WEIGHT}
    rest = TOTAL_WEIGHT - percent
    total = sum(others.values())
    shares = {p: (w / total if total else 1 / len(others)) for p, w in others.items()}
    floors = {p: int(rest * s) for p, s in shares.items()}
    leftover = rest - sum(floors.values())
    by_remainder = sorted(others, key=lambda p: (-(rest * shares[p] - floors[p]), p))
    for pool in by_remainder[:leftover]:
        floors[pool] += 1
    return {to_pool: percent, **floors}


def plan(params: Params, state: TargetState, context: PlanContext) -> StepPlan:
    """Refuses to send traffic to a pool the target does not know, or one with no replicas."""
    pools = set(state.traffic_weights) | set(state.replicas)
    if params.to_pool not in pools:
        raise PlanError(f"pool {params.to_pool!r} not found; target has {sorted(pools)}")
    if params.require_replicas and state.replicas.get(params.to_pool, 1) <= 0:
        raise PlanError(f"pool {params.to_pool!r} has no replicas to take traffic")
    current = {pool: state.traffic_weights.get(pool, 0) for pool in sorted(pools)}
    desired = shifted_weights(current, params.to_pool, params.percent)
    desired = {pool: desired.get(pool, 0) for pool in sorted(pools)}
    shown = ", ".join(f"{p} {current[p]}→{desired[p]}%" for p in sorted(pools))
    return StepPlan(
        index=context.index,
        action=NAME,
        current={"weights": current},
        desired={"weights": desired},
        description=f"shift traffic to {params.to_pool}: {shown}",
    )


def apply(params: Params, step: StepPlan, context: ApplyContext) -> dict[str, Any]:
    weights = {str(p): int(w) for p, w in step.desired["weights"].items()}
    context.target.set_traffic(context.model, weights)
    return {"weights": weights}
