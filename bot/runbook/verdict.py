"""What runbook planning after triage would have decided for an incident, without acting and
without reading a target: replay's view of bot/services/remediate.py's `plan_incident`.

Every runbook that matches (bot/runbook/matcher.py, best first) is rendered by the planner
(`Planner.prepare`: templates, parameters, the target's name) and judged as planning would:

    the runbook cannot be rendered        → unplannable (a template, an unknown target)
    approval required, by the runbook or
      because triage does not agree       → awaiting_approval (bot/runbook/consent.py)
    a guard blocks it                     → blocked_by_guard (pause, cooldown, hourly limit)
    otherwise                             → would_run: admitted by the guards, so the runs of
                                            later incidents see its cooldown and hourly count

and no runbook at all is `no_match`. The guards' clock is the caller's: replay sets it to each
incident's time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.domain.runbooks import Blocked, RunStep
from bot.runbook.consent import RankedHypothesis, triage_consent
from bot.runbook.errors import PlanError
from bot.runbook.guards import Guards
from bot.runbook.matcher import match_runbooks
from bot.runbook.planner import Planner
from bot.runbook.schema import Runbook

LOCK_TTL_S = 1.0
_QUIET_PARAMS = {"text", "message", "tags"}


class Decision(StrEnum):
    WOULD_RUN = "would_run"
    AWAITING_APPROVAL = "awaiting_approval"
    BLOCKED_BY_GUARD = "blocked_by_guard"
    UNPLANNABLE = "unplannable"
    NO_MATCH = "no_match"


@dataclass(frozen=True)
class RunbookVerdict:
    """One runbook's fate for one incident (or, for `no_match`, why none applied)."""

    decision: Decision
    runbook: str = ""
    target: str = ""
    reason: str = ""
    steps: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision.value,
            "runbook": self.runbook,
            "target": self.target,
            "reason": self.reason,
            "steps": list(self.steps),
        }


def step_text(step: RunStep) -> str:
    """A rendered step in one line: `scale pool=primary, replicas=8, max_replicas=10`."""
    params = ", ".join(f"{k}={v}" for k, v in step.params.items() if k not in _QUIET_PARAMS)
    return f"{step.action} {params}".strip()


def decide_runbooks(
    runbooks: Iterable[Runbook],
    planner: Planner,
    guards: Guards,
    labels: Mapping[str, str],
    ranked: Sequence[RankedHypothesis] | None,
    facts: Mapping[str, str],
) -> list[RunbookVerdict]:
    """Every matching runbook's verdict, best first; one `no_match` verdict when none match."""
    hypothesis = ranked[0].kind if ranked else None
    matches = match_runbooks(runbooks, dict(labels), hypothesis, dict(facts))
    if not matches:
        said = f"top hypothesis {hypothesis}" if hypothesis else "no hypothesis"
        reason = f"no runbook matches the alert labels or {said}"
        return [RunbookVerdict(Decision.NO_MATCH, reason=reason)]
    return [_verdict(m.runbook, planner, guards, labels, ranked, facts) for m in matches]


def _verdict(
    runbook: Runbook,
    planner: Planner,
    guards: Guards,
    labels: Mapping[str, str],
    ranked: Sequence[RankedHypothesis] | None,
    facts: Mapping[str, str],
) -> RunbookVerdict:
    name = runbook.name
    try:
        prepared = planner.prepare(runbook, labels, evidence=facts)
    except PlanError as exc:
        return RunbookVerdict(Decision.UNPLANNABLE, name, reason=f"cannot be planned: {exc}")
    steps = tuple(step_text(s) for s in prepared.steps)
    target = prepared.target
    consent = triage_consent(runbook, None if ranked is None else list(ranked))
    if not consent.unattended:
        return RunbookVerdict(Decision.AWAITING_APPROVAL, name, target, consent.reason, steps)
    decision = guards.admit(target, prepared.policy, LOCK_TTL_S)
    if isinstance(decision, Blocked):
        return RunbookVerdict(Decision.BLOCKED_BY_GUARD, name, target, decision.reason, steps)
    if decision.lock_token:
        guards.release(target, decision.lock_token)
    return RunbookVerdict(Decision.WOULD_RUN, name, target, consent.reason, steps)
