"""SqlRunStore on SQLite and PostgreSQL: runs round-trip, the step ledger answers exactly as
FakeRunStore does (claim, hold, done, in doubt after a lease expires), one unfinished run
per target, due runs for the sweep, and the tick lease."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.sql_runs import SqlRunStore
from bot.adapters.sql_store import SqlStore
from bot.domain.alerts import Severity
from bot.domain.incidents import Incident, IncidentStatus
from bot.domain.remediation import TargetBusyError
from bot.domain.runbooks import OnFailure, Run, RunState, RunStep, StepClaim
from tests.fakes.runbooks import FakeRunStore

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> SqlStore:
    sql = SqlStore.from_url(database_url)
    with sql.transaction() as tx:
        for n in range(3):
            tx.incidents.add(
                Incident(0, "r", f"g{n}", "t", Severity.CRITICAL, IncidentStatus.TRIGGERED, NOW)
            )
    return sql


@pytest.fixture
def runs(store: SqlStore) -> SqlRunStore:
    return SqlRunStore.on(store)


def make_run(incident_id: int = 1, target: str = "llama") -> Run:
    return Run(
        incident_id=incident_id,
        runbook="scale-out",
        target=target,
        model=target,
        steps=[
            RunStep(
                action="scale", params={"replicas": 6}, timeout_s=30, on_failure=OnFailure.ABORT
            )
        ],
        approval_required=False,
        cooldown_s=900,
        max_runs_per_hour=2,
        lock_ttl_s=600,
        created_at=NOW,
    )


def test_a_run_round_trips_with_its_history(runs: SqlRunStore) -> None:
    """What is saved is what loads: state, steps, history and timestamps."""
    run = runs.add(make_run())
    run.move_to(RunState.APPROVED, NOW, reason="policy", by="policy")
    run.wake_at = NOW + timedelta(seconds=5)
    runs.save(run)
    loaded = runs.load(run.id or 0)
    assert loaded == run
    assert runs.load(999) is None


def ledger_script(store: FakeRunStore | SqlRunStore, run_id: int) -> list[StepClaim]:
    """The same sequence of claims and completions, answered by either store."""
    answers = [
        store.claim_step(run_id, "forward:0", NOW, lease_s=30),
        store.claim_step(run_id, "forward:0", NOW + timedelta(seconds=10), lease_s=30),
        store.claim_step(run_id, "forward:0", NOW + timedelta(seconds=31), lease_s=30),
        store.claim_step(run_id, "forward:0", NOW + timedelta(seconds=40), lease_s=30),
    ]
    store.complete_step(run_id, "forward:0", {"replicas": 6})
    answers.append(store.claim_step(run_id, "forward:0", NOW + timedelta(hours=1), lease_s=30))
    answers.append(store.claim_step(run_id, "forward:1", NOW, lease_s=30))
    return answers


def test_step_ledger_matches_the_fake(runs: SqlRunStore) -> None:
    """Claimed, held, in doubt after the lease, held again, done: exactly as FakeRunStore."""
    fake = FakeRunStore()
    fake_id = fake.add(make_run()).id or 0
    run_id = runs.add(make_run()).id or 0
    expected = [
        StepClaim.CLAIMED,
        StepClaim.HELD,
        StepClaim.IN_DOUBT,
        StepClaim.HELD,
        StepClaim.DONE,
        StepClaim.CLAIMED,
    ]
    assert ledger_script(fake, fake_id) == expected
    assert ledger_script(runs, run_id) == expected
    assert runs.result(run_id, "forward:0") == {"replicas": 6}
    assert runs.claims(run_id) == {"forward:0": 2, "forward:1": 1}


def test_concurrent_claims_let_one_worker_act(runs: SqlRunStore) -> None:
    """Eight threads claiming one step at once: exactly one is told to act."""
    run_id = runs.add(make_run()).id or 0
    answers: list[StepClaim] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        answers.append(runs.claim_step(run_id, "forward:0", NOW, lease_s=30))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == sorted([StepClaim.CLAIMED] + [StepClaim.HELD] * 7)


def test_one_unfinished_run_per_target(runs: SqlRunStore) -> None:
    """A second run on a busy target is refused; once the first finishes the target is free."""
    first = runs.add(make_run(1))
    with pytest.raises(TargetBusyError) as busy:
        runs.add(make_run(2))
    assert busy.value.run_id == first.id
    other = runs.add(make_run(2, target="reranker"))
    assert runs.active_on("llama") == first
    first.move_to(RunState.FAILED, NOW, reason="blocked: cooldown")
    runs.save(first)
    assert runs.active_on("llama") is None
    second = runs.add(make_run(2))
    assert [r.id for r in runs.for_incident(2)] == [other.id, second.id]


def test_due_runs_are_missed_wake_ups_and_passed_deadlines(runs: SqlRunStore) -> None:
    """The sweep finds an approval past its deadline and a run whose wake-up went stale."""
    waiting = make_run(1)
    waiting.move_to(RunState.AWAITING_APPROVAL, NOW)
    waiting.approval_deadline = NOW + timedelta(minutes=15)
    waiting = runs.add(waiting)
    running = runs.add(make_run(2, target="reranker"))
    running.move_to(RunState.APPROVED, NOW)
    running.wake_at = NOW
    runs.save(running)
    real_now = datetime.now(UTC)
    assert runs.due(NOW, stale_before=NOW - timedelta(minutes=1)) == []
    later = NOW + timedelta(minutes=16)
    assert runs.due(later, stale_before=real_now + timedelta(seconds=1)) == [
        waiting.id,
        running.id,
    ]


def test_tick_lease_is_exclusive_until_released_or_expired(runs: SqlRunStore) -> None:
    """Only one holder ticks a run; another may once it is released or its lease ran out."""
    run_id = runs.add(make_run()).id or 0
    assert runs.lease_tick(run_id, "a", NOW, 60).granted
    refused = runs.lease_tick(run_id, "b", NOW + timedelta(seconds=5), 60)
    assert not refused.granted
    assert refused.held_until == NOW + timedelta(seconds=60)
    assert runs.lease_tick(run_id, "a", NOW + timedelta(seconds=5), 60).granted
    assert runs.lease_tick(run_id, "b", NOW + timedelta(seconds=66), 60).granted
    runs.release_tick(run_id, "b")
    assert runs.lease_tick(run_id, "c", NOW + timedelta(seconds=67), 60).granted


def test_a_run_store_on_the_incident_store_shares_its_writer_queue(store: SqlStore) -> None:
    """Writers of both stores in one process queue on one lock (a no-op on PostgreSQL), so on
    SQLite they never meet each other in the busy handler."""
    assert SqlRunStore.on(store).writer_lock is store.writer_lock
    assert SqlRunStore(store.engine).writer_lock is not store.writer_lock
