"""`rollback`: set the model's version to a previous known-good one from the target's history.

`to` is `known_good` (the target's marked known-good version), `previous` (the version
before the current one in the history), `run_start` (the version when this run began, for
reverting a rollback) or an explicit version that must appear in the history.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.runbooks import StepPlan, TargetState
from bot.runbook.actions.contract import ApplyContext, PlanContext
from bot.runbook.errors import PlanError

NAME = "rollback"
TOUCHES_TARGET = True
KNOWN_GOOD, PREVIOUS, RUN_START = "known_good", "previous", "run_start"


class Params(BaseModel):
    """Which version to return to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    to: str = Field(default=KNOWN_GOOD, min_length=1, max_length=253)


def resolve_version(to: str, state: TargetState, context: PlanContext) -> str:
    """The concrete version `to` names on this target; raises PlanError when there is none."""
    if to == KNOWN_GOOD:
        if not state.known_good:
            raise PlanError("the target has no known-good version")
        return state.known_good
    if to == PREVIOUS:
        earlier = [v for v in state.version_history if v != state.version]
        if not earlier:
            raise PlanError("the target's history has no version before the current one")
        return earlier[-1]
    if to == RUN_START:
        if context.state_at_run_start is None:
            raise PlanError("no state recorded at run start to return to")
        return context.state_at_run_start.version
    if to not in state.version_history and to != state.known_good:
        raise PlanError(f"version {to!r} is not in the target's history")
    return to


def plan(params: Params, state: TargetState, context: PlanContext) -> StepPlan:
    desired = resolve_version(params.to, state, context)
    return StepPlan(
        index=context.index,
        action=NAME,
        current={"version": state.version},
        desired={"version": desired},
        description=f"roll back {state.version} → {desired} ({params.to})",
    )


def apply(params: Params, step: StepPlan, context: ApplyContext) -> dict[str, Any]:
    version = str(step.desired["version"])
    context.target.set_version(context.model, version)
    return {"version": version}
