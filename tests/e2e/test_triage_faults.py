"""Triage through the whole chain for faults the demo does not show: the simulator's
metrics scraped by real Prometheus, the shipped rules firing, real Alertmanager posting to
Firebreak, and triage naming the injected cause first."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.demo.fleet import DemoWorld, start_world
from bot.demo.runner import DemoClient
from bot.demo.scenarios import Act

FAULTS = [
    Act(
        "thermal",
        "llama-3-70b-instruct",
        "thermal",
        ("GPUThermalThrottling",),
        "thermal_throttling",
        "",
        approve=False,
    ),
    Act(
        "upstream",
        "reranker-v2",
        "upstream_errors",
        ("LLMServerErrors",),
        "upstream_errors",
        "",
        approve=False,
    ),
    Act(
        "xid",
        "llama-3-70b-instruct",
        "gpu_xid",
        ("GPUXidError",),
        "gpu_fault",
        "failover",
        approve=False,
    ),
]
WAIT_S = 90.0
LEAD_S = 30.0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    # The upstream-error rule's 5 m ratio takes longest to cross its threshold: its alert fires
    # about 20 s after the fault, so triage looks back 30 s (and the fleet needs 45 s of history).
    home = tmp_path_factory.mktemp("fleet") / "home"
    started = start_world(home, speed=30.0, triage_lead_s=LEAD_S)
    time.sleep(started.history_needed_s)
    yield started
    started.stop()


def top_hypothesis(client: DemoClient, act: Act) -> str | None:
    for incident_id in client.incidents_for(act):
        triage = client.api(f"/api/v1/incidents/{incident_id}").get("triage") or {}
        hypotheses = triage.get("hypotheses") or []
        if hypotheses:
            return str(hypotheses[0]["kind"])
    return None


@pytest.mark.parametrize("act", FAULTS, ids=[a.title for a in FAULTS])
def test_injected_fault_is_named_first(world: DemoWorld, act: Act, tmp_path: Path) -> None:
    """The incident the fault's alert opens is triaged with the injected cause on top."""
    client = DemoClient(world)
    fault = httpx.post(
        f"{world.simulator.url}/faults", json={"kind": act.fault, "model": act.model}, timeout=5
    ).json()
    try:
        deadline = time.monotonic() + WAIT_S
        seen: str | None = None
        while time.monotonic() < deadline and seen != act.hypothesis:
            seen = top_hypothesis(client, act)
            time.sleep(1)
        assert client.incidents_for(act), f"no incident for {act.alerts}"
        assert seen == act.hypothesis
    finally:
        httpx.delete(f"{world.simulator.url}/faults/{fault['id']}", timeout=5)
