"""The simulator's JSON API (its FastAPI app, in process): control actions, fault injection,
clear 4xx errors and the OpenAPI schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from simulator.app import create_app
from simulator.catalog import LLAMA, RERANKER
from simulator.refusals import MAX_BODY_BYTES
from simulator.simulation import Simulation

LLAMA_NAME, RERANKER_NAME = LLAMA.name, RERANKER.name
REPLICAS = f"/control/models/{LLAMA_NAME}/replicas"
TRAFFIC = f"/control/models/{LLAMA_NAME}/traffic"


@pytest.fixture
def simulation() -> Simulation:
    return Simulation(seed=5)


@pytest.fixture
def api(simulation: Simulation) -> Iterator[TestClient]:
    with TestClient(create_app(simulation)) as client:
        yield client


def call(api: TestClient, method: str, path: str, body: Any = None) -> httpx.Response:
    """One request, its body sent as JSON (bytes as they are); the answer is always JSON."""
    raw = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if raw else {}
    response = api.request(method, path, content=raw, headers=headers)
    assert response.headers["content-type"] == "application/json"
    return response


def test_model_state_lists_pools_weights_and_versions(api: TestClient) -> None:
    """GET a model returns replicas and weights per pool, version, history and known-good."""
    response = call(api, "GET", f"/control/models/{LLAMA_NAME}")
    assert response.status_code == 200
    state = response.json()
    assert state["version"] == state["known_good_version"] == "v1.4.2"
    assert [entry["version"] for entry in state["version_history"]] == ["v1.3.0", "v1.4.2"]
    assert {name: pool["desired_replicas"] for name, pool in state["pools"].items()} == {
        "primary": 4,
        "secondary": 3,
    }
    assert state["pools"]["primary"]["traffic_weight"] == 75.0
    assert state["pools"]["primary"]["replicas"][0]["node"] == "gpu-node-01"


def test_model_list_covers_the_fleet(api: TestClient) -> None:
    """GET /control/models lists every model."""
    response = call(api, "GET", "/control/models")
    assert [model["model"] for model in response.json()["models"]] == [LLAMA_NAME, RERANKER_NAME]


def test_setting_replicas_twice_is_harmless(api: TestClient, simulation: Simulation) -> None:
    """PUT replicas sets desired state; repeating it neither adds replicas nor resets warm-up."""
    body = {"pool": "primary", "replicas": 6}
    first = call(api, "PUT", REPLICAS, body)
    simulation.advance(30)
    second = call(api, "PUT", REPLICAS, body)
    assert first.status_code == second.status_code == 200

    def pods(response: httpx.Response) -> list[str]:
        return [replica["pod"] for replica in response.json()["pools"]["primary"]["replicas"]]

    assert pods(first) == pods(second)
    assert len(pods(second)) == 6
    simulation.advance(31)
    pool = call(api, "GET", f"/control/models/{LLAMA_NAME}").json()["pools"]["primary"]
    assert (pool["desired_replicas"], pool["ready_replicas"]) == (6, 6)


def test_traffic_weights_move_traffic(api: TestClient, simulation: Simulation) -> None:
    """PUT traffic routes all requests to the secondary pool; the primary goes idle."""
    response = call(
        api,
        "PUT",
        TRAFFIC,
        {"weights": {"primary": 0, "secondary": 100}},
    )
    assert response.status_code == 200
    assert response.json()["pools"]["secondary"]["traffic_weight"] == 100.0
    simulation.advance(30)
    primary = simulation.model(LLAMA_NAME).pools["primary"].replicas
    assert all(replica.gpu.utilization_pct == 0 for replica in primary)


def test_version_rollback_and_known_good(api: TestClient) -> None:
    """After a bad deploy the known-good version is the previous one; PUT version rolls back."""
    injected = call(api, "POST", "/faults", {"kind": "bad_deploy", "model": RERANKER_NAME})
    assert (injected.status_code, injected.json()["version"]) == (201, "2.4.0")
    state = call(api, "GET", f"/control/models/{RERANKER_NAME}").json()
    assert (state["version"], state["known_good_version"]) == ("2.4.0", "2.3.0")
    rolled_back = call(api, "PUT", f"/control/models/{RERANKER_NAME}/version", {"version": "2.3.0"})
    assert rolled_back.json()["version"] == "2.3.0"
    again = call(api, "PUT", f"/control/models/{RERANKER_NAME}/version", {"version": "2.3.0"})
    assert again.json()["version_history"] == rolled_back.json()["version_history"]


def test_faults_are_listed_and_cleared(api: TestClient) -> None:
    """POST /faults returns an id, GET lists it, DELETE clears it, a second DELETE is 404."""
    created = call(api, "POST", "/faults", {"kind": "thermal", "model": LLAMA_NAME, "intensity": 1})
    fault_id = created.json()["id"]
    assert created.json()["node"] == "gpu-node-01"
    listed = call(api, "GET", "/faults").json()["faults"]
    assert [fault["id"] for fault in listed] == [fault_id]
    assert call(api, "DELETE", f"/faults/{fault_id}").status_code == 200
    assert call(api, "GET", "/faults").json()["faults"] == []
    missing = call(api, "DELETE", f"/faults/{fault_id}")
    assert (missing.status_code, missing.json()["error"]) == (404, "unknown_fault")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("GET", "/control/models/gpt-9", None, 404, "unknown_model"),
        ("PUT", "/control/models/gpt-9/replicas", {"pool": "primary", "replicas": 1}, 404,
         "unknown_model"),
        ("PUT", "/control/models/gpt-9/replicas", {"pool": 1}, 404, "unknown_model"),
        ("POST", "/faults", {"kind": "saturation", "model": "gpt-9"}, 404, "unknown_model"),
        ("PUT", REPLICAS, b"{not json", 400, "invalid_json"),
        ("PUT", REPLICAS, None, 400, "invalid_json"),
        ("PUT", REPLICAS, {"pool": "primary"}, 422, "invalid_request"),
        ("PUT", REPLICAS, {"pool": "tertiary", "replicas": 2}, 422, "invalid_request"),
        ("PUT", REPLICAS, {"pool": "primary", "replicas": 99}, 422, "invalid_request"),
        ("PUT", REPLICAS, {"pool": "primary", "replicas": "4"}, 422, "invalid_request"),
        ("PUT", TRAFFIC, {"weights": {"primary": 50}}, 422, "invalid_request"),
        ("PUT", TRAFFIC, {"weights": {"primary": -5, "secondary": 105}}, 422, "invalid_request"),
        ("PUT", f"/control/models/{LLAMA_NAME}/version", {"version": "v9.9.9"}, 422,
         "invalid_request"),
        ("POST", "/faults", {"kind": "meteor", "model": LLAMA_NAME}, 422, "invalid_request"),
        ("PUT", REPLICAS, [{"pool": "primary", "replicas": 2}], 422, "invalid_request"),
        ("DELETE", "/control/models", None, 405, "method_not_allowed"),
        ("GET", "/nowhere", None, 404, "not_found"),
    ],
)  # fmt: skip
def test_bad_requests_get_clear_json_errors(
    api: TestClient, method: str, path: str, body: Any, status: int, error: str
) -> None:
    """Unknown models, malformed bodies and out-of-range values answer a 4xx JSON error."""
    response = call(api, method, path, body)
    assert (response.status_code, response.json()["error"]) == (status, error)
    assert response.json()["detail"]


def test_refused_actions_change_nothing(api: TestClient, simulation: Simulation) -> None:
    """A refused traffic change leaves every weight as it was."""
    call(api, "PUT", TRAFFIC, {"weights": {"primary": 10}})
    weights = {
        name: pool.traffic_weight for name, pool in simulation.model(LLAMA_NAME).pools.items()
    }
    assert weights == {"primary": 75.0, "secondary": 25.0}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (REPLICAS, {"pool": "primary", "replicas": "4"}, "replicas"),
        (REPLICAS, {"pool": 1, "replicas": 4}, "pool"),
        (TRAFFIC, {"weights": {"primary": "all"}}, "weights.primary"),
        (f"/control/models/{LLAMA_NAME}/version", {"version": 2}, "version"),
        ("/faults", {"kind": "saturation", "model": LLAMA_NAME, "intensity": True}, "intensity"),
        ("/faults", {"kind": "thermal", "model": LLAMA_NAME, "xid": 48}, "xid"),
        ("/faults", {"kind": "saturation", "model": LLAMA_NAME, "colour": "red"}, "colour"),
    ],
)  # fmt: skip
def test_a_field_of_the_wrong_type_is_named(
    api: TestClient, path: str, body: Any, field: str
) -> None:
    """A body that parses but has a field of the wrong type (or one too many) is a 422 that
    names the field."""
    method = "PUT" if path.startswith("/control") else "POST"
    response = call(api, method, path, body)
    assert (response.status_code, response.json()["error"]) == (422, "invalid_request")
    assert response.json()["detail"].startswith(f"{field}: ")


def test_malformed_json_is_a_400_saying_so(api: TestClient, simulation: Simulation) -> None:
    """A body that is not JSON, or not sent as JSON, is a 400 and changes nothing."""
    broken = call(api, "PUT", REPLICAS, b'{"pool": "primary", "replicas": ')
    assert (broken.status_code, broken.json()["error"]) == (400, "invalid_json")
    assert "not valid JSON" in broken.json()["detail"]
    as_text = api.put(
        REPLICAS,
        content=b'{"pool": "primary", "replicas": 6}',
        headers={"Content-Type": "text/plain"},
    )
    assert (as_text.status_code, as_text.json()["error"]) == (400, "invalid_json")
    assert simulation.model(LLAMA_NAME).pools["primary"].desired_replicas == 4


def test_unknown_model_and_unknown_pool_keep_their_statuses(api: TestClient) -> None:
    """An unknown model is a 404 listing the fleet's models; an unknown pool of a known model is
    a 422 listing its pools."""
    model = call(api, "PUT", "/control/models/gpt-9/traffic", {"weights": {"primary": 100}})
    assert (model.status_code, model.json()["error"]) == (404, "unknown_model")
    assert LLAMA_NAME in model.json()["detail"]
    pool = call(api, "PUT", TRAFFIC, {"weights": {"canary": 100}})
    assert (pool.status_code, pool.json()["error"]) == (422, "invalid_request")
    assert "canary" in pool.json()["detail"]
    assert "primary, secondary" in pool.json()["detail"]


def test_wrong_method_lists_the_methods_the_path_accepts(api: TestClient) -> None:
    """A method a path does not serve is a 405 naming every method it does, in Allow too."""
    response = call(api, "DELETE", "/faults")
    assert (response.status_code, response.json()["error"]) == (405, "method_not_allowed")
    assert response.headers["allow"] == "GET, POST"


def test_a_trailing_slash_reaches_the_same_route(api: TestClient) -> None:
    """A path with a trailing slash is answered, not redirected, as before."""
    response = call(api, "PUT", f"{REPLICAS}/", {"pool": "primary", "replicas": 5})
    assert response.status_code == 200
    assert response.json()["pools"]["primary"]["desired_replicas"] == 5


def test_a_body_past_the_limit_is_a_413(api: TestClient) -> None:
    """A body larger than the limit is refused with 413 before it is parsed."""
    response = call(api, "PUT", REPLICAS, b" " * (MAX_BODY_BYTES + 1))
    assert (response.status_code, response.json()["error"]) == (413, "body_too_large")


def test_openapi_lists_the_control_routes_and_their_bodies(api: TestClient) -> None:
    """/openapi.json lists every route with its methods, and the pydantic body of each action."""
    schema = api.get("/openapi.json").json()
    methods = {path: set(operations) for path, operations in schema["paths"].items()}
    assert methods == {
        "/metrics": {"get"},
        "/healthz": {"get"},
        "/faults": {"get", "post"},
        "/faults/{fault_id}": {"delete"},
        "/control/models": {"get"},
        "/control/models/{model}": {"get"},
        "/control/models/{model}/replicas": {"put"},
        "/control/models/{model}/traffic": {"put"},
        "/control/models/{model}/version": {"put"},
        "/control/models/{model}/releases": {"post"},
    }
    replicas = schema["paths"]["/control/models/{model}/replicas"]["put"]
    body = replicas["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ReplicasBody"}
    assert set(schema["components"]["schemas"]["ReplicasBody"]["required"]) == {"pool", "replicas"}
    assert replicas["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorDocument"
    }
