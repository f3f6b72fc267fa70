"""PrometheusMetricsSource against a real Prometheus binary scraping a loopback exporter."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.adapters.prometheus import PrometheusMetricsSource, step_for
from bot.correlation.catalogue import default_catalogue
from bot.correlation.engine import correlate
from bot.correlation.templates import Scope, regex_matcher, render, render_query
from bot.domain.errors import UpstreamUnavailableError
from bot.domain.findings import BadQueryError, FindingStatus

PROMETHEUS = "/usr/bin/prometheus"
KV_JUMP_AFTER_S = 12.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(condition: Callable[[], object], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not ready within {timeout_s}s")


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class Exporter(BaseHTTPRequestHandler):
    """A few vLLM and DCGM series in the text format; KV cache jumps after a while."""

    started = time.monotonic()

    def do_GET(self) -> None:
        elapsed = time.monotonic() - Exporter.started
        kv = 0.97 if elapsed > KV_JUMP_AFTER_S else 0.41
        requests = int(elapsed * 10)
        labels = 'model_name="m1",pod="p1",namespace="serving",engine="0"'
        gpu = 'gpu="{}",UUID="GPU-{}",device="nvidia{}",modelName="NVIDIA H100",Hostname="h1"'
        body = "\n".join(
            [
                "# TYPE vllm:kv_cache_usage_perc gauge",
                f"vllm:kv_cache_usage_perc{{{labels}}} {kv}",
                "# TYPE vllm:num_requests_waiting gauge",
                f"vllm:num_requests_waiting{{{labels}}} 0",
                "# TYPE vllm:time_to_first_token_seconds histogram",
                f'vllm:time_to_first_token_seconds_bucket{{{labels},le="0.5"}} {requests}',
                f'vllm:time_to_first_token_seconds_bucket{{{labels},le="+Inf"}} {requests}',
                f"vllm:time_to_first_token_seconds_sum{{{labels}}} {requests * 0.3}",
                f"vllm:time_to_first_token_seconds_count{{{labels}}} {requests}",
                "# TYPE DCGM_FI_DEV_GPU_TEMP gauge",
                "DCGM_FI_DEV_GPU_TEMP{" + gpu.format(0, 0, 0) + "} 64",
                "DCGM_FI_DEV_GPU_TEMP{" + gpu.format(1, 1, 1) + "} 66",
                "# TYPE kube_pod_info gauge",
                'kube_pod_info{namespace="serving",pod="p1",node="h1",created_by_name="rs1"} 1',
                "",
            ]
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class RunningPrometheus:
    url: str
    process: subprocess.Popen[bytes]
    started_at: datetime


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPrometheus]:
    """A real Prometheus scraping the exporter every second, on free loopback ports."""
    assert Path(PROMETHEUS).exists(), "the prometheus binary is missing: apt-get install prometheus"
    Exporter.started = time.monotonic()
    exporter, exporter_url = serve(Exporter)
    home = tmp_path_factory.mktemp("prometheus")
    config = home / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: exporter\n    static_configs:\n"
        f"      - targets: ['{exporter_url.removeprefix('http://')}']\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(home / "prometheus.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    started_at = datetime.now(UTC)

    def scraped() -> bool:
        query = urllib.request.quote('count_over_time(up{job="exporter"}[1m])')
        try:
            with urllib.request.urlopen(f"{url}/api/v1/query?query={query}", timeout=1) as answer:
                result = json.load(answer)["data"]["result"]
        except OSError:
            return False
        return bool(result) and float(result[0]["value"][1]) >= 5

    try:
        wait_until(scraped, timeout_s=30)
        yield RunningPrometheus(url, process, started_at)
    finally:
        process.terminate()
        process.wait(timeout=10)
        exporter.shutdown()


@pytest.fixture
def source(prometheus: RunningPrometheus) -> Iterator[PrometheusMetricsSource]:
    metrics = PrometheusMetricsSource(prometheus.url, timeout_s=5)
    yield metrics
    metrics.close()


def test_query_range_returns_our_series(source: PrometheusMetricsSource) -> None:
    """A range query answers Series with the exporter's labels and one point per step."""
    end = datetime.now(UTC)
    series = source.query_range(
        'DCGM_FI_DEV_GPU_TEMP{Hostname="h1"}', end - timedelta(seconds=30), end, 1.0
    )
    assert sorted(s.labels["gpu"] for s in series) == ["0", "1"]
    temps = {s.labels["gpu"]: set(s.values) for s in series}
    assert temps == {"0": {64.0}, "1": {66.0}}
    assert all(len(s.points) >= 3 for s in series)
    assert all(a[0] < b[0] for s in series for a, b in zip(s.points, s.points[1:], strict=False))


def test_instant_query_returns_the_current_value(source: PrometheusMetricsSource) -> None:
    """An instant query answers one point per series."""
    series = source.query('max(DCGM_FI_DEV_GPU_TEMP{Hostname="h1"})', datetime.now(UTC))
    assert len(series) == 1
    assert series[0].values == [66.0]


def test_scalar_instant_query_is_one_unlabelled_series(source: PrometheusMetricsSource) -> None:
    """A scalar answer becomes one series without labels."""
    series = source.query("scalar(vector(3))")
    assert [(s.labels, s.values) for s in series] == [({}, [3.0])]


def test_no_matching_series_is_an_empty_list(source: PrometheusMetricsSource) -> None:
    """A selector matching nothing answers [] — no data, never a zero."""
    end = datetime.now(UTC)
    assert source.query_range('up{job="nope"}', end - timedelta(minutes=1), end, 1.0) == []


def test_invalid_promql_is_a_bad_query_error(source: PrometheusMetricsSource) -> None:
    """Prometheus's 400 for a malformed query becomes BadQueryError, not an outage."""
    end = datetime.now(UTC)
    with pytest.raises(BadQueryError, match="400"):
        source.query_range("sum(rate(up[1m]", end - timedelta(minutes=1), end, 1.0)


def test_every_catalogue_query_parses(source: PrometheusMetricsSource) -> None:
    """Real Prometheus accepts every rendered catalogue query, topology ones included."""
    end = datetime.now(UTC)
    catalogue = default_catalogue()
    scopes = {
        Scope.MODEL: 'model_name="m1"',
        Scope.PODS: 'namespace="serving", ' + regex_matcher("pod", ["p1", "p.2"]),
        Scope.GPUS: 'Hostname="h1", UUID=~"GPU-0|GPU-1"',
        Scope.NODES: 'node="h1"',
        Scope.HOSTS: 'Hostname="h1"',
    }
    queries = [render(signal, scopes) for signal in catalogue.signals]
    queries += [render_query(q, scopes) for q in catalogue.topology.model_dump().values()]
    for promql in queries:
        source.query_range(promql, end - timedelta(minutes=2), end, 1.0)


def test_long_range_step_is_widened_under_the_point_limit(
    source: PrometheusMetricsSource,
) -> None:
    """A 40-day range at a 1 s step is widened instead of being rejected (11,000 points)."""
    end = datetime.now(UTC)
    start = end - timedelta(days=40)
    assert step_for(start, end, 1.0) == 315.0
    source.query_range("up", start, end, 1.0)


def test_prometheus_down_is_upstream_unavailable_quickly() -> None:
    """A closed port fails fast as UpstreamUnavailableError."""
    metrics = PrometheusMetricsSource(f"http://127.0.0.1:{free_port()}", timeout_s=5)
    end = datetime.now(UTC)
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailableError, match="unreachable"):
        metrics.query_range("up", end - timedelta(minutes=1), end, 1.0)
    assert time.monotonic() - started < 2.0


class SlowPrometheus(BaseHTTPRequestHandler):
    """Impersonates /api/v1/query_range but answers only after 3 seconds."""

    def do_GET(self) -> None:
        time.sleep(3.0)
        body = b'{"status":"success","data":{"resultType":"matrix","result":[]}}'
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up, as it should

    def log_message(self, format: str, *args: object) -> None:
        pass


class UnavailablePrometheus(BaseHTTPRequestHandler):
    """Answers every query with 503, as an overloaded Prometheus does."""

    def do_GET(self) -> None:
        body = b'{"status":"error","errorType":"unavailable","error":"overloaded"}'
        self.send_response(503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_slow_prometheus_times_out_as_upstream_unavailable() -> None:
    """A query slower than the timeout fails within the timeout as UpstreamUnavailableError."""
    server, url = serve(SlowPrometheus)
    try:
        metrics = PrometheusMetricsSource(url, timeout_s=1.0)
        end = datetime.now(UTC)
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailableError, match="within 1s"):
            metrics.query_range("up", end - timedelta(minutes=1), end, 1.0)
        assert time.monotonic() - started < 1.8
    finally:
        server.shutdown()


def test_server_error_is_upstream_unavailable_not_bad_query() -> None:
    """A 503 is an outage (retry later), distinct from a rejected query."""
    server, url = serve(UnavailablePrometheus)
    try:
        metrics = PrometheusMetricsSource(url, timeout_s=2.0)
        end = datetime.now(UTC)
        with pytest.raises(UpstreamUnavailableError, match="503") as caught:
            metrics.query_range("up", end - timedelta(minutes=1), end, 1.0)
        assert not isinstance(caught.value, BadQueryError)
    finally:
        server.shutdown()


def test_correlate_against_real_prometheus_sees_the_kv_jump(
    prometheus: RunningPrometheus, source: PrometheusMetricsSource
) -> None:
    """End to end on real data: the KV jump is moved with its onset; absent series stay unscored."""
    jump_at = prometheus.started_at + timedelta(seconds=KV_JUMP_AFTER_S)
    wait_until(lambda: datetime.now(UTC) > jump_at + timedelta(seconds=8), timeout_s=40)
    now = datetime.now(UTC)
    report = correlate(
        source,
        {"model_name": "m1", "alertname": "LLMKVCacheSaturated"},
        ["LLMKVCacheSaturated"],
        started_at=jump_at,
        now=now,
        baseline_s=(jump_at - prometheus.started_at).total_seconds() - 4,
        lead_s=1,
        step_s=1.0,
        rate_window_s=5,
    )
    assert report.unavailable == {}
    kv = report.finding("kv_cache_usage")
    assert kv is not None
    assert kv.status is FindingStatus.MOVED, kv
    assert kv.peak == pytest.approx(0.97)
    assert kv.baseline_median == pytest.approx(0.41)
    assert kv.onset_at is not None
    assert abs((kv.onset_at - jump_at).total_seconds()) < 4
    drift = report.finding("drift_psi")
    assert drift is not None
    assert drift.status is FindingStatus.INCONCLUSIVE
    assert report.top is not None
    assert report.top.kind.value == "capacity_saturation"
    assert report.topology["nodes"] == ["h1"]
    assert [g["UUID"] for g in report.topology["gpus"]] == ["GPU-0", "GPU-1"]
