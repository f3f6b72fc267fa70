"""The shipped Prometheus and Alertmanager configs: checked by promtool / amtool, and firing.

The firing tests run two scenarios against the real binaries with the shipped rules unchanged:
the simulator (20x speed, emitting only what vLLM, its API server, dcgm-exporter and
kube-state-metrics emit) with five faults at once, keyed so each alert can only come from its
own fault -- saturation and a bad deploy on llama, a GPU XID and upstream errors on the
reranker, thermal throttling on one llama secondary node. Prometheus scrapes and evaluates
every second; Alertmanager posts to a loopback webhook receiver. The second scenario runs an
older exporter set -- dcgm-exporter without pod mapping and with its old field names, vLLM
before 0.10 -- on nodes that two models share.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from bot.demo.monitoring import (
    ALERTMANAGER_CONFIG,
    PROMETHEUS_CONFIG,
    PROMETHEUS_RULES,
    RunningProcess,
    binary,
    start_alertmanager,
    start_prometheus,
)
from simulator.series import ExporterOptions
from simulator.server import RunningSimulator, start_in_thread

T = TypeVar("T")
DEPLOY_PROMETHEUS = PROMETHEUS_CONFIG.parent
LLAMA, RERANKER = "llama-3-70b-instruct", "reranker-v2"
THERMAL_NODE = "gpu-node-05"
XID_NODE = "gpu-node-08"
SHARED_NODE = "gpu-node-01"
"""With shared nodes: a llama primary pod and a reranker pod on the same node."""
NAMESPACE = "genai"
WEBHOOK_TOKEN = "am-webhook-test-token"
FIRING_TIMEOUT_S = 60.0
"""`for: 30s` plus the time the simulator needs to develop the fault, with room to spare."""


def run_tool(*command: str, cwd: Path = DEPLOY_PROMETHEUS) -> str:
    completed = subprocess.run(
        [binary(command[0]), *command[1:]], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    return output


def test_prometheus_config_is_valid() -> None:
    """promtool accepts the shipped prometheus.yml and finds the rule files it names."""
    output = run_tool("promtool", "check", "config", str(PROMETHEUS_CONFIG))
    assert "2 rule files found" in output  # genai.yml and firebreak.yml


def test_rules_are_valid() -> None:
    """promtool accepts the shipped alert and recording rules."""
    run_tool("promtool", "check", "rules", str(PROMETHEUS_RULES))


def test_rule_unit_tests_pass() -> None:
    """The promtool unit tests of every alert pass."""
    run_tool("promtool", "test", "rules", "tests/genai_test.yml")


def test_alertmanager_config_is_valid() -> None:
    """amtool accepts the shipped alertmanager.yml."""
    output = run_tool("amtool", "check-config", str(ALERTMANAGER_CONFIG))
    assert "2 receivers" in output  # Firebreak, and the operators who hear about Firebreak


@dataclass
class WebhookReceiver:
    """A loopback stand-in for Firebreak's webhook: records each delivery."""

    server: ThreadingHTTPServer
    deliveries: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/alertmanager"


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookReceiver]:
    received: list[tuple[dict[str, str], dict[str, Any]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Deliveries are asserted on, not logged."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield WebhookReceiver(server, received)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def faulty_fleet(
    tmp_path_factory: pytest.TempPathFactory, webhook: WebhookReceiver
) -> Iterator[RunningProcess]:
    """Simulator + Alertmanager + Prometheus with the shipped rules; faults injected."""
    tmp_path = tmp_path_factory.mktemp("rules")
    simulator: RunningSimulator = start_in_thread(port=0, seed=17, speed=20.0)
    alertmanager = start_alertmanager(tmp_path, webhook.url, WEBHOOK_TOKEN)
    prometheus = start_prometheus(
        tmp_path,
        [f"127.0.0.1:{simulator.port}"],
        [PROMETHEUS_RULES],
        alertmanager_url=alertmanager.url,
    )
    try:
        wait_for(lambda: query(prometheus, 'up{job="genai-fleet"} == 1'), timeout_s=20)
        time.sleep(3)  # a healthy baseline before anything breaks
        faults = [
            {"kind": "saturation", "model": LLAMA},
            {"kind": "bad_deploy", "model": LLAMA},
            {"kind": "thermal", "model": LLAMA, "node": THERMAL_NODE},
            {"kind": "gpu_xid", "model": RERANKER, "node": XID_NODE, "xid": 79},
            {"kind": "upstream_errors", "model": RERANKER},
        ]
        for fault in faults:
            httpx.post(f"{simulator.url}/faults", json=fault).raise_for_status()
        yield prometheus
    finally:
        prometheus.stop()
        alertmanager.stop()
        simulator.stop()


def query(prometheus: RunningProcess, promql: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": promql})
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def alerts(prometheus: RunningProcess) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus.url}/api/v1/alerts")
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()["data"]["alerts"]
    return found


def wait_for(condition: Callable[[], T | None], timeout_s: float) -> T:
    """Poll ``condition`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"not true within {timeout_s}s")


def wait_for_firing(prometheus: RunningProcess, **labels: str) -> dict[str, Any]:
    """The first firing alert whose labels include ``labels``; fails after the timeout."""

    def firing() -> dict[str, Any] | None:
        for alert in alerts(prometheus):
            if alert["state"] == "firing" and labels.items() <= alert["labels"].items():
                return alert
        return None

    try:
        return wait_for(firing, FIRING_TIMEOUT_S)
    except AssertionError:
        names = sorted({(a["labels"]["alertname"], a["state"]) for a in alerts(prometheus)})
        raise AssertionError(f"no firing alert with {labels}; alerts: {names}") from None


def test_saturation_fires_kv_cache_and_ttft_burn(faulty_fleet: RunningProcess) -> None:
    """A traffic surge fires LLMKVCacheSaturated for llama's namespace and model, and the TTFT
    page."""
    saturated = wait_for_firing(
        faulty_fleet, alertname="LLMKVCacheSaturated", model_name=LLAMA, namespace=NAMESPACE
    )
    assert "pool" not in saturated["labels"]
    assert saturated["labels"]["severity"] == "warning"
    assert saturated["labels"]["service"] == "llm-serving"
    assert saturated["annotations"]["runbook_url"].endswith("/scale-out")
    burn = wait_for_firing(
        faulty_fleet, alertname="LLMTTFTErrorBudgetBurn", model_name=LLAMA, severity="critical"
    )
    assert float(burn["value"]) > 0.144


def test_gpu_xid_fires_for_its_node(faulty_fleet: RunningProcess) -> None:
    """XID 79 fires GPUXidError with the node's Hostname and, through dcgm-exporter's pod
    mapping, the model its pod served -- though the pod's engine died with the GPU."""
    alert = wait_for_firing(faulty_fleet, alertname="GPUXidError", Hostname=XID_NODE)
    assert alert["labels"]["model_name"] == RERANKER
    assert alert["labels"]["pod"].startswith(f"{RERANKER}-primary-")
    assert alert["labels"]["severity"] == "critical"
    assert float(alert["value"]) == 79


def test_bad_deploy_fires_drift_and_error_ratio_after_deploy(faulty_fleet: RunningProcess) -> None:
    """A bad deploy (a rolling update to a new ReplicaSet) fires LLMModelDrift and
    LLMErrorRatioAfterDeploy for its model."""
    wait_for_firing(faulty_fleet, alertname="LLMModelDrift", model_name=LLAMA)
    wait_for_firing(faulty_fleet, alertname="LLMErrorRatioAfterDeploy", model_name=LLAMA)


def test_thermal_fires_throttling_for_its_node(faulty_fleet: RunningProcess) -> None:
    """A hot GPU fires GPUThermalThrottling with its Hostname."""
    alert = wait_for_firing(faulty_fleet, alertname="GPUThermalThrottling", Hostname=THERMAL_NODE)
    assert float(alert["value"]) >= 87


def test_upstream_errors_fire_server_errors_for_their_model(faulty_fleet: RunningProcess) -> None:
    """A failing dependency shows as the reranker's 5xx ratio: LLMServerErrors, and no
    deploy alert, since the reranker did not roll out."""
    alert = wait_for_firing(faulty_fleet, alertname="LLMServerErrors", model_name=RERANKER)
    assert float(alert["value"]) > 0.05
    assert not [
        a
        for a in alerts(faulty_fleet)
        if a["labels"]["alertname"] == "LLMErrorRatioAfterDeploy"
        and a["labels"]["model_name"] == RERANKER
    ]


def test_no_alert_fires_for_a_fault_that_was_not_injected(faulty_fleet: RunningProcess) -> None:
    """Every active alert belongs to an injected fault: right alert, right model, right node."""
    expected = {
        ("LLMKVCacheSaturated", LLAMA),
        ("LLMTTFTErrorBudgetBurn", LLAMA),
        ("LLMModelDrift", LLAMA),
        ("LLMErrorRatioAfterDeploy", LLAMA),
        ("GPUThermalThrottling", LLAMA),
        ("GPUXidError", RERANKER),
        ("LLMServerErrors", RERANKER),  # the failing dependency, and the dying engine's 5xx
        ("LLMServerErrors", LLAMA),  # the bad deploy's; Alertmanager inhibits it
    }
    wait_for_firing(faulty_fleet, alertname="GPUThermalThrottling")
    active = alerts(faulty_fleet)
    unexpected = [
        alert["labels"]
        for alert in active
        if (alert["labels"]["alertname"], alert["labels"].get("model_name")) not in expected
    ]
    assert unexpected == []
    hosts = {
        alert["labels"]["alertname"]: alert["labels"]["Hostname"]
        for alert in active
        if "Hostname" in alert["labels"]
    }
    assert hosts == {"GPUXidError": XID_NODE, "GPUThermalThrottling": THERMAL_NODE}
    assert not [alert["labels"] for alert in active if "pool" in alert["labels"]]


def test_alertmanager_delivers_to_the_firebreak_webhook(
    faulty_fleet: RunningProcess, webhook: WebhookReceiver
) -> None:
    """Alertmanager posts webhook v4 groups per alertname and model with the bearer token."""
    wait_for_firing(faulty_fleet, alertname="GPUXidError")

    def xid_delivery() -> tuple[dict[str, str], dict[str, Any]] | None:
        return next(
            (
                (headers, body)
                for headers, body in webhook.deliveries
                if body["groupLabels"].get("alertname") == "GPUXidError"
            ),
            None,
        )

    headers, body = wait_for(xid_delivery, timeout_s=20)
    assert headers["Authorization"] == f"Bearer {WEBHOOK_TOKEN}"
    assert body["version"] == "4"
    assert body["status"] == "firing"
    assert body["groupLabels"] == {"alertname": "GPUXidError", "model_name": RERANKER}
    assert body["alerts"][0]["labels"]["Hostname"] == XID_NODE


@pytest.fixture(scope="module")
def older_exporters_on_shared_nodes(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningProcess]:
    """No dcgm pod mapping, old DCGM and vLLM names, a node serving two models; faults injected."""
    tmp_path = tmp_path_factory.mktemp("rules-old-exporters")
    options = ExporterOptions(dcgm_pod_mapping=False, vllm_names="old", dcgm_names="old")
    simulator = start_in_thread(port=0, seed=17, speed=20.0, options=options, shared_nodes=True)
    prometheus = start_prometheus(tmp_path, [f"127.0.0.1:{simulator.port}"], [PROMETHEUS_RULES])
    try:
        wait_for(lambda: query(prometheus, 'up{job="genai-fleet"} == 1'), timeout_s=20)
        time.sleep(3)
        faults = [
            {"kind": "saturation", "model": LLAMA},
            {"kind": "thermal", "model": LLAMA, "node": THERMAL_NODE},
            {"kind": "gpu_xid", "model": RERANKER, "node": SHARED_NODE, "xid": 79},
        ]
        for fault in faults:
            httpx.post(f"{simulator.url}/faults", json=fault).raise_for_status()
        yield prometheus
    finally:
        prometheus.stop()
        simulator.stop()


def test_xid_on_a_shared_node_without_pod_mapping_fires_once_per_model(
    older_exporters_on_shared_nodes: RunningProcess,
) -> None:
    """Without pod mapping, the faulty GPU's node is joined to its models through
    kube-state-metrics: one GPUXidError per model on the node, all for the same GPU."""

    def models_alerted() -> set[str] | None:
        found = {
            alert["labels"].get("model_name", "")
            for alert in alerts(older_exporters_on_shared_nodes)
            if alert["state"] == "firing"
            and alert["labels"]["alertname"] == "GPUXidError"
            and alert["labels"]["Hostname"] == SHARED_NODE
        }
        return found if found == {LLAMA, RERANKER} else None

    wait_for(models_alerted, FIRING_TIMEOUT_S)
    xid = [
        alert["labels"]
        for alert in alerts(older_exporters_on_shared_nodes)
        if alert["labels"]["alertname"] == "GPUXidError"
    ]
    assert len({(labels["Hostname"], labels["gpu"]) for labels in xid}) == 1
    assert all("pod" not in labels for labels in xid)


def test_old_exporter_names_fire_thermal_and_saturation(
    older_exporters_on_shared_nodes: RunningProcess,
) -> None:
    """DCGM_FI_DEV_CLOCK_THROTTLE_REASONS and vllm:gpu_cache_usage_perc fire the same alerts as
    their new names, the GPU one named with its node's model."""
    thermal = wait_for_firing(
        older_exporters_on_shared_nodes, alertname="GPUThermalThrottling", Hostname=THERMAL_NODE
    )
    assert thermal["labels"]["model_name"] == LLAMA
    wait_for_firing(
        older_exporters_on_shared_nodes,
        alertname="LLMKVCacheSaturated",
        model_name=LLAMA,
        namespace=NAMESPACE,
    )
