"""`restart`: a rollout restart of a pool's Deployment, as `kubectl rollout restart` does, by
stamping the pod template's `kubectl.kubernetes.io/restartedAt` annotation. The stamp is the
run's start, so a repeat of the same run's step finds it set and restarts nothing twice."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.runbooks import StepPlan, TargetState
from bot.runbook.actions.contract import ApplyContext, PlanContext
from bot.runbook.actions.nodes import cluster_of
from bot.runbook.errors import PlanError

NAME = "restart"
TOUCHES_TARGET = True
AT_RUN_START = "at run start"


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: str = Field(default="primary", min_length=1)


def plan(params: Params, state: TargetState, context: PlanContext) -> StepPlan:
    if params.pool not in state.replicas:
        raise PlanError(f"pool {params.pool!r} not found; target has {sorted(state.replicas)}")
    stamp = (
        context.run_started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if context.run_started_at is not None
        else AT_RUN_START
    )
    current = state.restarted_at.get(params.pool, "")
    return StepPlan(
        index=context.index,
        action=NAME,
        current={"pool": params.pool, "restarted_at": current},
        desired={"pool": params.pool, "restarted_at": stamp},
        description=f"rollout restart of {params.pool} (restartedAt {stamp})",
    )


def apply(params: Params, step: StepPlan, context: ApplyContext) -> dict[str, Any]:
    stamp = str(step.desired["restarted_at"])
    if stamp == AT_RUN_START:
        raise PlanError("a restart needs the run's start time")
    cluster_of(context).restart(context.model, params.pool, stamp)
    return {"pool": params.pool, "restarted_at": stamp}
