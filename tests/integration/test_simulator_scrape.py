"""Real Prometheus scraping the simulator every second: the contract's series arrive intact."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.demo.monitoring import RunningProcess, start_prometheus
from simulator.server import RunningSimulator, start_in_thread

LLAMA = "llama-3-70b-instruct"
FLEET_PODS = 9


@pytest.fixture(scope="module")
def simulator() -> Iterator[RunningSimulator]:
    running = start_in_thread(port=0, seed=21, speed=10.0)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, simulator: RunningSimulator
) -> Iterator[RunningProcess]:
    running = start_prometheus(
        tmp_path_factory.mktemp("scrape"), [f"127.0.0.1:{simulator.port}"], rule_files=[]
    )
    yield running
    running.stop()


def query(prometheus: RunningProcess, promql: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": promql})
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def eventually(
    prometheus: RunningProcess, promql: str, expected: int, timeout_s: float = 20.0
) -> list[dict[str, Any]]:
    """Poll ``promql`` until it returns ``expected`` series; fail with the last answer."""
    deadline = time.monotonic() + timeout_s
    result: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        result = query(prometheus, promql)
        if len(result) == expected:
            return result
        time.sleep(0.5)
    raise AssertionError(f"{promql}: wanted {expected} series, got {result}")


def test_every_pod_and_gpu_is_scraped_with_its_labels(prometheus: RunningProcess) -> None:
    """vLLM series per pod and DCGM series per GPU arrive with the contract's labels only."""
    engines = eventually(prometheus, "vllm:kv_cache_usage_perc", FLEET_PODS)
    assert {series["metric"]["engine"] for series in engines} == {"0"}
    assert {series["metric"]["namespace"] for series in engines} == {"genai"}
    assert all("pool" not in series["metric"] for series in engines)
    gpus = eventually(prometheus, "DCGM_FI_DEV_GPU_TEMP", 8 * FLEET_PODS)
    assert not any("model_name" in g["metric"] or "hostname" in g["metric"] for g in gpus)
    mapped = eventually(prometheus, 'DCGM_FI_DEV_GPU_TEMP{pod!=""}', FLEET_PODS)
    assert {g["metric"]["pod"] for g in mapped} == {e["metric"]["pod"] for e in engines}
    eventually(prometheus, 'kube_pod_status_ready{condition="true"} == 1', FLEET_PODS)


def test_rates_and_histograms_are_queryable(prometheus: RunningProcess) -> None:
    """Request rates, error ratios and TTFT quantiles compute from the scraped counters."""
    eventually(prometheus, "up == 1", 1)
    time.sleep(3)
    rates = query(prometheus, "sum by (model_name) (rate(vllm:request_success_total[1m])) > 0")
    assert {series["metric"]["model_name"] for series in rates} == {LLAMA, "reranker-v2"}
    errors = query(
        prometheus,
        'sum(rate(http_requests_total{status="5xx"}[1m])) / sum(rate(http_requests_total[1m]))',
    )
    assert 0 <= float(errors[0]["value"][1]) < 0.05
    p99 = query(
        prometheus,
        "histogram_quantile(0.99, sum by (le, model_name) "
        "(rate(vllm:time_to_first_token_seconds_bucket[1m])))",
    )
    assert all(0 < float(series["value"][1]) < 2.5 for series in p99)
    assert len(p99) == 2


def test_counters_never_reset_between_scrapes(prometheus: RunningProcess) -> None:
    """No counter or histogram series of the simulator shows a reset."""
    eventually(prometheus, "up == 1", 1)
    time.sleep(2)
    counters = [
        "vllm:num_preemptions_total", "vllm:request_success_total", "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total", "vllm:time_to_first_token_seconds_bucket",
        "vllm:e2e_request_latency_seconds_bucket", "vllm:inter_token_latency_seconds_bucket",
        "http_requests_total", "http_request_duration_seconds_bucket",
        "kube_pod_container_status_restarts_total",
    ]  # fmt: skip
    for counter in counters:
        assert query(prometheus, f"resets({counter}[1m]) > 0") == [], counter


def test_control_actions_show_up_in_prometheus(
    prometheus: RunningProcess, simulator: RunningSimulator
) -> None:
    """Scaling a pool through the control API changes its Deployment as Prometheus sees it."""
    httpx.put(
        f"{simulator.url}/control/models/{LLAMA}/replicas",
        json={"pool": "secondary", "replicas": 5},
    ).raise_for_status()
    deployment = f"{LLAMA}-secondary"
    eventually(prometheus, f'kube_deployment_spec_replicas{{deployment="{deployment}"}} == 5', 1)
    eventually(prometheus, f'count(vllm:num_requests_running{{model_name="{LLAMA}"}}) == 9', 1)
