"""The simulator over real HTTP: /metrics, fault injection and control, clock and shutdown."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from simulator.server import RunningSimulator, start_in_thread

LLAMA = "llama-3-70b-instruct"


@pytest.fixture
def simulator() -> Iterator[RunningSimulator]:
    running = start_in_thread(host="127.0.0.1", port=0, seed=3, speed=10.0)
    yield running
    running.stop()


def test_metrics_endpoint_serves_prometheus_text(simulator: RunningSimulator) -> None:
    """GET /metrics answers 200 in text format 0.0.4 that the Prometheus parser accepts."""
    response = httpx.get(f"{simulator.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"vllm:kv_cache_usage_perc", "DCGM_FI_DEV_XID_ERRORS", "llm_drift_score"} <= names


def test_clock_runs_at_the_requested_speed(simulator: RunningSimulator) -> None:
    """At speed 10 the simulated clock advances about ten seconds per wall second."""
    first = httpx.get(f"{simulator.url}/healthz").json()["clock_s"]
    time.sleep(1.0)
    second = httpx.get(f"{simulator.url}/healthz").json()["clock_s"]
    assert 6.0 <= second - first <= 14.0


def test_faults_and_control_over_http(simulator: RunningSimulator) -> None:
    """POST /faults answers 201 with an id; PUT control actions answer the new state."""
    with httpx.Client(base_url=simulator.url) as client:
        created = client.post("/faults", json={"kind": "saturation", "model": LLAMA})
        assert created.status_code == 201
        fault_id = created.json()["id"]
        assert [f["id"] for f in client.get("/faults").json()["faults"]] == [fault_id]
        scaled = client.put(
            f"/control/models/{LLAMA}/replicas", json={"pool": "primary", "replicas": 8}
        )
        assert scaled.status_code == 200
        assert scaled.json()["pools"]["primary"]["desired_replicas"] == 8
        assert client.delete(f"/faults/{fault_id}").status_code == 200


def test_bad_requests_answer_json_errors_over_http(simulator: RunningSimulator) -> None:
    """Malformed JSON is a 400 and an unknown model a 404, both as JSON documents."""
    with httpx.Client(base_url=simulator.url) as client:
        malformed = client.put(
            f"/control/models/{LLAMA}/traffic",
            content=b"{weights",
            headers={"Content-Type": "application/json"},
        )
        assert (malformed.status_code, malformed.json()["error"]) == (400, "invalid_json")
        unknown = client.get("/control/models/gpt-9")
        assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_model")
        assert unknown.headers["content-type"] == "application/json"
        wrong_type = client.put(
            f"/control/models/{LLAMA}/replicas", json={"pool": "primary", "replicas": "8"}
        )
        assert (wrong_type.status_code, wrong_type.json()["error"]) == (422, "invalid_request")
        assert wrong_type.json()["detail"].startswith("replicas: ")


def test_openapi_schema_is_served(simulator: RunningSimulator) -> None:
    """GET /openapi.json describes the control API the simulator serves."""
    schema = httpx.get(f"{simulator.url}/openapi.json").json()
    assert "put" in schema["paths"]["/control/models/{model}/traffic"]
    assert "post" in schema["paths"]["/faults"]


def test_a_port_in_use_is_refused_at_start(simulator: RunningSimulator) -> None:
    """Starting on a port another server holds raises OSError instead of serving nothing."""
    with pytest.raises(OSError, match="in use"):
        start_in_thread(port=simulator.port, seed=1, speed=1.0)


def test_stop_releases_the_port() -> None:
    """After stop() the port can be bound again."""
    running = start_in_thread(port=0, seed=1, speed=1.0)
    port = running.port
    running.stop()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_malformed_content_length_is_a_400(simulator: RunningSimulator) -> None:
    """A request whose Content-Length is not a number is refused with 400, not dropped (by the
    HTTP server itself: such a request never reaches the API, so the answer is plain text)."""
    with socket.create_connection(("127.0.0.1", simulator.port), timeout=5) as sock:
        sock.sendall(
            b"PUT /control/models/llama-3-70b-instruct/replicas HTTP/1.1\r\n"
            b"Host: 127.0.0.1\r\nContent-Length: lots\r\nConnection: close\r\n\r\n"
        )
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400")
