"""Runbook runs through the real stack: webhook → triage → plan on a real Celery worker, a
rollback waiting for approval, approved or denied over the API, acting on the simulator's
control API; the catalogue and the pause over HTTP; a bad runbook stops startup."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.bootstrap import Container
from bot.demo.fast_runbooks import write_fast_runbooks, write_targets
from bot.runbook.errors import RunbookError
from bot.settings import Settings
from bot.web.app import create_app
from simulator.server import RunningSimulator, start_in_thread
from tests.integration.conftest import API_TOKEN, WEBHOOK_TOKEN
from tests.payloads import alert, body, group
from tests.processes import ROOT, ApiServer, settings_env, start_api, start_worker, wait_for

MODEL = "llama-3-70b-instruct"
HOOK = {"Content-Type": "application/json", "Authorization": f"Bearer {WEBHOOK_TOKEN}"}
API = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def simulator() -> Iterator[RunningSimulator]:
    running = start_in_thread(seed=5, speed=1.0)
    yield running
    running.stop()


@pytest.fixture
def stack(
    make_settings: Callable[..., Settings],
    database_url: str,
    redis_url: str,
    simulator: RunningSimulator,
    tmp_path: Path,
) -> Iterator[ApiServer]:
    """API and one worker whose runbooks act on the simulator (rollback without verify)."""
    settings = make_settings(
        database_url=database_url,
        redis_url=redis_url,
        webhook_token=WEBHOOK_TOKEN,
        api_token=API_TOKEN,
        runbooks_dir=write_fast_runbooks(tmp_path / "runbooks", without_verify=["rollback"]),
        targets_file=write_targets(tmp_path / "targets.yml", simulator.url),
    )
    api = start_api(settings)
    worker = start_worker(settings, tmp_path / "logs")
    yield api
    worker.stop()
    api.stop()


def bad_deploy(simulator: RunningSimulator) -> str:
    """Ship a defective release on the simulator; answer the version now serving."""
    httpx.post(
        f"{simulator.url}/faults", json={"kind": "bad_deploy", "model": MODEL}
    ).raise_for_status()
    return str(httpx.get(f"{simulator.url}/control/models/{MODEL}").json()["version"])


def open_drift_incident(api: ApiServer) -> None:
    payload = group(alert("LLMModelDrift"), group_key="drift-group")
    answer = httpx.post(f"{api.url}/webhooks/alertmanager", content=body(payload), headers=HOOK)
    assert answer.status_code == 200
    api.normalise()


def runs_of(api: ApiServer, incident_id: int = 1) -> list[dict[str, Any]]:
    answer = httpx.get(f"{api.url}/api/v1/incidents/{incident_id}/runbook-runs", headers=API)
    answer.raise_for_status()
    runs: list[dict[str, Any]] = answer.json()
    return runs


def run_state(api: ApiServer) -> str | None:
    runs = runs_of(api)
    return str(runs[0]["state"]) if runs else None


def decide(api: ApiServer, verb: str, run_id: int, actor: str = "alice") -> httpx.Response:
    url = f"{api.url}/api/v1/incidents/1/runbook-runs/{run_id}/{verb}"
    return httpx.post(url, json={"actor": actor}, headers=API, timeout=10)


def test_rollback_waits_for_approval_then_rolls_back(
    stack: ApiServer, simulator: RunningSimulator
) -> None:
    """A drift incident's rollback waits; approving it over the API restores the known-good
    version on the simulator and mitigates the incident."""
    shipped = bad_deploy(simulator)
    open_drift_incident(stack)
    wait_for(lambda: run_state(stack) == "awaiting_approval", timeout_s=30)
    assert httpx.get(f"{simulator.url}/control/models/{MODEL}").json()["version"] == shipped
    run_id = runs_of(stack)[0]["id"]
    answer = decide(stack, "approve", run_id)
    assert answer.status_code == 200
    wait_for(lambda: run_state(stack) == "succeeded", timeout_s=30)
    model = httpx.get(f"{simulator.url}/control/models/{MODEL}").json()
    assert model["version"] == model["known_good_version"] != shipped
    incident = httpx.get(f"{stack.url}/api/v1/incidents/1", headers=API).json()
    assert incident["status"] == "mitigated"
    actions = [row["action"] for row in incident["audit"]]
    assert actions.index("run_approved") < actions.index("step_completed")
    timeline = httpx.get(f"{stack.url}/api/v1/incidents/1/timeline", headers=API).json()
    assert any("approved by alice" in event["message"] for event in timeline)


def test_denied_rollback_acts_on_nothing(stack: ApiServer, simulator: RunningSimulator) -> None:
    """Denying over the API ends the run; approving it afterwards is refused with 409."""
    shipped = bad_deploy(simulator)
    open_drift_incident(stack)
    wait_for(lambda: run_state(stack) == "awaiting_approval", timeout_s=30)
    run_id = runs_of(stack)[0]["id"]
    unauthorised = httpx.post(
        f"{stack.url}/api/v1/incidents/1/runbook-runs/{run_id}/deny", json={"actor": "x"}
    )
    assert unauthorised.status_code == 401
    assert decide(stack, "deny", run_id, actor="bob").json()["state"] == "denied"
    assert decide(stack, "approve", run_id).status_code == 409
    assert decide(stack, "approve", 999).status_code == 404
    assert httpx.get(f"{simulator.url}/control/models/{MODEL}").json()["version"] == shipped


def test_catalogue_and_pause_over_http(stack: ApiServer) -> None:
    """The API lists the loaded runbooks and pauses and resumes them, audited."""
    catalogue = httpx.get(f"{stack.url}/api/v1/runbooks", headers=API).json()
    assert {rb["name"] for rb in catalogue} == {
        "failover",
        "gpu-node-drain",
        "rollback",
        "scale-out",
    }
    paused = httpx.post(f"{stack.url}/api/v1/runbooks/pause", json={"actor": "alice"}, headers=API)
    assert paused.json() == {"paused": True}
    assert stack.container.guards.paused(MODEL)
    httpx.post(f"{stack.url}/api/v1/runbooks/resume", json={"actor": "alice"}, headers=API)
    assert not stack.container.guards.paused(MODEL)


def test_a_bad_runbook_stops_startup(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """The API factory and the worker refuse to start on an invalid runbook, naming file:line."""
    folder = write_fast_runbooks(tmp_path / "runbooks")
    broken = folder / "scale-out.yml"
    broken.write_text(broken.read_text().replace("action: scale", "action: scael"))
    settings = make_settings(runbooks_dir=folder)
    with pytest.raises(RunbookError) as refused:
        create_app(container=Container(settings))
    assert refused.value.path == broken
    worker = subprocess.run(
        [sys.executable, "-m", "bot.cli", "worker"],
        env=settings_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert worker.returncode == 2
    assert f"{broken}:{refused.value.line}: unknown action 'scael'" in worker.stderr
