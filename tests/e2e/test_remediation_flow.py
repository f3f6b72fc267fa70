"""Remediation end to end: webhook → triage on real Prometheus scraping the simulator →
runbook runs on a real Celery worker acting on the simulator's control API → verification
through Prometheus → incident mitigated (or the action reverted). Runbooks are the shipped
ones with short waits and verification windows (bot/demo/fast_runbooks.py)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.demo.fast_runbooks import write_fast_runbooks, write_targets
from bot.demo.monitoring import RunningProcess, start_prometheus
from simulator.server import RunningSimulator, start_in_thread
from tests.e2e.conftest import API_TOKEN, WEBHOOK_TOKEN, Firebreak
from tests.payloads import alert, body, group
from tests.processes import wait_for
from tests.servers.control_proxy import ControlProxy

MODEL = "llama-3-70b-instruct"
SPEED = 30.0
HOOK = {"Content-Type": "application/json", "Authorization": f"Bearer {WEBHOOK_TOKEN}"}
API = {"Authorization": f"Bearer {API_TOKEN}"}
# Scale-out matched on its alert alone, without hypotheses: it needs no consent from triage.
LABELS_ONLY_SCALE_OUT = {"scale-out": {"match": {"matchers": ['alertname="LLMKVCacheSaturated"']}}}


@dataclass
class Fleet:
    simulator: RunningSimulator
    prometheus: RunningProcess

    def model(self) -> dict[str, Any]:
        answer = httpx.get(f"{self.simulator.url}/control/models/{MODEL}", timeout=5)
        document: dict[str, Any] = answer.json()
        return document

    def inject(self, kind: str) -> None:
        fault = {"kind": kind, "model": MODEL}
        httpx.post(f"{self.simulator.url}/faults", json=fault, timeout=5).raise_for_status()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    """A simulator at 30x speed and a real Prometheus scraping it every second."""
    simulator = start_in_thread(seed=11, speed=SPEED)
    prometheus = start_prometheus(tmp_path, [f"127.0.0.1:{simulator.port}"], rule_files=[])
    yield Fleet(simulator, prometheus)
    prometheus.stop()
    simulator.stop()


@pytest.fixture
def launch(
    start_firebreak_stack: Callable[..., Firebreak], fleet: Fleet, tmp_path: Path
) -> Callable[..., Firebreak]:
    """Start API + worker on fast runbooks; `target_url` defaults to the simulator."""

    def start(target_url: str = "", **runbook_options: Any) -> Firebreak:
        return start_firebreak_stack(
            prometheus_url=fleet.prometheus.url,
            runbooks_dir=write_fast_runbooks(tmp_path / "runbooks", window="5s", **runbook_options),
            targets_file=write_targets(tmp_path / "targets.yml", target_url or fleet.simulator.url),
        )

    return start


def fire(stack: Firebreak, name: str, key: str) -> None:
    """Alertmanager posts a group with one alert that started now."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    payload = group(alert(name, fingerprint=f"fp-{key}", starts_at=now), group_key=key)
    answer = httpx.post(stack.webhook_url, content=body(payload), headers=HOOK, timeout=10)
    assert answer.status_code == 200


def runs(stack: Firebreak, incident_id: int) -> list[dict[str, Any]]:
    url = f"{stack.api.url}/api/v1/incidents/{incident_id}/runbook-runs"
    answer = httpx.get(url, headers=API, timeout=10)
    found: list[dict[str, Any]] = answer.json() if answer.status_code == 200 else []
    return found


def state_of(stack: Firebreak, incident_id: int = 1) -> str | None:
    found = runs(stack, incident_id)
    return str(found[0]["state"]) if found else None


def incident(stack: Firebreak, incident_id: int) -> dict[str, Any]:
    url = f"{stack.api.url}/api/v1/incidents/{incident_id}"
    document: dict[str, Any] = httpx.get(url, headers=API, timeout=10).json()
    return document


def timeline(stack: Firebreak, incident_id: int) -> list[str]:
    url = f"{stack.api.url}/api/v1/incidents/{incident_id}/timeline"
    return [e["message"] for e in httpx.get(url, headers=API, timeout=10).json()]


def test_saturation_is_scaled_out_once_and_verified(
    launch: Callable[..., Firebreak], fleet: Fleet
) -> None:
    """Two incidents on one saturated model: one scale-out run, unattended, verified by TTFT
    p95 from Prometheus, mitigating its incident; the other incident is skipped by guard."""
    # The fault is injected as the alert fires, before triage has a baseline to see it by, so
    # this scale-out lists no hypotheses and runs on its matchers (triage's consent is the
    # demo's and tests/unit/test_remediate_service.py's to show).
    stack = launch(overrides=LABELS_ONLY_SCALE_OUT)
    fleet.inject("saturation")
    fire(stack, "LLMKVCacheSaturated", "sat-a")
    fire(stack, "LLMKVCacheSaturated", "sat-b")
    wait_for(lambda: "succeeded" in (state_of(stack, 1), state_of(stack, 2)), timeout_s=60)
    owner, other = (1, 2) if runs(stack, 1) else (2, 1)
    assert runs(stack, other) == []
    assert fleet.model()["pools"]["primary"]["desired_replicas"] == 8
    assert incident(stack, owner)["status"] == "mitigated"
    wait_for(lambda: any("skipped by guard" in m for m in timeline(stack, other)), timeout_s=15)
    measured = [m for m in timeline(stack, owner) if "verification measured" in m]
    assert len(measured) >= 3
    assert measured[-1].endswith("successful")


def test_bad_deploy_waits_for_approval_then_rolls_back(
    launch: Callable[..., Firebreak], fleet: Fleet
) -> None:
    """A rollback waits for approval; after POST approve the known-good version returns,
    drift falls under the threshold in Prometheus and the incident is mitigated."""
    stack = launch()
    fleet.inject("bad_deploy")
    shipped = fleet.model()["version"]
    fire(stack, "LLMModelDrift", "drift")
    wait_for(lambda: state_of(stack) == "awaiting_approval", timeout_s=30)
    assert fleet.model()["version"] == shipped
    run_id = runs(stack, 1)[0]["id"]
    url = f"{stack.api.url}/api/v1/incidents/1/runbook-runs/{run_id}/approve"
    assert httpx.post(url, json={"actor": "alice"}, headers=API, timeout=10).status_code == 200
    wait_for(lambda: state_of(stack) == "succeeded", timeout_s=30)
    model = fleet.model()
    assert model["version"] == model["known_good_version"] != shipped
    assert incident(stack, 1)["status"] == "mitigated"


def test_failed_verification_reverts(launch: Callable[..., Firebreak], fleet: Fleet) -> None:
    """A rollback approved from chat (the approve task) whose drift never meets its threshold
    is reverted to the version at run start, and the incident stays unmitigated."""
    stack = launch(verify={"rollback": {"success_condition": "< 0.001"}})
    fleet.inject("bad_deploy")
    shipped = fleet.model()["version"]
    fire(stack, "LLMModelDrift", "drift")
    wait_for(lambda: state_of(stack) == "awaiting_approval", timeout_s=30)
    stack.api.container.tasks.enqueue("firebreak.runbooks.approve", [1, "U-ONCALL"])
    wait_for(lambda: state_of(stack) == "reverted", timeout_s=30)
    assert fleet.model()["version"] == shipped
    assert incident(stack, 1)["status"] == "triggered"
    assert any("RUN-1 rollback on" in m and "reverted" in m for m in timeline(stack, 1))


def test_worker_killed_mid_step_never_repeats_it(
    launch: Callable[..., Firebreak], fleet: Fleet
) -> None:
    """The worker process is SIGKILLed after the scale call reached the fleet but before the
    ledger heard back; the redelivered tick finds the step in doubt, sees the fleet already
    scaled and completes it without calling the control API again."""
    proxy = ControlProxy(fleet.simulator.url, stall="/replicas")
    try:
        # No fault is injected, so there is no queue to drain before verifying, and no cause
        # for triage to agree with: this scale-out runs on its matchers.
        stack = launch(
            target_url=proxy.url,
            verify={"scale-out": {"initial_delay_s": 2}},
            overrides=LABELS_ONLY_SCALE_OUT,
        )
        fire(stack, "LLMKVCacheSaturated", "sat")
        assert proxy.stalled.wait(30)
        children = subprocess.run(
            ["pgrep", "-P", str(stack.worker.process.pid)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for pid in children:
            os.kill(int(pid), signal.SIGKILL)
        proxy.release()
        wait_for(lambda: "WorkerLostError" in stack.worker.log(), timeout_s=20)
        wait_for(lambda: state_of(stack) == "succeeded", timeout_s=40)
        assert proxy.puts("/replicas") == 1
        assert stack.api.container.runs.claims(1)["forward:1"] == 2
        assert any("confirmed after a crash" in m for m in timeline(stack, 1))
    finally:
        proxy.stop()
