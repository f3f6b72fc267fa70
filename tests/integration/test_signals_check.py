"""`firebreak signals check` against real Prometheus scraping the simulator, with dcgm-exporter
pod mapping on and off: the topology is resolved either way and every signal has data."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from bot.demo.monitoring import RunningProcess, start_prometheus
from simulator.history import ExporterOptions
from simulator.server import start_in_thread

MODEL = "llama-3-70b-instruct"
SCRAPES_NEEDED = 4


@pytest.fixture(scope="module", params=[True, False], ids=["pod-mapping", "no-pod-mapping"])
def prometheus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningProcess]:
    simulator = start_in_thread(
        port=0, seed=3, speed=10.0, options=ExporterOptions(dcgm_pod_mapping=request.param)
    )
    folder = tmp_path_factory.mktemp("prometheus")
    with start_prometheus(folder, [f"127.0.0.1:{simulator.port}"], []) as running:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = httpx.get(
                f"{running.url}/api/v1/query",
                params={"query": f"count_over_time(up[{SCRAPES_NEEDED + 1}s])"},
            ).json()
            results = answer["data"]["result"]
            if results and float(results[0]["value"][1]) >= SCRAPES_NEEDED:
                break
            time.sleep(0.5)
        yield running
    simulator.stop()


def check(
    prometheus: RunningProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    monkeypatch.setenv("FIREBREAK_PROMETHEUS_URL", prometheus.url)
    monkeypatch.setenv("FIREBREAK_HOME", str(Path.cwd() / ".firebreak-test-signals"))
    code = main(["signals", "check", "--model", MODEL, "--window", "60"])
    return code, capsys.readouterr().out


def test_topology_is_resolved_with_or_without_pod_mapping(
    request: pytest.FixtureRequest,
    prometheus: RunningProcess,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Seven pods with node, ReplicaSet and image; their GPUs by pod, or their nodes' GPUs."""
    code, out = check(prometheus, monkeypatch, capsys)
    assert code == 0, out
    assert "pods (7):" in out
    pod_lines = [line for line in out.splitlines() if line.startswith(f"    genai/{MODEL}-")]
    assert len(pod_lines) == 7
    assert all("node gpu-node-" in line and "replicaset " in line for line in pod_lines)
    assert f"registry.example.com/genai/{MODEL}:v1.4.2" in out
    if request.node.callspec.params["prometheus"]:  # dcgm-exporter maps GPUs to pods
        assert "GPUs (7, mapped by pod)" in out  # the GPU each pod uses
    else:
        assert "GPUs (56, mapped by node)" in out  # every GPU of their 7 nodes
    assert "cannot see" not in out


def test_every_signal_has_data_on_the_simulator(
    prometheus: RunningProcess,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each catalogue signal shows its query, a series count and data, except drift's own."""
    _, out = check(prometheus, monkeypatch, capsys)
    rows = [
        line.split() for line in out.splitlines() if line.startswith("  ") and "  yes  " in line
    ]
    with_data = {row[0] for row in rows}
    assert {"kv_cache_usage", "queue_waiting", "error_ratio", "request_rate", "gpu_temp"} <= (
        with_data
    )
    assert {"xid_errors", "sm_clock", "container_restarts", "drift_psi"} <= with_data


def test_unconfigured_prometheus_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a Prometheus URL the check says what to set and exits 1."""
    monkeypatch.delenv("FIREBREAK_PROMETHEUS_URL", raising=False)
    assert main(["signals", "check", "--model", MODEL]) == 1
    assert "FIREBREAK_PROMETHEUS_URL" in capsys.readouterr().err
