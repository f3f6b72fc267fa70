"""Action plans: desired state computed from the target's state, bounded, repeat-harmless."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.domain.runbooks import TargetState
from bot.runbook.actions import failover, rollback, scale, wait
from bot.runbook.actions.contract import PlanContext
from bot.runbook.errors import PlanError
from bot.runbook.planner import project

STATE = TargetState(
    replicas={"primary": 4, "secondary": 2},
    traffic_weights={"primary": 100, "secondary": 0},
    version="v3",
    version_history=("v1", "v2", "v3"),
    known_good="v2",
)


def test_scale_sets_desired_replicas() -> None:
    """Scaling plans current → requested replicas for the named pool."""
    plan = scale.plan(scale.Params(replicas=6, max_replicas=8), STATE, PlanContext())
    assert plan.current == {"pool": "primary", "replicas": 4}
    assert plan.desired == {"pool": "primary", "replicas": 6}


def test_scale_never_goes_below_current_during_an_incident() -> None:
    """A request below the current count holds the current count while an incident is open."""
    params = scale.Params(replicas=2, max_replicas=8)
    during = scale.plan(params, STATE, PlanContext(during_incident=True))
    assert during.desired["replicas"] == 4
    assert not during.changes_target
    after = scale.plan(params, STATE, PlanContext(during_incident=False))
    assert after.desired["replicas"] == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"replicas": 9, "max_replicas": 8},
        {"replicas": 1, "min_replicas": 2, "max_replicas": 8},
        {"replicas": 4, "min_replicas": 9, "max_replicas": 8},
        {"replicas": 4, "max_replicas": 100_000},
    ],
)
def test_scale_params_out_of_bounds_are_refused(bad: dict[str, int]) -> None:
    """Replicas outside [min, max], or limits past the hard cap, fail validation."""
    with pytest.raises(ValidationError):
        scale.Params.model_validate(bad)


def test_scale_unknown_pool_cannot_be_planned() -> None:
    """A pool the target does not have is a PlanError, not a silent no-op."""
    with pytest.raises(PlanError):
        scale.plan(scale.Params(pool="gpu-b", replicas=3, max_replicas=8), STATE, PlanContext())


def test_failover_shifts_weight_and_repeats_harmlessly() -> None:
    """Failover plans the target pool at `percent`; planning again on the result changes nothing."""
    params = failover.Params(to_pool="secondary")
    first = failover.plan(params, STATE, PlanContext())
    assert first.desired == {"weights": {"primary": 0, "secondary": 100}}
    again = failover.plan(params, project(STATE, first), PlanContext())
    assert not again.changes_target


def test_failover_partial_keeps_other_pools_proportions() -> None:
    """The rest of the traffic is split by the other pools' current shares and sums to 100."""
    weights = failover.shifted_weights({"a": 60, "b": 30, "c": 10}, "c", 40)
    assert weights == {"c": 40, "a": 40, "b": 20}
    assert sum(failover.shifted_weights({"a": 1, "b": 1, "c": 1}, "a", 33).values()) == 100


def test_failover_refuses_a_pool_without_replicas() -> None:
    """Traffic is never sent to a pool with zero replicas."""
    empty = STATE.model_copy(update={"replicas": {"primary": 4, "secondary": 0}})
    with pytest.raises(PlanError, match="no replicas"):
        failover.plan(failover.Params(to_pool="secondary"), empty, PlanContext())


def test_rollback_targets_known_good_previous_and_run_start() -> None:
    """`known_good`, `previous` and `run_start` each resolve to a concrete version."""
    assert rollback.plan(rollback.Params(), STATE, PlanContext()).desired == {"version": "v2"}
    previous = rollback.plan(rollback.Params(to="previous"), STATE, PlanContext())
    assert previous.desired == {"version": "v2"}
    rolled = STATE.model_copy(update={"version": "v2"})
    back = rollback.plan(
        rollback.Params(to="run_start"), rolled, PlanContext(state_at_run_start=STATE)
    )
    assert back.desired == {"version": "v3"}


def test_rollback_without_known_good_or_unknown_version_fails() -> None:
    """No known-good version, or a version not in the history, cannot be planned."""
    bare = STATE.model_copy(update={"known_good": None})
    with pytest.raises(PlanError, match="known-good"):
        rollback.plan(rollback.Params(), bare, PlanContext())
    with pytest.raises(PlanError, match="not in the target's history"):
        rollback.plan(rollback.Params(to="v9"), STATE, PlanContext())


def test_wait_is_bounded() -> None:
    """A wait longer than an hour is refused."""
    with pytest.raises(ValidationError):
        wait.Params(duration_s=7200)
