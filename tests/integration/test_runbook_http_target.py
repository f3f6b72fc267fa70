"""HttpTarget against the real fleet simulator's control API, alone and driven by runbooks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from bot.adapters.http_target import HttpTarget
from bot.adapters.redis_guards import RedisGuardStore
from bot.domain.errors import UpstreamUnavailableError
from bot.domain.runbooks import RunState
from bot.runbook.errors import TargetError
from bot.runbook.executor import RunbookExecutor
from bot.runbook.guards import Guards
from bot.runbook.loader import load_directory
from bot.runbook.planner import Planner
from bot.runbook.targets import BoundTarget, HttpPaths, TargetRegistry
from simulator.server import RunningSimulator, start_in_thread
from tests.fakes.runbooks import FakeClock, FakeRunJournal, FakeRunStore, FakeVerifyMetrics

MODEL = "llama-3-70b-instruct"
RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
REDIS_URL = "redis://127.0.0.1:6379/11"


@pytest.fixture
def simulator() -> Iterator[RunningSimulator]:
    running = start_in_thread(seed=7, speed=1.0)
    yield running
    running.stop()


@pytest.fixture
def target(simulator: RunningSimulator) -> Iterator[HttpTarget]:
    client = HttpTarget(simulator.url, timeout_s=5)
    yield client
    client.close()


@pytest.fixture
def guard_store() -> Iterator[RedisGuardStore]:
    prefix = f"test:runbook-http:{uuid.uuid4().hex[:10]}:"
    client = redis.Redis.from_url(REDIS_URL)
    yield RedisGuardStore(client, prefix)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_state_matches_the_simulated_fleet(target: HttpTarget) -> None:
    """The model's pools, weights, version, history and known-good version are read."""
    state = target.get_state(MODEL)
    assert state.replicas == {"primary": 4, "secondary": 3}
    assert state.traffic_weights == {"primary": 75, "secondary": 25}
    assert state.version == "v1.4.2"
    assert state.version_history == ("v1.3.0", "v1.4.2")
    assert state.known_good == "v1.4.2"


def test_setters_change_desired_state(target: HttpTarget) -> None:
    """Replicas, traffic and version set through the API read back as set."""
    target.set_replicas(MODEL, "primary", 6)
    target.set_traffic(MODEL, {"primary": 0, "secondary": 100})
    target.set_version(MODEL, "v1.3.0")
    state = target.get_state(MODEL)
    assert state.replicas["primary"] == 6
    assert state.traffic_weights == {"primary": 0, "secondary": 100}
    assert state.version == "v1.3.0"


def test_refusals_and_outages_are_translated(
    target: HttpTarget, simulator: RunningSimulator
) -> None:
    """A refused request is a TargetError with its status; an unreachable API is unavailable."""
    with pytest.raises(TargetError) as refused:
        target.set_replicas(MODEL, "tertiary", 2)
    assert refused.value.status == 422
    with pytest.raises(TargetError) as missing:
        target.get_state("no-such-model")
    assert missing.value.status == 404
    dead = HttpTarget("http://127.0.0.1:1", timeout_s=0.5)
    with pytest.raises(UpstreamUnavailableError):
        dead.get_state(MODEL)
    dead.close()


def test_failover_runbook_reverts_on_failed_verification(
    target: HttpTarget, guard_store: RedisGuardStore
) -> None:
    """The shipped failover runbook shifts the simulator's traffic, fails verification and
    puts the traffic back on primary, under Redis guards."""
    clock = FakeClock()
    registry = TargetRegistry([BoundTarget(MODEL, MODEL, target)])
    guards = Guards(guard_store, clock)
    failover = load_directory(RUNBOOKS).get("failover")
    assert failover is not None
    plan = Planner(registry, guards).plan(failover, {"model_name": MODEL})
    executor = RunbookExecutor(
        FakeRunStore(), registry, guards, FakeVerifyMetrics([0.2]), FakeRunJournal(), clock
    )
    run = executor.create(plan, incident_id=3)
    executor.approve(run.id or 0, "U-ONCALL")
    run = executor.tick(run.id or 0)
    assert target.get_state(MODEL).traffic_weights == {"primary": 0, "secondary": 100}
    run = executor.drive(run.id or 0, sleep=clock.sleep)
    assert run.state is RunState.REVERTED
    assert target.get_state(MODEL).traffic_weights == {"primary": 100, "secondary": 0}
    assert not guard_store.usage(MODEL, clock().timestamp()).lock_held


def test_paths_are_templates() -> None:
    """Custom path templates are used as given, with the model URL-quoted."""
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"pools": {}, "version": "x"})

    custom = HttpTarget(
        "http://control.local",
        paths=HttpPaths(state="/api/v2/{model}/state"),
        transport=httpx.MockTransport(record),
    )
    assert custom.get_state("org/model a").version == "x"
    assert seen == ["/api/v2/org%2Fmodel%20a/state"]
