"""Remediation use cases: match and plan runbooks once triage has spoken, start runs, approve
or deny them, tick them forward, pause and resume every runbook, and sweep runs owed a tick.

Runs are created and moved by the RunbookExecutor; this module decides *when*: which
incidents get which runbooks (labels + triage's top hypothesis), which of them may start
unattended (triage's consent: bot/runbook/consent.py; a run it withholds waits for approval
and is approved by `triage` when a later triage agrees), what guards skip (recorded
in the audit log and on the timeline), when a run ticks again, and that a run whose
verification succeeded moves its incident to `mitigated`. One run per target at a time holds
in the run store; a lease keeps two workers from ticking one run at once. With dry_run set,
plans are written to the timeline and nothing runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from bot.domain.incidents import Incident, IncidentStatus, InvalidTransitionError
from bot.domain.remediation import TargetBusyError
from bot.domain.runbooks import Blocked, Run, RunState
from bot.domain.task_names import TaskName
from bot.domain.telemetry import GUARD_REFUSALS, UNRECORDED
from bot.domain.timeline import EventKind, TimelineEvent
from bot.ports import RunIndex, Store, TaskQueue, Telemetry, UserGroups
from bot.runbook.consent import (
    Consent,
    RankedHypothesis,
    hold_for_approval,
    ranked_hypotheses,
    triage_consent,
)
from bot.runbook.errors import PlanError
from bot.runbook.executor import RunbookExecutor
from bot.runbook.guards import Guards
from bot.runbook.loader import RunbookCatalog
from bot.runbook.matcher import match_runbooks
from bot.runbook.planner import Planner, describe
from bot.runbook.schema import Runbook
from bot.runbook.targets import TargetRegistry
from bot.services.approver_groups import approver_groups
from bot.services.change_status import change_status
from bot.services.preview_runbooks import incident_context, runbook_named
from bot.services.relay_outbox import relay_outbox

log = structlog.get_logger(__name__)

MIN_TICK_S = 0.5
IDLE_TICK_S = 1.0


@dataclass(frozen=True)
class PlanOutcome:
    """What planning did with one runbook: created, exists, skipped, unplannable, dry_run; for
    a run waiting on triage, approved (triage now agrees) or held (it still does not)."""

    runbook: str
    outcome: str
    run_id: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class TickOutcome:
    """A tick's result: the run (None when another worker holds it) and when to tick again."""

    run: Run | None
    next_in_s: float | None


def top_hypothesis(triage: dict[str, Any] | None) -> str | None:
    """Triage's best-ranked hypothesis kind, if it stored a report."""
    ranked = ranked_hypotheses(triage)
    return ranked[0].kind if ranked else None


def next_tick_in_s(run: Run, now: datetime) -> float | None:
    """Seconds until a run should tick again; None when finished or waiting on a human."""
    if run.finished or run.state is RunState.AWAITING_APPROVAL:
        return None
    if run.wake_at is None:
        return IDLE_TICK_S
    return max(MIN_TICK_S, (run.wake_at - now).total_seconds())


class Remediation:
    """The remediation use cases over one store, run index, catalogue and executor."""

    def __init__(
        self,
        store: Store,
        runs: RunIndex,
        catalog: RunbookCatalog,
        targets: TargetRegistry,
        guards: Guards,
        executor: RunbookExecutor,
        tasks: TaskQueue,
        clock: Callable[[], datetime],
        *,
        dry_run: bool = False,
        tick_lease_s: float = 60.0,
        telemetry: Telemetry = UNRECORDED,
        user_groups: UserGroups | None = None,
    ) -> None:
        self._store = store
        self._runs = runs
        self._catalog = catalog
        self._guards = guards
        self._executor = executor
        self._tasks = tasks
        self._clock = clock
        self._planner = Planner(targets, guards)
        self._dry_run = dry_run
        self._tick_lease_s = tick_lease_s
        self._telemetry = telemetry
        self._user_groups = user_groups

    # ---- planning -------------------------------------------------------------------------

    def plan_incident(self, incident_id: int) -> list[PlanOutcome]:
        """Create a run for every runbook matching the incident's labels and top hypothesis,
        and reconsider the runs that wait only because triage disagreed with them.

        A runbook that runs unattended starts only with triage's consent; without it the run
        waits for approval, saying why. Repeating it is harmless: a runbook already run for
        the incident is not run again, a skip is recorded once per runbook, and a waiting run
        is approved by triage at most once.
        """
        context = incident_context(self._store, incident_id)
        incident, ranked, facts = context.incident, context.ranked, context.facts
        if not incident.is_open:
            return []
        hypothesis = context.hypothesis
        runs = self._runs.for_incident(incident_id)
        held = [r for r in runs if r.triage_hold and r.state is RunState.AWAITING_APPROVAL]
        done = {run.runbook for run in runs}
        matches = match_runbooks(self._catalog, dict(incident.labels), hypothesis, facts)
        named = any(m.by_hypothesis and m.runbook.name not in done for m in matches)
        outcomes = [self._reconsider(run, ranked, superseded=named) for run in held]
        for found in matches:
            name = found.runbook.name
            if name in done:
                if all(r.runbook != name for r in held):
                    outcomes.append(PlanOutcome(name, "exists"))
                continue
            consent = triage_consent(found.runbook, ranked)
            outcomes.append(
                self._plan_and_create(
                    incident, found.runbook, "firebreak", once=True, consent=consent, facts=facts
                )
            )
            done.add(name)
        log.info(
            "runbooks_planned",
            incident_id=incident_id,
            hypothesis=hypothesis,
            outcomes=[f"{o.runbook}:{o.outcome}" for o in outcomes],
        )
        self._relay()
        return outcomes

    def start(self, incident_id: int, runbook_name: str, actor: str) -> PlanOutcome:
        """A person asked for one runbook on one incident (chat, CLI)."""
        runbook = runbook_named(self._catalog, runbook_name)
        context = incident_context(self._store, incident_id)
        outcome = self._plan_and_create(
            context.incident, runbook, actor, once=False, facts=context.facts
        )
        self._relay()
        return outcome

    def _plan_and_create(
        self,
        incident: Incident,
        runbook: Runbook,
        actor: str,
        *,
        once: bool,
        consent: Consent | None = None,
        facts: dict[str, str] | None = None,
    ) -> PlanOutcome:
        """Plan one runbook and create its run; `consent` None means a person asked for it;
        `facts` are what triage's evidence established (the node to drain, ...)."""
        name = runbook.name
        try:
            plan = self._planner.plan(runbook, incident.labels, evidence=facts)
        except PlanError as exc:
            self._note(incident.id, name, "runbook_unplannable", f"cannot be planned: {exc}", once)
            return PlanOutcome(name, "unplannable", reason=str(exc))
        if consent is not None:
            plan = hold_for_approval(plan, consent)
        if self._dry_run:
            lines = describe(plan)
            self._note(incident.id, name, "runbook_dry_run", "dry run: " + "; ".join(lines), once)
            return PlanOutcome(name, "dry_run", reason="\n".join(lines))
        if isinstance(plan.guard, Blocked):
            reason = plan.guard.reason
            self._telemetry.count(GUARD_REFUSALS, {"guard": plan.guard.guard, "runbook": name})
            self._note(
                incident.id, name, "run_skipped_by_guard", f"skipped by guard: {reason}", once
            )
            return PlanOutcome(name, "skipped", reason=reason)
        try:
            run = self._executor.create(plan, incident.id, requested_by=actor)
        except TargetBusyError as exc:
            self._telemetry.count(GUARD_REFUSALS, {"guard": "lock", "runbook": name})
            self._note(incident.id, name, "run_skipped_by_guard", f"skipped by guard: {exc}", once)
            return PlanOutcome(name, "skipped", reason=str(exc))
        assert run.id is not None
        if not run.finished and run.state is not RunState.AWAITING_APPROVAL:
            with self._store.transaction() as tx:
                tx.outbox.add(TaskName.TICK_RUN, [run.id])
        return PlanOutcome(name, "created", run.id, run.state.value)

    def _reconsider(
        self, waiting: Run, ranked: list[RankedHypothesis] | None, *, superseded: bool
    ) -> PlanOutcome:
        """A run waiting only on triage, after a new triage: approved by `triage` (once, claimed
        in the ledger) when it now agrees; withdrawn when triage names a cause another runbook
        answers (the waiting run would hold the target it needs); else still waiting with the
        reason brought up to date. A runbook now requiring approval, or gone, leaves the run to
        a human."""
        run_id, name, incident_id = waiting.id, waiting.runbook, waiting.incident_id
        assert run_id is not None
        runbook = self._catalog.get(name)
        consent = None if runbook is None else triage_consent(runbook, ranked)
        if consent is not None and consent.withheld and superseded:
            run = self._executor.withdraw(run_id, f"withdrawn: {consent.reason}")
            return PlanOutcome(name, run.state.value, run_id, run.reason)
        if consent is not None and consent.withheld:
            run = self._executor.rehold(run_id, consent.reason)
            return PlanOutcome(name, "held", run_id, run.reason)
        if consent is None or not consent.unattended:
            return PlanOutcome(name, "held", run_id, waiting.reason)
        step = f"runbooks:triage_approved:{run_id}"
        with self._store.transaction() as tx:
            if not tx.ledger.claim(incident_id, step):
                return PlanOutcome(name, "exists", run_id)
        run = self._executor.approve_for_triage(run_id, consent.reason)
        with self._store.transaction() as tx:
            tx.ledger.complete(incident_id, step, {"state": run.state.value})
            if run.state is RunState.APPROVED:
                tx.outbox.add(TaskName.TICK_RUN, [run_id])
        log.info(
            "runbook_reconsidered", run_id=run_id, state=run.state.value, reason=consent.reason
        )
        approved = run.state is RunState.APPROVED
        return PlanOutcome(name, "approved" if approved else run.state.value, run_id, run.reason)

    def _note(self, incident_id: int, runbook: str, action: str, text: str, once: bool) -> None:
        """A planning decision in the audit log and on the timeline (once per runbook if asked)."""
        with self._store.transaction() as tx:
            if once and not tx.ledger.claim(incident_id, f"runbooks:{action}:{runbook}"):
                return
            tx.audit.record("firebreak", action, incident_id, {"runbook": runbook, "note": text})
            tx.timeline.append(
                TimelineEvent(
                    incident_id,
                    self._clock(),
                    EventKind.RUNBOOK,
                    f"Runbook {runbook}: {text}",
                    {"runbook": runbook, "event": action},
                )
            )
            tx.outbox.add(TaskName.PROCESS_INCIDENT, [incident_id])
        log.info("runbook_plan_noted", incident_id=incident_id, runbook=runbook, action=action)

    # ---- decisions ------------------------------------------------------------------------

    def approve(self, run_id: int, actor: str, groups: tuple[str, ...] = ()) -> Run:
        """Approve a run awaiting approval and tick it; raises ApprovalRefusedError. The run's
        approvers may name user groups: the actor's membership is asked of the chat."""
        groups += approver_groups(self._runs, self._user_groups, run_id, actor)
        run = self._executor.approve(run_id, actor, groups)
        if run.state is RunState.APPROVED:
            with self._store.transaction() as tx:
                tx.outbox.add(TaskName.TICK_RUN, [run_id])
        self._relay()
        return run

    def deny(self, run_id: int, actor: str, groups: tuple[str, ...] = (), reason: str = "") -> Run:
        groups += approver_groups(self._runs, self._user_groups, run_id, actor)
        run = self._executor.deny(run_id, actor, groups, reason)
        self._relay()
        return run

    def pause(self, actor: str) -> None:
        """Hold every runbook: none starts, running ones stop before their next target step."""
        self._guards.pause()
        with self._store.transaction() as tx:
            tx.audit.record(actor, "runbooks_paused", None, {})

    def resume(self, actor: str) -> None:
        self._guards.resume()
        with self._store.transaction() as tx:
            tx.audit.record(actor, "runbooks_resumed", None, {})

    # ---- progress -------------------------------------------------------------------------

    def tick(self, run_id: int, holder: str) -> TickOutcome:
        """Move a run as far as it can go now, under a lease only one worker holds."""
        now = self._clock()
        lease = self._runs.lease_tick(run_id, holder, now, self._tick_lease_s)
        if not lease.granted:
            held_until = lease.held_until or now + timedelta(seconds=self._tick_lease_s)
            log.info("runbook_tick_deferred", run_id=run_id, held_until=held_until.isoformat())
            return TickOutcome(None, max(MIN_TICK_S, (held_until - now).total_seconds()))
        try:
            run = self._executor.tick(run_id)
        finally:
            self._runs.release_tick(run_id, holder)
        if run.state is RunState.SUCCEEDED:
            self._mitigate(run)
        self._relay()
        return TickOutcome(run, next_tick_in_s(run, self._clock()))

    def _mitigate(self, run: Run) -> None:
        """A verified run mitigates its incident, once; a resolved incident stays resolved."""
        step = f"runbooks:mitigated:{run.id}"
        with self._store.transaction() as tx:
            if tx.ledger.state(run.incident_id, step) == "completed":
                return
            incident = tx.incidents.get(run.incident_id)
        actor = f"runbook:{run.runbook}"
        if incident is not None and incident.status in (
            IncidentStatus.TRIGGERED,
            IncidentStatus.ACKNOWLEDGED,
        ):
            try:
                change_status(
                    self._store, run.incident_id, IncidentStatus.MITIGATED, actor, self._clock()
                )
            except InvalidTransitionError as exc:
                log.warning("incident_not_mitigated", run_id=run.id, reason=str(exc))
        with self._store.transaction() as tx:
            tx.ledger.claim(run.incident_id, step)
            tx.ledger.complete(run.incident_id, step, {"run_id": run.id})
        log.info("incident_mitigated_by_runbook", run_id=run.id, incident_id=run.incident_id)

    def sweep(self, stale_after_s: float | None = None) -> list[int]:
        """Tick runs owed one: approval deadlines passed, wake-ups missed (a worker died)."""
        now = self._clock()
        stale = now - timedelta(seconds=stale_after_s or self._tick_lease_s)
        due = self._runs.due(now, stale)
        for run_id in due:
            self._tasks.enqueue(TaskName.TICK_RUN, [run_id])
        if due:
            log.info("runbook_runs_swept", run_ids=due)
        return due

    def _relay(self) -> None:
        relay_outbox(self._store, self._tasks)
