"""Dry-run planning: render a runbook for an incident's labels and parameters, read the
target's state, and show each step as current → desired, with approval and guard state.
`Planner.prepare` renders alone, reading no target (replay plans that way). Nothing acts here;
the executor turns a Plan into a Run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bot.domain.runbooks import Plan, RunStep, StepPlan, TargetState
from bot.runbook.actions.contract import PlanContext
from bot.runbook.actions.registry import action_named
from bot.runbook.errors import PlanError, TemplateError
from bot.runbook.guards import GuardPolicy, Guards
from bot.runbook.matcher import match_runbooks
from bot.runbook.observe import observe
from bot.runbook.schema import Runbook, Step
from bot.runbook.targets import BoundTarget, TargetRegistry
from bot.runbook.template import render


def project(state: TargetState, step: StepPlan) -> TargetState:
    """The target's state once a step's desired values hold (for planning the next step)."""
    desired = step.desired
    if "node" in desired and "unschedulable" in desired:
        node = state.nodes.get(str(desired["node"]))
        if node is None:
            return state
        cordoned = bool(desired["unschedulable"])
        moved = node.model_copy(
            update={
                "unschedulable": cordoned,
                "cordoned_by_firebreak": cordoned
                and (node.cordoned_by_firebreak or step.changes_target),
                "pods": tuple(desired.get("pods", node.pods)),
            }
        )
        return state.model_copy(update={"nodes": {**state.nodes, moved.name: moved}})
    if "restarted_at" in desired and "pool" in desired:
        restarted = {**state.restarted_at, str(desired["pool"]): str(desired["restarted_at"])}
        return state.model_copy(update={"restarted_at": restarted})
    if "replicas" in desired and "pool" in desired:
        replicas = {**state.replicas, str(desired["pool"]): int(desired["replicas"])}
        return state.model_copy(update={"replicas": replicas})
    if "weights" in desired:
        return state.model_copy(update={"traffic_weights": dict(desired["weights"])})
    if "version" in desired:
        return state.model_copy(update={"version": str(desired["version"])})
    return state


def plan_steps(
    steps: Iterable[RunStep], state: TargetState, start: TargetState | None = None
) -> tuple[list[StepPlan], TargetState]:
    """Plan rendered steps one after another, each against the state the previous leaves."""
    plans: list[StepPlan] = []
    for index, step in enumerate(steps):
        action = action_named(step.action)
        if action is None:
            raise PlanError(f"unknown action {step.action!r}")
        try:
            params = action.Params.model_validate(step.params)
        except ValidationError as exc:
            raise PlanError(f"step {index + 1} ({step.action}): {exc.errors()[0]['msg']}") from exc
        context = PlanContext(index=index, state_at_run_start=start)
        plans.append(action.plan(params, state, context))
        state = project(state, plans[-1])
    return plans, state


def render_steps(
    steps: Iterable[Step],
    labels: Mapping[str, str],
    params: Mapping[str, Any],
    evidence: Mapping[str, str] | None = None,
) -> list[RunStep]:
    """Fill each step's templates from the incident's labels, the run's parameters and the
    facts triage's evidence established."""
    return [
        RunStep(
            action=s.action,
            params=render(s.params, labels, params, evidence),
            timeout_s=s.timeout_s,
            on_failure=s.on_failure,
        )
        for s in steps
    ]


@dataclass(frozen=True)
class PreparedRunbook:
    """A runbook rendered for one incident before any target is read: the target it names,
    its parameters, its steps, revert and verification filled in, and its guard limits."""

    runbook: Runbook
    target: str
    bound: BoundTarget
    parameters: dict[str, Any]
    steps: list[RunStep]
    revert: list[RunStep]
    verify: dict[str, Any] | None
    policy: GuardPolicy


class Planner:
    """Builds dry-run Plans from runbooks, configured targets and the guards' current state."""

    def __init__(self, targets: TargetRegistry, guards: Guards) -> None:
        self._targets = targets
        self._guards = guards

    def prepare(
        self,
        runbook: Runbook,
        labels: Mapping[str, str],
        overrides: Mapping[str, Any] | None = None,
        evidence: Mapping[str, str] | None = None,
    ) -> PreparedRunbook:
        """Render one runbook for one incident, reading no target; raises PlanError when a
        parameter is unknown, a template cannot be filled or the target is not configured."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(runbook.parameters))
        if unknown:
            raise PlanError(
                f"unknown parameters {unknown}; runbook has {sorted(runbook.parameters)}"
            )
        params = {**runbook.defaults(), **overrides}
        try:
            target_name = str(render(runbook.target, labels, {}))
            steps = render_steps(runbook.steps, labels, params, evidence)
            revert = render_steps(runbook.revert, labels, params, evidence)
            verify = (
                None
                if runbook.verify is None
                else render(runbook.verify.model_dump(), labels, params, evidence)
            )
        except TemplateError as exc:
            raise PlanError(f"runbook {runbook.name}: {exc}") from exc
        bound = self._targets.get(target_name)
        if bound is None:
            raise PlanError(f"no target named {target_name!r}; configured: {self._targets.names()}")
        policy = GuardPolicy(runbook.guards.cooldown_s, runbook.guards.max_runs_per_hour)
        return PreparedRunbook(runbook, target_name, bound, params, steps, revert, verify, policy)

    def plan(
        self,
        runbook: Runbook,
        labels: Mapping[str, str],
        overrides: Mapping[str, Any] | None = None,
        evidence: Mapping[str, str] | None = None,
    ) -> Plan:
        """One runbook for one incident; raises PlanError when it cannot be planned."""
        prepared = self.prepare(runbook, labels, overrides, evidence)
        bound, steps, revert = prepared.bound, prepared.steps, prepared.revert
        state = observe(bound, bound.target.get_state(bound.model), [*steps, *revert])
        step_plans, end_state = plan_steps(steps, state, start=state)
        warnings: list[str] = []
        try:
            revert_plans, _ = plan_steps(revert, end_state, start=state)
        except PlanError as exc:
            revert_plans, warnings = [], [f"revert cannot be planned now: {exc}"]
        policy = prepared.policy
        return Plan(
            runbook=runbook.name,
            description=runbook.description,
            target=prepared.target,
            model=bound.model,
            parameters=prepared.parameters,
            steps=step_plans,
            revert_steps=revert_plans,
            approval_required=runbook.approval.required,
            approvers=tuple(runbook.approval.approvers),
            guard=self._guards.check(prepared.target, policy),
            verify=prepared.verify,
            warnings=warnings,
            labels=dict(labels),
            run_steps=steps,
            run_revert_steps=revert,
            approval_timeout_s=runbook.approval.timeout_s,
            cooldown_s=policy.cooldown_s,
            max_runs_per_hour=policy.max_runs_per_hour,
            on_inconclusive_revert=(
                runbook.verify is not None and runbook.verify.on_inconclusive == "revert"
            ),
        )

    def plans_for(
        self,
        runbooks: Iterable[Runbook],
        labels: Mapping[str, str],
        hypothesis: str | None = None,
        evidence: Mapping[str, str] | None = None,
    ) -> list[Plan | PlanError]:
        """A plan (or why none) for every runbook that matches the incident, best first."""
        results: list[Plan | PlanError] = []
        facts = dict(evidence or {})
        for found in match_runbooks(runbooks, dict(labels), hypothesis, facts):
            try:
                results.append(self.plan(found.runbook, labels, evidence=facts))
            except PlanError as exc:
                results.append(exc)
        return results


def describe(plan: Plan) -> list[str]:
    """A plan as lines of text for a CLI or a chat message."""
    approval = "approval required" if plan.approval_required else "runs unattended"
    if plan.triage_hold:
        approval = f"approval required ({plan.triage_hold})"
    guard = (
        "guards allow" if plan.guard.allowed else f"blocked: {getattr(plan.guard, 'reason', '')}"
    )
    lines = [f"{plan.runbook} → {plan.target} ({plan.model}); {approval}; {guard}"]
    lines += [f"  {p.index + 1}. {p.description}" for p in plan.steps]
    if plan.verify:
        lines.append(f"  verify: {plan.verify['query']} {plan.verify['success_condition']}")
    lines += [f"  revert {p.index + 1}. {p.description}" for p in plan.revert_steps]
    lines += [f"  ! {w}" for w in plan.warnings]
    return lines
