"""`scale`: set a pool's replica count, bounded by min/max, never below the current count
while an incident is open (scaling down is not a mitigation)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.domain.runbooks import StepPlan, TargetState
from bot.runbook.actions.contract import ApplyContext, PlanContext
from bot.runbook.errors import PlanError

NAME = "scale"
TOUCHES_TARGET = True
MAX_REPLICAS = 512


class Params(BaseModel):
    """Desired replicas for one pool, within [min_replicas, max_replicas]."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: str = Field(default="primary", min_length=1)
    replicas: int = Field(ge=0, le=MAX_REPLICAS)
    min_replicas: int = Field(default=1, ge=0, le=MAX_REPLICAS)
    max_replicas: int = Field(ge=1, le=MAX_REPLICAS)

    @model_validator(mode="after")
    def _within_bounds(self) -> Params:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas {self.min_replicas} > max_replicas {self.max_replicas}")
        if not self.min_replicas <= self.replicas <= self.max_replicas:
            raise ValueError(
                f"replicas {self.replicas} outside [{self.min_replicas}, {self.max_replicas}]"
            )
        return self


def plan(params: Params, state: TargetState, context: PlanContext) -> StepPlan:
    """Desired = the requested count; during an incident, never below the current one."""
    if params.pool not in state.replicas:
        raise PlanError(f"pool {params.pool!r} not found; target has {sorted(state.replicas)}")
    current = state.replicas[params.pool]
    desired = params.replicas
    note = f"scale {params.pool} {current} → {desired} replicas"
    if context.during_incident and desired < current:
        desired = current
        note = f"hold {params.pool} at {current} replicas (no scale-down during an incident)"
    return StepPlan(
        index=context.index,
        action=NAME,
        current={"pool": params.pool, "replicas": current},
        desired={"pool": params.pool, "replicas": desired},
        description=note,
    )


def apply(params: Params, step: StepPlan, context: ApplyContext) -> dict[str, Any]:
    replicas = int(step.desired["replicas"])
    context.target.set_replicas(context.model, params.pool, replicas)
    return {"pool": params.pool, "replicas": replicas}
