"""StoreRunJournal: where a runbook run's decisions go. Every event lands in the audit log;
what an on-call human follows (state moves, steps, measurements, guard skips, messages) also
lands on the incident's timeline as a `runbook` event, and changes that chat should show
queue `firebreak.incidents.process` through the outbox in the same transaction. A rollback
step that acted is recorded as a change by Firebreak (bot/services/record_change.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.domain.runbooks import Run
from bot.domain.task_names import TaskName
from bot.domain.timeline import EventKind, TimelineEvent
from bot.ports import Store, UnitOfWork
from bot.services.record_change import record_rollback

GUARD_PREFIX = "blocked: "
_QUIET = {"run_awaiting_approval", "run_held_paused", "verify_step_successful"}
_NOTIFY_EVENTS = {"step_completed", "step_failed", "approval_refused", "annotated"}


def run_ref(run: Run) -> str:
    return f"RUN-{run.id}"


def _compact(values: Any) -> str:
    if isinstance(values, dict):
        return ", ".join(f"{k}={_compact(v)}" for k, v in values.items())
    return str(values)


def timeline_message(run: Run, event: str, detail: dict[str, Any]) -> str | None:
    """The sentence a run event puts on the timeline; None for audit-only events."""
    head = f"{run_ref(run)} {run.runbook} on {run.target}"
    reason = str(detail.get("reason") or "")
    by = str(detail.get("by") or "")
    if event in _QUIET:
        return None
    if event == "run_created":
        return f"{head}: planned (requested by {by or run.requested_by})"
    if event == "run_hold_updated":
        return f"{head}: still awaits approval ({reason})"
    if event == "run_failed" and reason.startswith(GUARD_PREFIX):
        return f"{head}: skipped by guard: {reason.removeprefix(GUARD_PREFIX)}"
    if event.startswith("run_"):
        state = event.removeprefix("run_").replace("_", " ")
        suffix = f" by {by}" if by and by != "policy" else ""
        return f"{head}: {state}{suffix}" + (f" ({reason})" if reason else "")
    if event == "step_completed":
        step, action = detail.get("step", ""), detail.get("action", "")
        if detail.get("dry_run"):
            return (
                f"{head}: step {step} {action} (dry run, would set {_compact(detail['desired'])})"
            )
        if "unchanged" in detail:
            return f"{head}: step {step} {action}: {detail['unchanged']}"
        if "desired" in detail and "current" in detail:
            change = f"{_compact(detail['current'])} → {_compact(detail['desired'])}"
            return f"{head}: step {step} {action} done: {change}"
        return f"{head}: step {step} {action} done"
    if event == "step_failed":
        return f"{head}: step {detail.get('step', '')} failed: {detail.get('error', '')}"
    if event == "step_failure_ignored":
        return f"{head}: step failure ignored: {reason}"
    if event == "verify_measured":
        value = detail.get("value")
        shown = "no data" if value is None else f"{float(value):.4g}"
        return f"{head}: verification measured {shown} → {detail.get('outcome', '')}"
    if event == "approval_refused":
        return f"{head}: approval by {by} refused (not an approver)"
    if event == "annotated":
        return f"{head}: {detail.get('text', '')}"
    return None


def audit_action(event: str, detail: dict[str, Any]) -> str:
    """The audit log's action name: the event, with guard refusals named as such."""
    if event == "run_failed" and str(detail.get("reason", "")).startswith(GUARD_PREFIX):
        return "run_skipped_by_guard"
    return event


class StoreRunJournal:
    """The RunJournal port on the incident store (audit log, timeline, outbox)."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    def record(self, run: Run, event: str, detail: dict[str, Any]) -> None:
        actor = str(detail.get("by") or "") or (
            run.requested_by if event == "run_created" else "firebreak"
        )
        if actor == "policy":
            actor = "firebreak"
        message = timeline_message(run, event, detail)
        context = {"run_id": run.id, "runbook": run.runbook, "target": run.target}
        with self._store.transaction() as tx:
            tx.audit.record(actor, audit_action(event, detail), run.incident_id, context | detail)
            if message is not None:
                data = context | {"event": event, "state": run.state.value}
                self._append(tx, run, message, data, actor)
            if message is not None and (event.startswith("run_") or event in _NOTIFY_EVENTS):
                tx.outbox.add(TaskName.PROCESS_INCIDENT, [run.incident_id])
            acted = "version" in detail  # not a dry run, nor a version already in place
            if event == "step_completed" and detail.get("action") == "rollback" and acted:
                record_rollback(tx, run, str(detail["version"]), self._clock())

    def announce(self, run: Run, text: str) -> None:
        data = {"run_id": run.id, "runbook": run.runbook, "event": "announced"}
        with self._store.transaction() as tx:
            self._append(tx, run, f"{run_ref(run)}: {text}", data, "firebreak")
            tx.outbox.add(TaskName.PROCESS_INCIDENT, [run.incident_id])

    def _append(
        self, tx: UnitOfWork, run: Run, message: str, data: dict[str, Any], actor: str
    ) -> None:
        tx.timeline.append(
            TimelineEvent(run.incident_id, self._clock(), EventKind.RUNBOOK, message, data, actor)
        )
