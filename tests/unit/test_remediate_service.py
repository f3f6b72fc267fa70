"""The remediation use cases on a real SQLite incident store with in-memory runs, targets,
guards and metrics: planning after triage, approval, ticking to a verified mitigation,
guard skips recorded, one run per target, dry run, pause, revert and approval timeouts, and
triage's consent: an unattended runbook triage contradicts waits, and a later triage that
agrees approves it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.sql_store import SqlStore
from bot.domain.alerts import Severity
from bot.domain.incidents import Incident, IncidentStatus
from bot.domain.runbooks import Run, RunState
from bot.domain.task_names import TaskName
from bot.domain.timeline import EventKind
from bot.runbook.errors import ApprovalRefusedError
from bot.runbook.executor import RunbookExecutor
from bot.runbook.guards import Guards
from bot.runbook.loader import RunbookCatalog, load_directory
from bot.runbook.planner import Planner
from bot.runbook.targets import BoundTarget, TargetRegistry
from bot.services.preview_runbooks import RunbookPreviews
from bot.services.remediate import Remediation
from bot.services.run_journal import StoreRunJournal
from bot.services.run_views import card_state
from tests.fakes.remediation import FakeRunIndex, RecordingTaskQueue, drive
from tests.fakes.runbooks import FakeClock, FakeGuardStore, FakeTarget, FakeVerifyMetrics

RUNBOOKS = load_directory(Path(__file__).resolve().parents[2] / "runbooks")
MODEL = "llama-3-70b-instruct"
SATURATION = {"alertname": "LLMKVCacheSaturated", "model_name": MODEL}
DRIFT = {"alertname": "LLMModelDrift", "model_name": MODEL}


@dataclass
class Rig:
    store: SqlStore
    clock: FakeClock
    runs: FakeRunIndex
    target: FakeTarget
    guards: FakeGuardStore
    metrics: FakeVerifyMetrics
    tasks: RecordingTaskQueue
    dry_run: bool = False
    catalog: RunbookCatalog = RUNBOOKS

    @property
    def remediation(self) -> Remediation:
        registry = TargetRegistry([BoundTarget(MODEL, MODEL, self.target)])
        guards = Guards(self.guards, self.clock)
        journal = StoreRunJournal(self.store, self.clock)
        executor = RunbookExecutor(
            self.runs, registry, guards, self.metrics, journal, self.clock, self.dry_run
        )
        return Remediation(
            self.store,
            self.runs,
            self.catalog,
            registry,
            guards,
            executor,
            self.tasks,
            self.clock,
            dry_run=self.dry_run,
        )

    @property
    def previews(self) -> RunbookPreviews:
        registry = TargetRegistry([BoundTarget(MODEL, MODEL, self.target)])
        planner = Planner(registry, Guards(self.guards, self.clock))
        return RunbookPreviews(self.store, self.runs, self.catalog, planner)

    def incident(self, labels: dict[str, str], hypothesis: str | None = None) -> int:
        with self.store.transaction() as tx:
            incident = tx.incidents.add(
                Incident(
                    id=0,
                    receiver="firebreak",
                    group_key=f"group-{len(tx.incidents.list()) + 1}",
                    title=labels["alertname"],
                    severity=Severity.CRITICAL,
                    status=IncidentStatus.TRIGGERED,
                    triggered_at=self.clock(),
                    labels=labels,
                )
            )
            if hypothesis:
                report = {"hypotheses": [{"kind": hypothesis, "confidence": 0.9}]}
                tx.triages.save(incident.id, report)
        return incident.id

    def triage(self, incident_id: int, *ranked: tuple[str, float]) -> None:
        """Store a triage report ranking these (kind, confidence) pairs, best first."""
        report = {"hypotheses": [{"kind": k, "confidence": c} for k, c in ranked]}
        with self.store.transaction() as tx:
            tx.triages.save(incident_id, report)

    def drive(self, run_id: int, max_ticks: int = 200) -> Run:
        return drive(self.remediation, self.clock, run_id, max_ticks)

    def timeline(self, incident_id: int) -> list[str]:
        with self.store.transaction() as tx:
            events = tx.timeline.for_incident(incident_id)
        return [e.message for e in events if e.kind is EventKind.RUNBOOK]

    def audit(self, incident_id: int) -> list[str]:
        with self.store.transaction() as tx:
            return [row["action"] for row in tx.audit.for_incident(incident_id)]

    def audit_rows(self, incident_id: int, action: str) -> list[dict[str, Any]]:
        with self.store.transaction() as tx:
            rows = tx.audit.for_incident(incident_id)
        return [row for row in rows if row["action"] == action]

    def status(self, incident_id: int) -> IncidentStatus:
        with self.store.transaction() as tx:
            incident = tx.incidents.get(incident_id)
        assert incident is not None
        return incident.status


@pytest.fixture
def rig(sqlite_store: SqlStore) -> Rig:
    return Rig(
        sqlite_store,
        FakeClock(),
        FakeRunIndex(),
        FakeTarget(),
        FakeGuardStore(),
        FakeVerifyMetrics([1.2]),
        RecordingTaskQueue(),
    )


def only_run(rig: Rig, incident_id: int) -> Run:
    runs = rig.runs.for_incident(incident_id)
    assert len(runs) == 1
    return runs[0]


def test_saturation_scales_out_unattended_and_mitigates(rig: Rig) -> None:
    """A saturation incident gets a scale-out run that acts, verifies and mitigates."""
    incident_id = rig.incident(SATURATION, "capacity_saturation")
    outcomes = rig.remediation.plan_incident(incident_id)
    assert [(o.runbook, o.outcome) for o in outcomes] == [("scale-out", "created")]
    run_id = outcomes[0].run_id
    assert rig.tasks.named(TaskName.TICK_RUN) == [[run_id]]
    run = rig.drive(run_id or 0)
    assert run.state is RunState.SUCCEEDED
    assert rig.target.calls == [("set_replicas", ("primary", 8))]
    assert rig.status(incident_id) is IncidentStatus.MITIGATED
    messages = rig.timeline(incident_id)
    assert any("step forward:1 scale done" in m for m in messages)
    assert any("succeeded" in m for m in messages)
    assert {"run_created", "run_approved", "step_completed", "incident_mitigated"} <= set(
        rig.audit(incident_id)
    )


def test_planning_again_creates_no_second_run(rig: Rig) -> None:
    """A redelivered plan task finds the runbook already run for the incident."""
    incident_id = rig.incident(SATURATION, "capacity_saturation")
    rig.remediation.plan_incident(incident_id)
    again = rig.remediation.plan_incident(incident_id)
    assert [o.outcome for o in again] == ["exists"]
    assert len(rig.runs.for_incident(incident_id)) == 1


def test_bad_deploy_waits_for_approval_then_rolls_back(rig: Rig) -> None:
    """A rollback run waits for a human; approval ticks it and the known-good version returns."""
    rig.metrics.values = [0.05]
    incident_id = rig.incident(DRIFT, "bad_deploy")
    rig.remediation.plan_incident(incident_id)
    run = only_run(rig, incident_id)
    assert run.state is RunState.AWAITING_APPROVAL
    assert rig.tasks.named(TaskName.TICK_RUN) == []
    assert any("awaits approval" in m for m in rig.timeline(incident_id))
    rig.remediation.approve(run.id or 0, "alice")
    assert rig.tasks.named(TaskName.TICK_RUN) == [[run.id]]
    assert rig.drive(run.id or 0).state is RunState.SUCCEEDED
    assert rig.target.state.version == "v1"
    assert any("approved by alice" in m for m in rig.timeline(incident_id))


def test_only_listed_approvers_may_decide(rig: Rig) -> None:
    """A run whose runbook lists approvers refuses anyone else, and says so in the audit log."""
    incident_id = rig.incident(DRIFT, "bad_deploy")
    rig.remediation.plan_incident(incident_id)
    run = only_run(rig, incident_id)
    stored = rig.runs.load(run.id or 0)
    assert stored is not None
    rig.runs.save(stored.model_copy(update={"approvers": ("U-LEAD",)}))
    with pytest.raises(ApprovalRefusedError):
        rig.remediation.approve(run.id or 0, "mallory")
    assert "approval_refused" in rig.audit(incident_id)
    assert only_run(rig, incident_id).state is RunState.AWAITING_APPROVAL


def test_two_incidents_on_one_target_make_one_run(rig: Rig) -> None:
    """The second incident on a target already being remediated is skipped by guard, once."""
    first = rig.incident(SATURATION, "capacity_saturation")
    second = rig.incident(SATURATION, "capacity_saturation")
    rig.remediation.plan_incident(first)
    outcomes = rig.remediation.plan_incident(second)
    outcomes += rig.remediation.plan_incident(second)
    assert [o.outcome for o in outcomes] == ["skipped", "skipped"]
    assert rig.runs.for_incident(second) == []
    skipped = [m for m in rig.timeline(second) if "skipped by guard" in m]
    assert len(skipped) == 1
    assert "run_skipped_by_guard" in rig.audit(second)


def test_cooldown_after_a_run_skips_the_next_incident(rig: Rig) -> None:
    """Within the runbook's cooldown a new incident on the target is skipped with the reason."""
    first = rig.incident(SATURATION, "capacity_saturation")
    run_id = rig.remediation.plan_incident(first)[0].run_id or 0
    rig.drive(run_id)
    second = rig.incident(SATURATION, "capacity_saturation")
    outcome = rig.remediation.plan_incident(second)[0]
    assert outcome.outcome == "skipped"
    assert outcome.reason.startswith("cooldown")
    assert any("skipped by guard: cooldown" in m for m in rig.timeline(second))


def test_failed_verification_reverts_and_does_not_mitigate(rig: Rig) -> None:
    """A rollback whose drift stays high is reverted to the version at run start."""
    rig.metrics.values = [0.6]
    incident_id = rig.incident(DRIFT, "bad_deploy")
    rig.remediation.plan_incident(incident_id)
    run = only_run(rig, incident_id)
    rig.remediation.approve(run.id or 0, "alice")
    assert rig.drive(run.id or 0).state is RunState.REVERTED
    assert rig.target.state.version == "v2"
    assert rig.status(incident_id) is IncidentStatus.TRIGGERED
    assert any("reverted" in m for m in rig.timeline(incident_id))


def test_dry_run_plans_onto_the_timeline_without_a_run(rig: Rig) -> None:
    """With dry_run set, the plan is written on the timeline and nothing runs."""
    rig.dry_run = True
    incident_id = rig.incident(SATURATION, "capacity_saturation")
    outcomes = rig.remediation.plan_incident(incident_id)
    assert [o.outcome for o in outcomes] == ["dry_run"]
    assert rig.runs.for_incident(incident_id) == []
    assert rig.target.calls == []
    assert any("dry run: scale-out" in m for m in rig.timeline(incident_id))


def test_pause_skips_new_runs_and_is_audited(rig: Rig) -> None:
    """While paused, planning records a guard skip; resuming lets the next incident run."""
    rig.remediation.pause("alice")
    paused = rig.incident(SATURATION, "capacity_saturation")
    assert rig.remediation.plan_incident(paused)[0].reason == "runbooks are paused"
    rig.remediation.resume("alice")
    resumed = rig.incident(SATURATION, "capacity_saturation")
    assert rig.remediation.plan_incident(resumed)[0].outcome == "created"
    with rig.store.transaction() as tx:
        rows = tx.audit.for_incident(paused)
    assert "run_skipped_by_guard" in [r["action"] for r in rows]


def test_approval_timeout_is_swept(rig: Rig) -> None:
    """A run nobody decides on is found by the sweep after its deadline and times out."""
    incident_id = rig.incident(DRIFT, "bad_deploy")
    rig.remediation.plan_incident(incident_id)
    run = only_run(rig, incident_id)
    assert rig.remediation.sweep() == []
    rig.clock.advance(1801)
    assert rig.remediation.sweep() == [run.id]
    assert rig.drive(run.id or 0).state is RunState.TIMED_OUT
    assert rig.target.calls == []


def test_denied_run_frees_its_target(rig: Rig) -> None:
    """Denying a run acts on nothing and lets the next incident on the target plan a run."""
    first = rig.incident(DRIFT, "bad_deploy")
    rig.remediation.plan_incident(first)
    denied = rig.remediation.deny(only_run(rig, first).id or 0, "bob", reason="not now")
    assert denied.state is RunState.DENIED
    second = rig.incident(DRIFT, "bad_deploy")
    assert rig.remediation.plan_incident(second)[0].outcome == "created"
    assert any("denied by bob" in m for m in rig.timeline(first))


def test_a_leased_run_is_not_ticked_by_another_worker(rig: Rig) -> None:
    """While one worker holds a run's tick lease, another is told when to come back."""
    incident_id = rig.incident(SATURATION, "capacity_saturation")
    run_id = rig.remediation.plan_incident(incident_id)[0].run_id or 0
    rig.runs.lease_tick(run_id, "worker-1", rig.clock(), 60)
    outcome = rig.remediation.tick(run_id, holder="worker-2")
    assert outcome.run is None
    assert outcome.next_in_s == pytest.approx(60)
    assert rig.target.calls == []


def test_manual_start_records_the_requester(rig: Rig) -> None:
    """A person starting a runbook is recorded as the run's requester."""
    incident_id = rig.incident(SATURATION)
    outcome = rig.remediation.start(incident_id, "scale-out", "U-ONCALL")
    run = rig.runs.load(outcome.run_id or 0)
    assert run is not None
    assert run.requested_by == "U-ONCALL"
    assert any("requested by U-ONCALL" in m for m in rig.timeline(incident_id))


def test_unmatched_incident_gets_no_run(rig: Rig) -> None:
    """An incident no runbook answers gets no run and no timeline entry."""
    incident_id = rig.incident({"alertname": "DiskFull", "model_name": MODEL}, "unknown")
    assert rig.remediation.plan_incident(incident_id) == []
    assert rig.timeline(incident_id) == []


def test_preview_lists_every_matching_plan(rig: Rig) -> None:
    """The dry-run preview names triage's hypothesis and each matching runbook's steps."""
    incident_id = rig.incident(SATURATION, "capacity_saturation")
    hypothesis, plans = rig.previews.preview(incident_id)
    assert hypothesis == "capacity_saturation"
    assert plans[0][0].startswith("scale-out → llama-3-70b-instruct")
    assert rig.target.calls == []


def test_mitigation_happens_once_even_when_ticked_again(rig: Rig) -> None:
    """Ticking a succeeded run again does not move or re-audit the incident."""
    incident_id = rig.incident(SATURATION, "capacity_saturation")
    run_id = rig.remediation.plan_incident(incident_id)[0].run_id or 0
    rig.drive(run_id)
    rig.clock.advance(timedelta(minutes=1).total_seconds())
    rig.remediation.tick(run_id, holder="worker-2")
    assert rig.audit(incident_id).count("incident_mitigated") == 1


# ---- triage's consent ---------------------------------------------------------------------

TTFT = {"alertname": "LLMTTFTErrorBudgetBurn", "model_name": MODEL}
CONTRADICTED = "triage says unknown 1.00, not capacity_saturation"


def held_saturation(rig: Rig) -> tuple[int, Run]:
    """A saturation incident whose first triage knows nothing: its scale-out run waits."""
    incident_id = rig.incident(SATURATION)
    rig.triage(incident_id, ("unknown", 1.0))
    rig.remediation.plan_incident(incident_id)
    return incident_id, only_run(rig, incident_id)


def test_contradicted_unattended_runbook_waits_with_the_reason(rig: Rig) -> None:
    """Triage saying 'unknown' keeps scale-out from starting: its run awaits approval, and the
    run, audit log, timeline and chat card say why."""
    incident_id = rig.incident(SATURATION)
    rig.triage(incident_id, ("unknown", 1.0))
    outcomes = rig.remediation.plan_incident(incident_id)
    assert [(o.runbook, o.outcome) for o in outcomes] == [("scale-out", "created")]
    run = only_run(rig, incident_id)
    assert run.state is RunState.AWAITING_APPROVAL
    assert run.approval_required
    assert run.triage_hold == run.reason == CONTRADICTED
    assert rig.tasks.named(TaskName.TICK_RUN) == []
    assert rig.drive(run.id or 0).state is RunState.AWAITING_APPROVAL
    assert rig.target.calls == []
    [waiting] = rig.audit_rows(incident_id, "run_awaiting_approval")
    assert waiting["detail"]["reason"] == CONTRADICTED
    assert any(f"awaits approval: {CONTRADICTED}" in m for m in rig.timeline(incident_id))
    line, awaiting = card_state(rig.runs.for_incident(incident_id))
    assert line == f"scale-out on {MODEL}: awaiting approval ({CONTRADICTED})"
    assert awaiting == run.id


def test_triage_below_the_threshold_holds_the_run(rig: Rig) -> None:
    """The right cause at too little confidence also waits, naming the threshold."""
    incident_id = rig.incident(SATURATION)
    rig.triage(incident_id, ("capacity_saturation", 0.55))
    rig.remediation.plan_incident(incident_id)
    run = only_run(rig, incident_id)
    assert run.state is RunState.AWAITING_APPROVAL
    assert run.reason == "triage says capacity_saturation 0.55, below 0.70"


def test_no_triage_report_holds_the_run(rig: Rig) -> None:
    """Planning before triage stored a report waits for it rather than act on labels alone."""
    incident_id = rig.incident(SATURATION)
    rig.remediation.plan_incident(incident_id)
    assert only_run(rig, incident_id).reason == "triage has not spoken yet"
    assert rig.target.calls == []


def test_agreeing_triage_starts_the_run_unattended(rig: Rig) -> None:
    """Triage naming the runbook's cause at or above its threshold lets it start alone."""
    incident_id = rig.incident(SATURATION)
    rig.triage(incident_id, ("capacity_saturation", 0.7), ("unknown", 0.3))
    run_id = rig.remediation.plan_incident(incident_id)[0].run_id
    run = only_run(rig, incident_id)
    assert run.state is RunState.APPROVED
    assert run.triage_hold == ""
    assert rig.tasks.named(TaskName.TICK_RUN) == [[run_id]]
    assert rig.drive(run_id or 0).state is RunState.SUCCEEDED
    assert rig.target.calls == [("set_replicas", ("primary", 8))]


def test_follow_up_triage_that_agrees_approves_the_run_once(rig: Rig) -> None:
    """When the follow-up triage names the runbook's cause, planning again approves the
    waiting run as 'triage' (audited, on the timeline); repeating it changes nothing."""
    incident_id, held = held_saturation(rig)
    rig.triage(incident_id, ("capacity_saturation", 0.93))
    outcomes = rig.remediation.plan_incident(incident_id)
    assert [(o.runbook, o.outcome, o.run_id) for o in outcomes] == [
        ("scale-out", "approved", held.id)
    ]
    run = only_run(rig, incident_id)
    assert run.state is RunState.APPROVED
    assert (run.history[-1].by, run.history[-1].reason) == (
        "triage",
        "triage says capacity_saturation 0.93",
    )
    assert rig.tasks.named(TaskName.TICK_RUN) == [[held.id]]
    [approved] = rig.audit_rows(incident_id, "run_approved")
    assert approved["actor"] == "triage"
    approvals = [m for m in rig.timeline(incident_id) if "approved by triage" in m]
    assert approvals == [
        f"RUN-{held.id} scale-out on {MODEL}: approved by triage "
        "(triage says capacity_saturation 0.93)"
    ]
    again = rig.remediation.plan_incident(incident_id)
    assert [o.outcome for o in again] == ["exists"]
    assert len(rig.audit_rows(incident_id, "run_approved")) == 1
    assert rig.tasks.named(TaskName.TICK_RUN) == [[held.id]]
    assert rig.drive(held.id or 0).state is RunState.SUCCEEDED
    assert rig.target.calls == [("set_replicas", ("primary", 8))]
    assert rig.status(incident_id) is IncidentStatus.MITIGATED


def test_follow_up_triage_that_disagrees_keeps_the_run_waiting(rig: Rig) -> None:
    """A follow-up naming another cause leaves the run waiting with the new reason, noted
    once however often planning repeats."""
    incident_id, held = held_saturation(rig)
    rig.triage(incident_id, ("thermal_throttling", 0.84))
    outcomes = rig.remediation.plan_incident(incident_id)
    outcomes += rig.remediation.plan_incident(incident_id)
    reason = "triage says thermal_throttling 0.84, not capacity_saturation"
    assert [(o.outcome, o.reason) for o in outcomes] == [("held", reason), ("held", reason)]
    run = only_run(rig, incident_id)
    assert run.state is RunState.AWAITING_APPROVAL
    assert run.triage_hold == run.reason == reason
    notes = [m for m in rig.timeline(incident_id) if "still awaits approval" in m]
    assert notes == [f"RUN-{held.id} scale-out on {MODEL}: still awaits approval ({reason})"]
    assert len(rig.audit_rows(incident_id, "run_hold_updated")) == 1
    assert rig.audit_rows(incident_id, "run_approved") == []
    assert rig.tasks.named(TaskName.TICK_RUN) == []
    assert rig.target.calls == []
    assert card_state([run])[0] == f"scale-out on {MODEL}: awaiting approval ({reason})"


def test_a_human_may_still_approve_a_run_triage_holds(rig: Rig) -> None:
    """On-call can overrule triage: approving the waiting run starts it."""
    incident_id, held = held_saturation(rig)
    rig.remediation.approve(held.id or 0, "alice")
    assert rig.drive(held.id or 0).state is RunState.SUCCEEDED
    assert any("approved by alice" in m for m in rig.timeline(incident_id))


def test_triage_does_not_approve_a_run_past_its_deadline(rig: Rig) -> None:
    """A waiting run whose approval deadline passed times out, even if triage now agrees."""
    incident_id, _ = held_saturation(rig)
    rig.clock.advance(901)
    rig.triage(incident_id, ("capacity_saturation", 0.93))
    [outcome] = rig.remediation.plan_incident(incident_id)
    assert outcome.outcome == "timed_out"
    assert only_run(rig, incident_id).state is RunState.TIMED_OUT
    assert rig.tasks.named(TaskName.TICK_RUN) == []


def test_approval_required_runbooks_are_never_approved_by_triage(rig: Rig) -> None:
    """A rollback waits for a human whatever triage says, before and after the follow-up."""
    incident_id = rig.incident(DRIFT)
    rig.triage(incident_id, ("unknown", 1.0))
    rig.remediation.plan_incident(incident_id)
    run = only_run(rig, incident_id)
    assert (run.state, run.reason, run.triage_hold) == (
        RunState.AWAITING_APPROVAL,
        "approval required",
        "",
    )
    rig.triage(incident_id, ("bad_deploy", 0.97))
    assert [o.outcome for o in rig.remediation.plan_incident(incident_id)] == ["exists"]
    run = only_run(rig, incident_id)
    assert run.state is RunState.AWAITING_APPROVAL
    assert rig.audit_rows(incident_id, "run_approved") == []


def test_gpu_fault_with_a_ttft_alert_does_not_scale_out(rig: Rig) -> None:
    """A TTFT alert from a faulted GPU plans the failover (awaiting a human) and never starts
    the scale-out its labels also match."""
    incident_id = rig.incident(TTFT)
    rig.triage(incident_id, ("gpu_fault", 0.91), ("capacity_saturation", 0.4))
    outcomes = rig.remediation.plan_incident(incident_id)
    assert [(o.runbook, o.outcome) for o in outcomes] == [
        ("failover", "created"),
        ("scale-out", "skipped"),
    ]
    run = only_run(rig, incident_id)
    assert (run.runbook, run.state) == ("failover", RunState.AWAITING_APPROVAL)
    assert rig.tasks.named(TaskName.TICK_RUN) == []
    assert rig.target.calls == []


def test_follow_up_naming_a_gpu_fault_withdraws_the_waiting_scale_out(rig: Rig) -> None:
    """First triage unknown, the follow-up a GPU fault: the scale-out waiting on triage is
    withdrawn by triage so the failover can take the model, and never acts."""
    incident_id = rig.incident(TTFT)
    rig.triage(incident_id, ("unknown", 1.0))
    rig.remediation.plan_incident(incident_id)
    held = only_run(rig, incident_id)
    assert (held.runbook, held.state) == ("scale-out", RunState.AWAITING_APPROVAL)
    rig.triage(incident_id, ("gpu_fault", 0.93))
    outcomes = rig.remediation.plan_incident(incident_id)
    assert [(o.runbook, o.outcome) for o in outcomes] == [
        ("scale-out", "denied"),
        ("failover", "created"),
    ]
    runs = {run.runbook: run for run in rig.runs.for_incident(incident_id)}
    assert runs["scale-out"].state is RunState.DENIED
    assert runs["scale-out"].reason.startswith("withdrawn: triage says gpu_fault 0.93")
    assert runs["failover"].state is RunState.AWAITING_APPROVAL
    assert rig.target.calls == []


def test_runbook_listing_no_hypotheses_runs_on_its_matchers(rig: Rig, tmp_path: Path) -> None:
    """A runbook that lists no hypotheses starts unattended whatever triage says."""
    folder = tmp_path / "runbooks"
    folder.mkdir()
    source = (Path(__file__).resolve().parents[2] / "runbooks" / "scale-out.yml").read_text()
    text = source.replace("hypotheses: [capacity_saturation]", "hypotheses: []")
    assert text != source
    (folder / "scale-out.yml").write_text(text)
    rig.catalog = load_directory(folder)
    incident_id = rig.incident(SATURATION)
    rig.triage(incident_id, ("gpu_fault", 0.95))
    run_id = rig.remediation.plan_incident(incident_id)[0].run_id
    assert only_run(rig, incident_id).state is RunState.APPROVED
    assert rig.drive(run_id or 0).state is RunState.SUCCEEDED


def test_a_person_starting_a_runbook_is_its_approval(rig: Rig) -> None:
    """Triage's consent governs what Firebreak starts alone, not what on-call asks for."""
    incident_id = rig.incident(SATURATION)
    rig.triage(incident_id, ("unknown", 1.0))
    outcome = rig.remediation.start(incident_id, "scale-out", "U-ONCALL")
    run = rig.runs.load(outcome.run_id or 0)
    assert run is not None
    assert run.state is RunState.APPROVED


def test_preview_and_dry_run_show_why_a_run_would_wait(rig: Rig) -> None:
    """The preview and the dry-run plan on the timeline name triage's disagreement."""
    rig.dry_run = True
    incident_id = rig.incident(SATURATION)
    rig.triage(incident_id, ("unknown", 1.0))
    _, plans = rig.previews.preview(incident_id)
    assert f"approval required ({CONTRADICTED})" in plans[0][0]
    rig.remediation.plan_incident(incident_id)
    assert any(f"approval required ({CONTRADICTED})" in m for m in rig.timeline(incident_id))


def test_a_second_planner_does_not_approve_what_another_claimed(rig: Rig) -> None:
    """Two plan tasks at once: the one that finds triage's approval already claimed in the
    ledger leaves the run alone, so it is approved once."""
    incident_id, held = held_saturation(rig)
    with rig.store.transaction() as tx:
        assert tx.ledger.claim(incident_id, f"runbooks:triage_approved:{held.id}")
    rig.triage(incident_id, ("capacity_saturation", 0.93))
    assert [o.outcome for o in rig.remediation.plan_incident(incident_id)] == ["exists"]
    assert only_run(rig, incident_id).state is RunState.AWAITING_APPROVAL
    assert rig.audit_rows(incident_id, "run_approved") == []
