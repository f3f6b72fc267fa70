"""The postmortem's runbook runs: each run's outcome, how long its approval waited, and every
step (forward, revert, the final verification) with the start and end the run recorded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.postmortem.document import StepPhase
from bot.postmortem.model import RunbookRun, StepRow
from bot.summary.dossier import IncidentDossier, step_duration_s
from bot.summary.durations import parse_time


def runbook_runs(dossier: IncidentDossier) -> tuple[RunbookRun, ...]:
    """The dossier's runs (`run_story` dicts) as postmortem rows, in the order they were made."""
    return tuple(_run(run) for run in dossier.runbook_runs)


def _run(run: Mapping[str, Any]) -> RunbookRun:
    steps = [_step("step", s) for s in _entries(run.get("steps"))]
    steps += [_step("revert", s) for s in _entries(run.get("revert_steps"))]
    verification = run.get("verification")
    if isinstance(verification, Mapping):
        steps.append(_step("verify", {"action": "verify", **verification}))
    approval = run.get("approval")
    waited_s = approval.get("waited_s") if isinstance(approval, Mapping) else None
    verified = run.get("verified")
    return RunbookRun(
        ref=str(run.get("ref", "")),
        runbook=str(run.get("runbook", "?")),
        target=str(run.get("target", "")),
        status=str(run.get("status", "unknown")),
        verified=verified if isinstance(verified, bool) else None,
        approval_wait_s=float(waited_s) if isinstance(waited_s, int | float) else None,
        steps=tuple(steps),
    )


def _entries(value: object) -> list[Mapping[str, Any]]:
    return [s for s in value if isinstance(s, Mapping)] if isinstance(value, list) else []


def _step(phase: StepPhase, step: Mapping[str, Any]) -> StepRow:
    return StepRow(
        phase=phase,
        action=str(step.get("action", "?")),
        status=str(step.get("status", "?")),
        started_at=parse_time(step.get("started_at") or step.get("at")),
        finished_at=parse_time(step.get("finished_at")),
        duration_s=step_duration_s(step),
    )
