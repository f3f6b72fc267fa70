"""What each stage records through the Telemetry port: runbook actions by result, guard
refusals by guard, triage by result with the signals it could not judge; and the catalogue's
own rules for names and labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.sql_store import SqlStore
from bot.adapters.unconfigured_metrics import UnconfiguredMetricsSource
from bot.domain.errors import NotFoundError
from bot.domain.runbooks import RunState
from bot.domain.telemetry import (
    CATALOGUE,
    CHAT_CALLS,
    GUARD_REFUSALS,
    RUNBOOK_ACTIONS,
    TASK_SECONDS,
    TRIAGE_NO_DATA,
    TRIAGE_SECONDS,
    UNRECORDED,
    exported_sample_names,
)
from bot.runbook.executor import RunbookExecutor
from bot.runbook.guards import Guards
from bot.runbook.targets import BoundTarget, TargetRegistry
from bot.services.triage_incident import triage_incident
from tests.fakes.runbooks import (
    FakeClock,
    FakeGuardStore,
    FakeRunJournal,
    FakeRunStore,
    FakeTarget,
    FakeVerifyMetrics,
)
from tests.fakes.telemetry import FakeTelemetry
from tests.unit.test_runbook_executor import MODEL, Rig
from tests.unit.test_storms import START, ingest, node_group


@pytest.fixture
def rig() -> Rig:
    """A fleet target, run store, guards and verification answering a healthy TTFT (1.2 s)."""
    return Rig(
        FakeClock(),
        FakeTarget(),
        FakeRunStore(),
        FakeGuardStore(),
        FakeRunJournal(),
        FakeVerifyMetrics([1.2]),
    )


def executor(rig: Rig, telemetry: FakeTelemetry) -> RunbookExecutor:
    registry = TargetRegistry([BoundTarget(MODEL, MODEL, rig.target)])
    guards = Guards(rig.guards, rig.clock)
    return RunbookExecutor(
        rig.runs, registry, guards, rig.metrics, rig.journal, rig.clock, telemetry=telemetry
    )


def test_a_run_counts_each_action_and_its_verification(rig: Rig) -> None:
    """A scale-out counts its annotate, scale, wait and notify steps as applied and its
    verification as successful, each under the runbook's name."""
    telemetry = FakeTelemetry()
    runs = executor(rig, telemetry)
    run = runs.create(rig.plan("scale-out"), incident_id=7)
    assert runs.drive(run.id or 0, sleep=rig.clock.sleep).state is RunState.SUCCEEDED
    actions = {
        labels: n for (name, labels), n in telemetry.counts.items() if name == RUNBOOK_ACTIONS.name
    }
    assert actions == {
        ("scale-out", "annotate", "applied"): 1,
        ("scale-out", "scale", "applied"): 1,
        ("scale-out", "wait", "applied"): 1,
        ("scale-out", "notify", "applied"): 1,
        ("scale-out", "verify", "successful"): 1,
    }


def test_a_run_the_cooldown_stops_is_counted_by_guard(rig: Rig) -> None:
    """A second scale-out inside the first one's cooldown is refused at its start, and the
    refusal is counted as the cooldown's, under the runbook's name."""
    telemetry = FakeTelemetry()
    runs = executor(rig, telemetry)
    plan = rig.plan("scale-out")
    first = runs.create(plan, incident_id=7)
    runs.drive(first.id or 0, sleep=rig.clock.sleep)
    second = runs.drive(runs.create(plan, incident_id=8).id or 0, sleep=rig.clock.sleep)
    assert second.state is RunState.FAILED
    assert telemetry.counts[(GUARD_REFUSALS.name, ("cooldown", "scale-out"))] == 1
    refusals = [labels for name, labels in telemetry.counts if name == GUARD_REFUSALS.name]
    assert refusals == [("cooldown", "scale-out")]


def test_triage_records_its_result_and_the_signals_it_could_not_read(
    sqlite_store: SqlStore, tmp_path: Path
) -> None:
    """Without Prometheus a triage is degraded and counts every signal as unavailable; a
    triage that raises is recorded as failed."""
    telemetry = FakeTelemetry()
    incident_id = ingest(sqlite_store, node_group(1, model_name=MODEL))
    store, source = sqlite_store, UnconfiguredMetricsSource()
    triage_incident(store, source, incident_id, START, tmp_path, telemetry=telemetry)
    with pytest.raises(NotFoundError):
        triage_incident(store, source, 999, START, tmp_path, telemetry=telemetry)
    results = {labels for name, labels in telemetry.observed if name == TRIAGE_SECONDS.name}
    assert results == {("degraded",), ("failed",)}
    no_data = {labels for name, labels in telemetry.counts if name == TRIAGE_NO_DATA.name}
    assert ("kv_cache_usage", "unavailable") in no_data
    assert {status for _, status in no_data} <= {"unavailable", "inconclusive"}


def test_labels_must_be_exactly_the_familys() -> None:
    """Missing, extra or misspelt labels are refused, even by the telemetry that keeps
    nothing, so a wrong call fails in every test that reaches it."""
    good = {"chat": "slack", "method": "chat.update", "result": "ok"}
    assert CHAT_CALLS.label_values(good) == ("slack", "chat.update", "ok")
    for bad in ({"chat": "slack"}, {**good, "channel": "C1"}, {**good, "reslt": "ok"}):
        with pytest.raises(ValueError, match="takes labels"):
            UNRECORDED.count(CHAT_CALLS, bad)
    with pytest.raises(ValueError, match="takes labels"):
        UNRECORDED.observe(TASK_SECONDS, 0.1, {"task": "t"})


def test_every_family_is_named_once_with_its_samples() -> None:
    """Family names are unique and Firebreak's; counters end in _total, histograms have
    buckets in order, and the exported names are what a scrape shows."""
    names = [spec.name for spec in CATALOGUE]
    assert len(names) == len(set(names))
    assert all(name.startswith("firebreak_") for name in names)
    assert not [name for name in names if name.endswith("_total")]
    for spec in CATALOGUE:
        if spec.buckets:
            assert list(spec.buckets) == sorted(set(spec.buckets)), spec.name
    exported = exported_sample_names()
    assert {"firebreak_tasks_total", "firebreak_triage_duration_seconds_bucket"} <= exported
    assert "firebreak_incidents" in exported
    assert "firebreak_tasks" not in exported
