"""correlate(): windows, bounded parallel queries, failures, no data, charts, stored report."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from bot.correlation.engine import choose_step_s, correlate
from bot.correlation.signals import CATALOGUE
from bot.domain.errors import UpstreamUnavailableError
from bot.domain.findings import BadQueryError, FindingStatus, HypothesisKind, TriageReport
from tests.fakes.metrics import ALERTS, FakeMetricsSource, fault_scenario

ONSET = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
ALERT_AT = ONSET + timedelta(minutes=3)
NOW = ONSET + timedelta(minutes=8)
LABELS = {"model_name": "llama-3-8b"}


def test_queries_cover_baseline_and_window_with_explicit_range() -> None:
    """Every query spans baseline start to now, with a step well under 11,000 points."""
    source = fault_scenario("healthy", ONSET).source()
    report = correlate(source, LABELS, [], ALERT_AT, NOW, baseline_s=1800, lead_s=600)
    assert report.window_start == ALERT_AT - timedelta(seconds=600)
    assert report.baseline_start == report.window_start - timedelta(seconds=1800)
    assert report.window_end == NOW
    assert source.calls
    for call in source.calls:
        assert (call.start, call.end) == (report.baseline_start, NOW)
        assert call.step_s == report.step_s
        assert (NOW - report.baseline_start).total_seconds() / report.step_s <= 11_000
    assert len(report.queries) == len(source.calls)


def test_step_grows_with_long_incidents() -> None:
    """A day-long range gets a coarser step, keeping about 720 points."""
    assert choose_step_s(2400) == 15.0
    assert choose_step_s(86_400) == 120.0


def test_queries_are_scoped_to_the_incident() -> None:
    """Queries carry the incident's model, escaped; unscopable signals are not issued."""
    source = FakeMetricsSource()
    report = correlate(source, {"model_name": 'we"ird'}, [], ALERT_AT, NOW)
    assert all('model_name="we\\"ird"' in q or "model=" in q for q in report.queries)
    restarts = report.finding("container_restarts")
    assert restarts is not None
    assert restarts.status is FindingStatus.INCONCLUSIVE
    assert not any("kube_pod_container_status_restarts_total" in c.promql for c in source.calls)


def test_no_data_everywhere_is_inconclusive_never_zero() -> None:
    """A Prometheus that knows none of the series yields inconclusive findings without numbers."""
    report = correlate(FakeMetricsSource(), LABELS, [], ALERT_AT, NOW)
    assert {f.status for f in report.findings} == {FindingStatus.INCONCLUSIVE}
    assert all(f.peak is None and f.current is None for f in report.findings)
    assert report.top is not None
    assert report.top.kind is HypothesisKind.UNKNOWN
    assert report.unavailable == {}


def test_one_failing_query_makes_only_that_signal_unavailable() -> None:
    """A query that fails leaves its signal unavailable with the reason; the rest are scored."""
    source = fault_scenario("capacity_saturation", ONSET).source()
    source.answers["vllm:kv_cache_usage_perc"] = UpstreamUnavailableError("read timed out")
    report = correlate(source, LABELS, [], ALERT_AT, NOW)
    kv = report.finding("kv_cache_usage")
    assert kv is not None
    assert kv.status is FindingStatus.UNAVAILABLE
    assert kv.reason == "read timed out"
    assert report.top is not None
    assert report.top.kind is HypothesisKind.CAPACITY_SATURATION
    assert "prometheus" not in report.unavailable


def test_rejected_query_is_unavailable_and_logged_as_a_bug() -> None:
    """A query Prometheus rejects as malformed is reported, not retried, and logged."""
    source = fault_scenario("healthy", ONSET).source()
    source.answers["llm_drift_score"] = BadQueryError("parse error")
    with capture_logs() as logs:
        report = correlate(source, LABELS, [], ALERT_AT, NOW)
    drift = report.finding("drift_psi")
    assert drift is not None
    assert drift.status is FindingStatus.UNAVAILABLE
    assert drift.reason.startswith("query rejected")
    assert any(e["event"] == "signal_query_rejected" for e in logs)


def test_prometheus_down_still_ranks_from_alert_priors() -> None:
    """With every query failing, the report says Prometheus is unavailable and stops asking."""
    down = UpstreamUnavailableError("Prometheus unreachable at http://127.0.0.1:1")
    source = FakeMetricsSource({"": down})
    report = correlate(source, LABELS, ALERTS["gpu_fault"], ALERT_AT, NOW, max_parallel=1)
    assert report.unavailable == {"prometheus": str(down)}
    assert len(source.calls) == 3  # the breaker opened after three failures
    assert all(f.status is not FindingStatus.MOVED for f in report.findings)
    skipped = [f for f in report.findings if f.reason.startswith("skipped")]
    assert skipped
    gpu = next(h for h in report.hypotheses if h.kind is HypothesisKind.GPU_FAULT)
    assert gpu.confidence < 0.3
    assert report.top is not None
    assert report.top.kind is HypothesisKind.UNKNOWN
    assert "unavailable: prometheus" in report.top.explanation


def test_queries_run_in_parallel_but_bounded() -> None:
    """Slow queries overlap, never more than max_parallel at once."""
    source = fault_scenario("healthy", ONSET).source(delay_s=0.05)
    started = time.perf_counter()
    report = correlate(source, LABELS, [], ALERT_AT, NOW, max_parallel=4)
    elapsed_s = time.perf_counter() - started
    assert source.max_in_flight == 4
    serial_s = 0.05 * len(source.calls)
    assert elapsed_s < serial_s * 0.6
    assert report.duration_s == pytest.approx(elapsed_s, abs=0.1)


def test_charts_are_written_for_the_top_evidence(tmp_path: Path) -> None:
    """Charts of moved signals land in chart_dir as PNGs, the top evidence first."""
    source = fault_scenario("thermal_throttling", ONSET).source()
    report = correlate(source, LABELS, [], ALERT_AT, NOW, chart_dir=tmp_path, max_charts=3)
    assert len(report.chart_paths) == 3
    for path in report.chart_paths:
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report.top is not None
    assert Path(report.chart_paths[0]).stem == report.top.evidence[0]


def test_no_chart_dir_means_no_charts() -> None:
    """Without a chart directory nothing is drawn."""
    report = correlate(fault_scenario("gpu_fault", ONSET).source(), LABELS, [], ALERT_AT, NOW)
    assert report.chart_paths == ()


def test_report_round_trips_through_json() -> None:
    """A report stored as JSON reads back equal."""
    report = correlate(fault_scenario("bad_deploy", ONSET).source(), LABELS, [], ALERT_AT, NOW)
    restored = TriageReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert restored == report
    assert restored.headline().startswith("bad_deploy (")


def test_naive_datetimes_are_refused() -> None:
    """Times without a timezone are a programming error, not a guess."""
    with pytest.raises(ValueError, match="timezone-aware"):
        correlate(FakeMetricsSource(), LABELS, [], ALERT_AT.replace(tzinfo=None), NOW)


def test_completion_is_logged_with_the_outcome() -> None:
    """One `triage_correlated` event carries the top hypothesis and query count."""
    with capture_logs() as logs:
        correlate(fault_scenario("upstream_errors", ONSET).source(), LABELS, [], ALERT_AT, NOW)
    event = next(e for e in logs if e["event"] == "triage_correlated")
    assert event["top"] == "upstream_errors"
    assert event["queries"] == len(CATALOGUE) - 1  # container_restarts needs a namespace
