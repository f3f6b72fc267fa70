"""Triage of recorded fault histories through a real Prometheus, with the alerts' real labels.

A small set of simulator scenarios (simulator/scenarios.py) -- one per fault kind, a control, a
GPU fault without dcgm-exporter's pod mapping and a harmless rollout just before a saturation --
is recorded as two hours of OpenMetrics each, backfilled with promtool into one TSDB at separate
time ranges and served by one real `prometheus` with no scrape jobs. Each incident is triaged
through `PrometheusMetricsSource` and the public `correlate`, with the labels and alert names the
shipped rules would deliver. Needs the `prometheus` and `promtool` binaries (no skip).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bot.adapters.prometheus import PrometheusMetricsSource
from bot.correlation.engine import correlate
from bot.demo.monitoring import backfill_openmetrics, serve_tsdb
from simulator.scenarios import (
    CONTROL,
    SCRAPE_INTERVAL_S,
    VARIANTS,
    Recording,
    Scenario,
    record_all,
    time_slots,
)

BASELINE = VARIANTS["baseline"]
LLAMA, RERANKER = "llama-3-70b-instruct", "reranker-v2"
SCENARIOS = (
    Scenario("saturation", BASELINE, seed=0, model=LLAMA, intensity=0.6),
    Scenario("gpu_xid", BASELINE, seed=0, model=LLAMA, intensity=0.6, xid=79),
    Scenario("bad_deploy", BASELINE, seed=0, model=RERANKER, intensity=0.6),
    Scenario("thermal", BASELINE, seed=0, model=LLAMA, intensity=0.6),
    Scenario("upstream_errors", BASELINE, seed=0, model=RERANKER, intensity=0.6),
    Scenario(CONTROL, BASELINE, seed=0, model=LLAMA),
    Scenario("gpu_xid", VARIANTS["no-pod-mapping"], seed=1, model=RERANKER, xid=48),
    Scenario("saturation", VARIANTS["decoy-rollout"], seed=2, model=LLAMA, intensity=0.6),
)


@dataclass(frozen=True)
class Fleet:
    """The recorded scenarios and the Prometheus serving them."""

    url: str
    recordings: dict[str, Recording]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Every scenario recorded, backfilled into one TSDB and served by one real Prometheus."""
    folder = tmp_path_factory.mktemp("triage-histories")
    starts = time_slots(len(SCENARIOS), datetime.now(UTC).timestamp())
    recordings = record_all(SCENARIOS, starts, folder, backfill_openmetrics)
    with serve_tsdb(folder, folder / "data", lookback_delta="1m") as prometheus:
        yield Fleet(prometheus.url, {r.scenario.name: r for r in recordings})


@pytest.fixture
def source(fleet: Fleet) -> Iterator[PrometheusMetricsSource]:
    metrics = PrometheusMetricsSource(fleet.url, timeout_s=30)
    yield metrics
    metrics.close()


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def top_hypotheses(source: PrometheusMetricsSource, recording: Recording) -> list[str]:
    alert = recording.alert
    report = correlate(
        source, dict(alert.labels), list(alert.names), at(alert.started_ts), at(recording.triage_ts)
    )
    return [h.kind.value for h in report.hypotheses]


def test_each_history_is_served_at_its_own_time_range(
    fleet: Fleet, source: PrometheusMetricsSource
) -> None:
    """Every scenario's fleet is queryable at its triage time, and nothing between histories."""
    for name, recording in fleet.recordings.items():
        pods = source.query("count(kube_pod_info)", at(recording.triage_ts))
        assert [s.values[0] > 0 for s in pods] == [True], name
        gap = source.query("count(kube_pod_info)", at(recording.start_ts - 600))
        assert gap == [], f"{name}: series before its history starts"
        scrapes = source.query("count_over_time(kube_pod_info[1h])", at(recording.triage_ts))
        assert max(s.values[0] for s in scrapes) >= 3600 / SCRAPE_INTERVAL_S - 1, name


def test_gpu_alerts_carry_dcgm_labels_and_the_model_the_rules_join(fleet: Fleet) -> None:
    """A GPU alert has the faulty GPU's dcgm-exporter labels (pod only with pod mapping) and
    the faulty model's name, which the rules join through the pod or the node."""
    gpu = [r for r in fleet.recordings.values() if r.scenario.kind in {"gpu_xid", "thermal"}]
    assert len(gpu) == 3
    dcgm = {"gpu", "UUID", "Hostname", "modelName", "device", "DCGM_FI_DRIVER_VERSION"}
    for recording in gpu:
        labels, scenario = recording.alert.labels, recording.scenario
        assert recording.notes == (), recording.notes
        assert labels["model_name"] == scenario.model, labels
        assert "Hostname" in labels, labels
        if scenario.kind == "gpu_xid":
            assert dcgm <= set(labels), labels
            assert ("pod" in labels) is scenario.variant.pod_mapping, labels


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_triage_ranks_the_injected_cause_first(
    fleet: Fleet, source: PrometheusMetricsSource, scenario: Scenario
) -> None:
    """Through real Prometheus, triage names the injected fault (unknown for a control) first."""
    recording = fleet.recordings[scenario.name]
    ranked = top_hypotheses(source, recording)
    assert ranked, "no hypotheses"
    assert ranked[0] == scenario.expected, (
        f"{scenario.name}: ranked {ranked} for alert {recording.alert.names} "
        f"{recording.alert.labels}"
    )


def test_a_control_without_fault_is_unknown(fleet: Fleet, source: PrometheusMetricsSource) -> None:
    """An alert with no fault behind it ranks no cause above unknown."""
    control = next(r for r in fleet.recordings.values() if r.scenario.kind == CONTROL)
    assert control.fault_ts is None
    assert top_hypotheses(source, control)[0] == "unknown"
