"""The simulator's JSON API: control actions, fault injection and clear 4xx errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from simulator.catalog import LLAMA, RERANKER
from simulator.control import ControlApi, JsonResponse
from simulator.simulation import Simulation

LLAMA_NAME, RERANKER_NAME = LLAMA.name, RERANKER.name


@pytest.fixture
def simulation() -> Simulation:
    return Simulation(seed=5)


@pytest.fixture
def api(simulation: Simulation) -> ControlApi:
    return ControlApi(simulation)


def call(api: ControlApi, method: str, path: str, body: Any = None) -> JsonResponse:
    raw = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    response = api.handle(method, path, raw)
    json.loads(response.body())
    return response


def test_model_state_lists_pools_weights_and_versions(api: ControlApi) -> None:
    """GET a model returns replicas and weights per pool, version, history and known-good."""
    response = call(api, "GET", f"/control/models/{LLAMA_NAME}")
    assert response.status == 200
    state = response.document
    assert state["version"] == state["known_good_version"] == "v1.4.2"
    assert [entry["version"] for entry in state["version_history"]] == ["v1.3.0", "v1.4.2"]
    assert {name: pool["desired_replicas"] for name, pool in state["pools"].items()} == {
        "primary": 4,
        "secondary": 3,
    }
    assert state["pools"]["primary"]["traffic_weight"] == 75.0
    assert state["pools"]["primary"]["replicas"][0]["node"] == "gpu-node-01"


def test_model_list_covers_the_fleet(api: ControlApi) -> None:
    """GET /control/models lists every model."""
    response = call(api, "GET", "/control/models")
    assert [model["model"] for model in response.document["models"]] == [LLAMA_NAME, RERANKER_NAME]


def test_setting_replicas_twice_is_harmless(api: ControlApi, simulation: Simulation) -> None:
    """PUT replicas sets desired state; repeating it neither adds replicas nor resets warm-up."""
    body = {"pool": "primary", "replicas": 6}
    first = call(api, "PUT", f"/control/models/{LLAMA_NAME}/replicas", body)
    simulation.advance(30)
    second = call(api, "PUT", f"/control/models/{LLAMA_NAME}/replicas", body)
    assert first.status == second.status == 200

    def pods(response: JsonResponse) -> list[str]:
        return [replica["pod"] for replica in response.document["pools"]["primary"]["replicas"]]

    assert pods(first) == pods(second)
    assert len(pods(second)) == 6
    simulation.advance(31)
    pool = call(api, "GET", f"/control/models/{LLAMA_NAME}").document["pools"]["primary"]
    assert (pool["desired_replicas"], pool["ready_replicas"]) == (6, 6)


def test_traffic_weights_move_traffic(api: ControlApi, simulation: Simulation) -> None:
    """PUT traffic routes all requests to the secondary pool; the primary goes idle."""
    response = call(
        api,
        "PUT",
        f"/control/models/{LLAMA_NAME}/traffic",
        {"weights": {"primary": 0, "secondary": 100}},
    )
    assert response.status == 200
    assert response.document["pools"]["secondary"]["traffic_weight"] == 100.0
    simulation.advance(30)
    primary = simulation.model(LLAMA_NAME).pools["primary"].replicas
    assert all(replica.gpu.utilization_pct == 0 for replica in primary)


def test_version_rollback_and_known_good(api: ControlApi) -> None:
    """After a bad deploy the known-good version is the previous one; PUT version rolls back."""
    injected = call(api, "POST", "/faults", {"kind": "bad_deploy", "model": RERANKER_NAME})
    assert (injected.status, injected.document["version"]) == (201, "2.4.0")
    state = call(api, "GET", f"/control/models/{RERANKER_NAME}").document
    assert (state["version"], state["known_good_version"]) == ("2.4.0", "2.3.0")
    rolled_back = call(api, "PUT", f"/control/models/{RERANKER_NAME}/version", {"version": "2.3.0"})
    assert rolled_back.document["version"] == "2.3.0"
    again = call(api, "PUT", f"/control/models/{RERANKER_NAME}/version", {"version": "2.3.0"})
    assert again.document["version_history"] == rolled_back.document["version_history"]


def test_faults_are_listed_and_cleared(api: ControlApi) -> None:
    """POST /faults returns an id, GET lists it, DELETE clears it, a second DELETE is 404."""
    created = call(api, "POST", "/faults", {"kind": "thermal", "model": LLAMA_NAME, "intensity": 1})
    fault_id = created.document["id"]
    assert created.document["node"] == "gpu-node-01"
    listed = call(api, "GET", "/faults").document["faults"]
    assert [fault["id"] for fault in listed] == [fault_id]
    assert call(api, "DELETE", f"/faults/{fault_id}").status == 200
    assert call(api, "GET", "/faults").document["faults"] == []
    missing = call(api, "DELETE", f"/faults/{fault_id}")
    assert (missing.status, missing.document["error"]) == (404, "unknown_fault")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("GET", "/control/models/gpt-9", None, 404, "unknown_model"),
        ("PUT", "/control/models/gpt-9/replicas", {"pool": "primary", "replicas": 1}, 404,
         "unknown_model"),
        ("POST", "/faults", {"kind": "saturation", "model": "gpt-9"}, 404, "unknown_model"),
        ("PUT", f"/control/models/{LLAMA_NAME}/replicas", b"{not json", 400, "invalid_json"),
        ("PUT", f"/control/models/{LLAMA_NAME}/replicas", None, 400, "invalid_json"),
        ("PUT", f"/control/models/{LLAMA_NAME}/replicas", {"pool": "primary"}, 422,
         "invalid_request"),
        ("PUT", f"/control/models/{LLAMA_NAME}/replicas", {"pool": "tertiary", "replicas": 2},
         422, "invalid_request"),
        ("PUT", f"/control/models/{LLAMA_NAME}/replicas", {"pool": "primary", "replicas": 99},
         422, "invalid_request"),
        ("PUT", f"/control/models/{LLAMA_NAME}/replicas", {"pool": "primary", "replicas": "4"},
         422, "invalid_request"),
        ("PUT", f"/control/models/{LLAMA_NAME}/traffic", {"weights": {"primary": 50}}, 422,
         "invalid_request"),
        ("PUT", f"/control/models/{LLAMA_NAME}/traffic", {"weights": {"primary": -5,
         "secondary": 105}}, 422, "invalid_request"),
        ("PUT", f"/control/models/{LLAMA_NAME}/version", {"version": "v9.9.9"}, 422,
         "invalid_request"),
        ("POST", "/faults", {"kind": "meteor", "model": LLAMA_NAME}, 422, "invalid_request"),
        ("DELETE", "/control/models", None, 405, "method_not_allowed"),
        ("GET", "/nowhere", None, 404, "not_found"),
    ],
)  # fmt: skip
def test_bad_requests_get_clear_json_errors(
    api: ControlApi, method: str, path: str, body: Any, status: int, error: str
) -> None:
    """Unknown models, malformed bodies and out-of-range values answer a 4xx JSON error."""
    response = call(api, method, path, body)
    assert (response.status, response.document["error"]) == (status, error)
    assert response.document["detail"]


def test_refused_actions_change_nothing(api: ControlApi, simulation: Simulation) -> None:
    """A refused traffic change leaves every weight as it was."""
    call(api, "PUT", f"/control/models/{LLAMA_NAME}/traffic", {"weights": {"primary": 10}})
    weights = {
        name: pool.traffic_weight for name, pool in simulation.model(LLAMA_NAME).pools.items()
    }
    assert weights == {"primary": 75.0, "secondary": 25.0}
