"""`firebreak signals check` against real Prometheus scraping the simulator, with dcgm-exporter
pod mapping on and off: the topology is resolved either way and every signal has data."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.demo.monitoring import RunningProcess, start_prometheus
from simulator.history import ExporterOptions
from simulator.server import start_in_thread

MODEL = "llama-3-70b-instruct"
ROOT = Path(__file__).resolve().parents[2]
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


def check(prometheus_url: str, tmp_path: Path) -> tuple[int, str, str]:
    """Run `firebreak signals check` as a separate process, as a user would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREBREAK_")}
    env.update(FIREBREAK_PROMETHEUS_URL=prometheus_url, FIREBREAK_HOME=str(tmp_path))
    command = ["signals", "check", "--model", MODEL, "--window", "60"]
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *command],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def test_topology_is_resolved_with_or_without_pod_mapping(
    request: pytest.FixtureRequest, prometheus: RunningProcess, tmp_path: Path
) -> None:
    """Seven pods with node, ReplicaSet and image; their GPUs by pod, or their nodes' GPUs."""
    code, out, _ = check(prometheus.url, tmp_path)
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


def test_every_signal_has_data_on_the_simulator(prometheus: RunningProcess, tmp_path: Path) -> None:
    """Each catalogue signal shows its query, a series count and data."""
    _, out, _ = check(prometheus.url, tmp_path)
    rows = [
        line.split() for line in out.splitlines() if line.startswith("  ") and "  yes  " in line
    ]
    with_data = {row[0] for row in rows}
    assert {"kv_cache_usage", "queue_waiting", "error_ratio", "request_rate", "gpu_temp"} <= (
        with_data
    )
    assert {"xid_errors", "sm_clock", "container_restarts", "drift_psi"} <= with_data


def test_unconfigured_prometheus_is_refused(tmp_path: Path) -> None:
    """Without a Prometheus URL the check says what to set and exits 1."""
    code, _, err = check("", tmp_path)
    assert code == 1
    assert "FIREBREAK_PROMETHEUS_URL" in err
