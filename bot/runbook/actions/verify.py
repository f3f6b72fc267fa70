"""`verify`: a verification in the middle of a runbook, analysed like the final one
(measurements every interval, failure and inconclusive limits). The executor drives it."""

from __future__ import annotations

from typing import Any

from bot.domain.runbooks import StepPlan, TargetState
from bot.runbook.actions.contract import ApplyContext, PlanContext
from bot.runbook.analysis import VerifySpec

NAME = "verify"
TOUCHES_TARGET = False
Params = VerifySpec


def plan(params: VerifySpec, state: TargetState, context: PlanContext) -> StepPlan:
    return StepPlan(
        index=context.index,
        action=NAME,
        current={},
        desired={"query": params.query, "success_condition": params.success_condition},
        description=(
            f"verify {params.query} {params.success_condition}: {params.count} measurements "
            f"every {params.interval_s:g} s (failures ≤ {params.failure_limit}, "
            f"inconclusive ≤ {params.inconclusive_limit})"
        ),
    )


def apply(params: VerifySpec, step: StepPlan, context: ApplyContext) -> dict[str, Any]:
    """Measurements are taken by the executor's analysis loop, one per tick."""
    return {"analysis": "driven by executor"}
