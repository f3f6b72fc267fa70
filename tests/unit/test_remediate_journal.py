"""How run events read on the timeline and in the audit log, and when chat is refreshed."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.adapters.sql_store import SqlStore
from bot.domain.alerts import Severity
from bot.domain.incidents import Incident, IncidentStatus
from bot.domain.runbooks import Run
from bot.domain.task_names import TaskName
from bot.services.run_journal import StoreRunJournal, audit_action, timeline_message

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def make_run(incident_id: int = 1) -> Run:
    return Run(
        id=7,
        incident_id=incident_id,
        runbook="scale-out",
        target="llama",
        model="llama",
        steps=[],
        approval_required=False,
        cooldown_s=900,
        max_runs_per_hour=2,
        lock_ttl_s=600,
        created_at=NOW,
    )


def test_guard_block_reads_as_a_skip() -> None:
    """A run failed by a guard is named a guard skip on the timeline and in the audit log."""
    detail = {"reason": "blocked: another run holds this target", "by": ""}
    message = timeline_message(make_run(), "run_failed", detail)
    assert message == "RUN-7 scale-out on llama: skipped by guard: another run holds this target"
    assert audit_action("run_failed", detail) == "run_skipped_by_guard"
    assert audit_action("run_failed", {"reason": "verification failed"}) == "run_failed"


def test_steps_and_measurements_read_as_changes() -> None:
    """A step shows current → desired; a measurement with no data says so."""
    run = make_run()
    done = timeline_message(
        run,
        "step_completed",
        {
            "step": "forward:1",
            "action": "scale",
            "current": {"replicas": 4},
            "desired": {"replicas": 6},
        },
    )
    assert done == "RUN-7 scale-out on llama: step forward:1 scale done: replicas=4 → replicas=6"
    measured = timeline_message(run, "verify_measured", {"outcome": "inconclusive", "value": None})
    assert measured is not None
    assert "no data → inconclusive" in measured
    assert timeline_message(run, "run_held_paused", {}) is None


def test_state_moves_refresh_chat_but_measurements_do_not(sqlite_store: SqlStore) -> None:
    """A state move queues the incident's chat refresh; a measurement only lands on the timeline."""
    with sqlite_store.transaction() as tx:
        incident = tx.incidents.add(
            Incident(0, "r", "g", "t", Severity.WARNING, IncidentStatus.TRIGGERED, NOW)
        )
        tx.outbox.mark_dispatched([row for row, _, _ in tx.outbox.pending()])
    journal = StoreRunJournal(sqlite_store, lambda: NOW)
    run = make_run(incident.id)
    journal.record(run, "verify_measured", {"outcome": "successful", "value": 1.0})
    with sqlite_store.transaction() as tx:
        assert tx.outbox.pending() == []
    journal.record(run, "run_succeeded", {"reason": "verification successful", "by": ""})
    with sqlite_store.transaction() as tx:
        assert [(task, args) for _, task, args in tx.outbox.pending()] == [
            (TaskName.PROCESS_INCIDENT, [incident.id])
        ]
        assert len(tx.timeline.for_incident(incident.id)) == 2
        assert [row["action"] for row in tx.audit.for_incident(incident.id)] == [
            "verify_measured",
            "run_succeeded",
        ]
