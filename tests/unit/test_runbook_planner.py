"""Matching runbooks to incidents and planning them as dry runs, without acting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.runbooks import Blocked
from bot.runbook.errors import PlanError
from bot.runbook.guards import Guards
from bot.runbook.loader import RunbookCatalog, load_directory
from bot.runbook.matcher import match_runbooks
from bot.runbook.planner import Planner, describe
from bot.runbook.targets import BoundTarget, TargetRegistry
from tests.fakes.runbooks import FakeClock, FakeGuardStore, FakeTarget

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
MODEL = "llama-3-8b"


@pytest.fixture
def catalog() -> RunbookCatalog:
    return load_directory(RUNBOOKS)


@pytest.fixture
def target() -> FakeTarget:
    return FakeTarget()


@pytest.fixture
def store() -> FakeGuardStore:
    return FakeGuardStore()


@pytest.fixture
def planner(target: FakeTarget, store: FakeGuardStore) -> Planner:
    registry = TargetRegistry([BoundTarget(MODEL, MODEL, target)])
    return Planner(registry, Guards(store, FakeClock()))


def test_alert_labels_select_scale_out(catalog: RunbookCatalog) -> None:
    """A KV-cache saturation alert matches scale-out by its labels alone."""
    labels = {"alertname": "LLMKVCacheSaturated", "model_name": MODEL}
    found = match_runbooks(catalog, labels, hypothesis=None)
    assert [m.runbook.name for m in found] == ["scale-out"]
    assert found[0].by_labels


def test_hypothesis_selects_and_ranks_first(catalog: RunbookCatalog) -> None:
    """Triage's top hypothesis picks its runbook and ranks it above label-only matches."""
    labels = {"alertname": "LLMKVCacheSaturated", "model_name": MODEL}
    found = match_runbooks(catalog, labels, hypothesis="gpu_fault")
    assert [m.runbook.name for m in found] == ["failover", "scale-out"]
    assert match_runbooks(catalog, {"alertname": "Other"}, hypothesis="unknown") == []


def test_scale_out_plan_shows_current_to_desired(
    catalog: RunbookCatalog, planner: Planner, target: FakeTarget
) -> None:
    """The scale-out plan reads the target and shows 2 → 8 replicas, unattended, allowed."""
    labels = {"alertname": "LLMKVCacheSaturated", "model_name": MODEL}
    plan = planner.plan(catalog.get("scale-out"), labels)  # type: ignore[arg-type]
    scale = next(p for p in plan.steps if p.action == "scale")
    assert (scale.current["replicas"], scale.desired["replicas"]) == (2, 8)
    assert not plan.approval_required
    assert plan.guard.allowed
    assert plan.verify is not None
    assert f'model_name="{MODEL}"' in plan.verify["query"]
    assert target.calls == []
    assert any("scale primary 2 → 8" in line for line in describe(plan))


def test_overrides_are_checked(catalog: RunbookCatalog, planner: Planner) -> None:
    """Overridden parameters flow into steps; unknown or out-of-bounds ones are PlanErrors."""
    labels = {"model_name": MODEL}
    runbook = catalog.get("scale-out")
    assert runbook is not None
    plan = planner.plan(runbook, labels, {"replicas": 8})
    assert next(p for p in plan.steps if p.action == "scale").desired["replicas"] == 8
    with pytest.raises(PlanError, match="unknown parameters"):
        planner.plan(runbook, labels, {"replica": 8})
    with pytest.raises(PlanError, match="outside"):
        planner.plan(runbook, labels, {"replicas": 80})


def test_failover_and_revert_are_planned_in_sequence(
    catalog: RunbookCatalog, planner: Planner
) -> None:
    """Failover plans primary→secondary, and its revert plans back from the projected state."""
    plan = planner.plan(catalog.get("failover"), {"model_name": MODEL})  # type: ignore[arg-type]
    shift = next(p for p in plan.steps if p.action == "failover")
    assert shift.desired["weights"] == {"primary": 0, "secondary": 100}
    back = next(p for p in plan.revert_steps if p.action == "failover")
    assert back.current["weights"] == {"primary": 0, "secondary": 100}
    assert back.desired["weights"] == {"primary": 100, "secondary": 0}
    assert plan.approval_required


def test_plan_shows_guard_state(
    catalog: RunbookCatalog, planner: Planner, store: FakeGuardStore
) -> None:
    """A paused fleet shows as a blocked guard in the plan, which still plans the steps."""
    store.set_paused(True)
    plan = planner.plan(catalog.get("rollback"), {"model_name": MODEL})  # type: ignore[arg-type]
    assert isinstance(plan.guard, Blocked)
    assert plan.steps[1].desired == {"version": "v1"}


def test_unknown_target_and_missing_label_explain_themselves(
    catalog: RunbookCatalog, planner: Planner
) -> None:
    """A target name with no configuration, or a missing label, is a PlanError saying so."""
    with pytest.raises(PlanError, match="no target named 'mistral'"):
        planner.plan(catalog.get("rollback"), {"model_name": "mistral"})  # type: ignore[arg-type]
    results = planner.plans_for(catalog, {"alertname": "LLMModelDrift"}, "bad_deploy")
    assert len(results) == 1
    assert isinstance(results[0], PlanError)
    assert "labels.model_name" in str(results[0])
