"""correlate(): topology first, scoped queries, failures, blind spots, charts, stored report."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from bot.correlation.engine import choose_step_s, correlate
from bot.domain.errors import UpstreamUnavailableError
from bot.domain.findings import BadQueryError, FindingStatus, HypothesisKind, TriageReport
from tests.fakes.metrics import Answer, FakeMetricsSource, stepped

ONSET = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
ALERT_AT = ONSET + timedelta(minutes=3)
NOW = ONSET + timedelta(minutes=8)
LABELS = {"model_name": "llama-3-8b"}
POD = {"namespace": "genai", "pod": "llama-3-8b-primary-7c9d5f8b6d-x2k4q"}
NODE = "gpu-node-01"
GPU = {"Hostname": NODE, "gpu": "0", "UUID": "GPU-1111"}

# Keys are substrings of the catalogue's queries: topology first, then the signals.
PODS_QUERY = "group by (namespace, pod) ({__name__"
POD_INFO = "kube_pod_info{namespace"
GPUS_QUERY = "group by (Hostname, gpu, UUID, pod, namespace)"


def fleet(**extra: Answer) -> FakeMetricsSource:
    """One pod on one node with one GPU, every exporter answering, KV cache jumping at onset."""
    answers: dict[str, Answer] = {
        PODS_QUERY: stepped(POD, 1, 1, ONSET),
        POD_INFO: stepped(
            {**POD, "node": NODE, "created_by_name": "llama-3-8b-primary-7c9d5f8b6d"}, 1, 1, ONSET
        ),
        GPUS_QUERY: stepped(GPU, 1, 1, ONSET),
        "vllm:kv_cache_usage_perc": stepped({}, 0.4, 0.98, ONSET),
        "vllm:num_requests_waiting{": stepped({}, 1, 60, ONSET),
        "DCGM_FI_DEV_GPU_TEMP{": stepped(GPU, 60, 61, ONSET),
        "http_requests_total": stepped({}, 10, 30, ONSET),
    }
    answers.update(extra)
    return FakeMetricsSource(answers)


def test_queries_cover_baseline_and_window_with_explicit_range() -> None:
    """Every query spans baseline start to now, with a step well under 11,000 points."""
    source = fleet()
    report = correlate(source, LABELS, [], ALERT_AT, NOW, baseline_s=1800, lead_s=600)
    assert report.window_start == ALERT_AT - timedelta(seconds=600)
    assert report.baseline_start == report.window_start - timedelta(seconds=1800)
    assert source.calls
    for call in source.calls:
        assert (call.start, call.end) == (report.baseline_start, NOW)
        assert call.step_s == report.step_s
    assert len(report.queries) == len(source.calls)


def test_step_grows_with_long_incidents() -> None:
    """A day-long range gets a coarser step, keeping about 720 points."""
    assert choose_step_s(2400) == 15.0
    assert choose_step_s(86_400) == 120.0


def test_signals_are_scoped_through_the_topology() -> None:
    """Model signals carry the model, per-pod ones the pods, GPU ones the GPUs' UUIDs."""
    source = fleet()
    correlate(source, {"model_name": 'we"ird'}, [], ALERT_AT, NOW)
    queries = [c.promql for c in source.calls]
    kv = next(q for q in queries if "kv_cache_usage_perc" in q)
    assert 'model_name="we\\"ird"' in kv
    errors = next(q for q in queries if "http_requests_total" in q and "5xx" in q)
    assert f'pod="{POD["pod"]}"' in errors
    assert "model_name" not in errors
    temp = next(q for q in queries if "DCGM_FI_DEV_GPU_TEMP{" in q)
    assert 'UUID="GPU-1111"' in temp
    assert "model_name" not in temp
    assert not any("DCGM" in q and "model_name" in q for q in queries)


def test_unresolved_pods_leave_per_pod_signals_unasked() -> None:
    """Without pods, per-pod and GPU signals are inconclusive and never sent fleet-wide."""
    source = FakeMetricsSource()
    report = correlate(source, LABELS, [], ALERT_AT, NOW)
    errors = report.finding("error_ratio")
    assert errors is not None
    assert errors.status is FindingStatus.INCONCLUSIVE
    assert "pods" in errors.reason
    assert not any("http_requests_total" in c.promql for c in source.calls)
    assert not any(c.promql.startswith("max by (Hostname, gpu) (DCGM") for c in source.calls)


def test_no_data_everywhere_is_inconclusive_not_a_confident_answer() -> None:
    """A Prometheus that knows none of the series ranks unknown at zero, saying so."""
    report = correlate(FakeMetricsSource(), LABELS, ["LLMKVCacheSaturated"], ALERT_AT, NOW)
    assert report.top is not None
    assert report.top.kind is HypothesisKind.UNKNOWN
    assert report.top.confidence == 0.0
    assert "inconclusive" in report.top.explanation
    assert all(f.status is not FindingStatus.MOVED for f in report.findings)


def test_prometheus_down_is_inconclusive_and_said() -> None:
    """Every query failing gives no confident cause and names Prometheus as unavailable."""
    down = UpstreamUnavailableError("connection refused")
    source = FakeMetricsSource({"": down})
    report = correlate(source, LABELS, ["GPUXidError"], ALERT_AT, NOW)
    assert report.top is not None
    assert report.top.kind is HypothesisKind.UNKNOWN
    assert report.top.confidence < 0.2
    assert "prometheus" in report.unavailable
    assert len(source.calls) <= 3 + 4  # the breaker stops asking (4 may be in flight)


def test_one_failing_query_makes_only_that_signal_unavailable() -> None:
    """A failed signal query is unavailable with its reason; the rest still score."""
    source = fleet(**{"vllm:num_requests_running": UpstreamUnavailableError("timeout")})
    report = correlate(source, LABELS, [], ALERT_AT, NOW)
    running = report.finding("requests_running")
    assert running is not None
    assert running.status is FindingStatus.UNAVAILABLE
    kv = report.finding("kv_cache_usage")
    assert kv is not None
    assert kv.moved


def test_rejected_query_is_unavailable_and_logged_as_a_bug() -> None:
    """A query Prometheus rejects is unavailable and logged at error level with its PromQL."""
    source = fleet(**{"vllm:num_preemptions_total": BadQueryError("parse error")})
    with capture_logs() as logs:
        report = correlate(source, LABELS, [], ALERT_AT, NOW)
    finding = report.finding("preemption_rate")
    assert finding is not None
    assert finding.status is FindingStatus.UNAVAILABLE
    assert any(e["event"] == "signal_query_rejected" for e in logs)


def test_missing_gpu_telemetry_lowers_confidence_and_is_named() -> None:
    """Without dcgm-exporter the same saturation ranks lower, and the report says why."""
    seen = correlate(fleet(), LABELS, [], ALERT_AT, NOW)
    blind = correlate(fleet(**{GPUS_QUERY: []}), LABELS, [], ALERT_AT, NOW)
    assert seen.top is not None
    assert blind.top is not None
    assert seen.top.kind is blind.top.kind is HypothesisKind.CAPACITY_SATURATION
    assert blind.top.confidence < seen.top.confidence
    assert any(
        f"no dcgm-exporter series for nodes {NODE}" in m and "cannot be ruled out" in m
        for m in blind.missing
    )
    assert "cannot see" in blind.headline()


def test_gpu_alert_without_a_model_finds_the_model_through_its_node() -> None:
    """A GPU alert naming only Hostname resolves pods on the node, then their model."""
    on_node = {**POD, "node": NODE, "created_by_name": "llama-3-8b-primary-7c9d5f8b6d"}
    source = fleet(
        **{
            "kube_pod_info{node": stepped(on_node, 1, 1, ONSET),
            "group by (model_name, namespace)": stepped(
                {"model_name": "llama-3-8b", "namespace": "genai"}, 1, 1, ONSET
            ),
        }
    )
    report = correlate(source, dict(GPU), ["GPUXidError"], ALERT_AT, NOW)
    assert report.topology["models"] == ["llama-3-8b"]
    assert report.topology["nodes"] == [NODE]
    assert [p["pod"] for p in report.topology["pods"]] == [POD["pod"]]


def test_queries_run_in_parallel_but_bounded() -> None:
    """Signal queries overlap up to max_parallel and no further."""
    source = fleet()
    source.delay_s = 0.05
    started = time.perf_counter()
    correlate(source, LABELS, [], ALERT_AT, NOW, max_parallel=4)
    assert source.max_in_flight == 4
    assert time.perf_counter() - started < 0.05 * len(source.calls)


def test_charts_are_written_for_the_top_evidence(tmp_path: Path) -> None:
    """Charts are drawn for moved signals, the top hypothesis's evidence first."""
    report = correlate(fleet(), LABELS, [], ALERT_AT, NOW, chart_dir=tmp_path, max_charts=2)
    assert 1 <= len(report.chart_paths) <= 2
    assert all(Path(p).exists() for p in report.chart_paths)


def test_report_round_trips_through_json() -> None:
    """The stored report, topology and blind spots included, survives JSON unchanged."""
    report = correlate(fleet(**{GPUS_QUERY: []}), LABELS, [], ALERT_AT, NOW)
    restored = TriageReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert restored == report
    assert restored.topology["pods"][0]["node"] == NODE
    assert restored.missing


def test_naive_datetimes_are_refused() -> None:
    """Naive times are a programming error, refused loudly."""
    naive = datetime(2025, 5, 1, 12, 0)  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone"):
        correlate(FakeMetricsSource(), LABELS, [], naive, NOW)


def test_completion_is_logged_with_the_outcome() -> None:
    """One triage_correlated event carries the top cause, the topology's size and blind spots."""
    with capture_logs() as logs:
        correlate(fleet(), LABELS, [], ALERT_AT, NOW)
    event = next(e for e in logs if e["event"] == "triage_correlated")
    assert event["top"] == "capacity_saturation"
    assert event["pods"] == 1
    assert event["gpus"] == 1


def test_series_have_no_model_label_on_gpus() -> None:
    """The GPU topology query asks by node, never by a model label dcgm-exporter lacks."""
    source = fleet()
    correlate(source, LABELS, [], ALERT_AT, NOW)
    gpu_queries = [c.promql for c in source.calls if GPUS_QUERY in c.promql]
    assert gpu_queries
    assert all(f'Hostname="{NODE}"' in q for q in gpu_queries)


def test_a_gpu_finding_names_the_node_gpu_and_pod() -> None:
    """An XID on the model's GPU is reported with its node, GPU index and the pod on it."""
    source = fleet(**{"DCGM_FI_DEV_XID_ERRORS": stepped(GPU, 0, 79, ONSET)})
    report = correlate(source, LABELS, ["GPUXidError"], ALERT_AT, NOW)
    xid = report.finding("xid_errors")
    assert xid is not None
    assert xid.moved
    assert xid.series_labels == {**GPU, "pod": POD["pod"]}
    assert report.top is not None
    assert report.top.kind is HypothesisKind.GPU_FAULT
    assert (
        f"XID 79 on {NODE} GPU 0 (pod {POD['pod']}): GPU has fallen off the bus — hardware; "
        "drain the node" in report.top.explanation
    )
