"""Ranking hypotheses: each fault shape comes out on top, from evidence rather than alert names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.correlation.engine import correlate
from bot.correlation.hypotheses import alert_priors, rank
from bot.correlation.rules import RuleVerdict, hard_rules
from bot.correlation.signals import CATALOGUE
from bot.domain.findings import Direction, Finding, FindingStatus, HypothesisKind, TriageReport
from tests.fakes.metrics import ALERTS, fault_scenario

ONSET = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
ALERT_AT = ONSET + timedelta(minutes=3)
NOW = ONSET + timedelta(minutes=8)
SIGNALS = {s.name: s for s in CATALOGUE}
LABELS = {"model_name": "llama-3-8b", "service": "llm-serving"}


def triage(kind: str, alert_names: list[str] | None = None, seed: int = 0) -> TriageReport:
    source = fault_scenario(kind, ONSET, seed=seed).source()
    return correlate(source, LABELS, alert_names or [], ALERT_AT, NOW)


FAULTS = [
    "capacity_saturation",
    "gpu_fault",
    "thermal_throttling",
    "bad_deploy",
    "upstream_errors",
]


@pytest.mark.parametrize("kind", FAULTS)
@pytest.mark.parametrize("seed", [0, 1])
def test_each_fault_shape_ranks_its_cause_first_without_alert_names(kind: str, seed: int) -> None:
    """The evidence alone puts the injected fault's hypothesis first with confidence >= 0.6."""
    report = triage(kind, seed=seed)
    assert report.top is not None
    assert report.top.kind is HypothesisKind(kind), report.hypotheses
    assert report.top.confidence >= 0.6


def test_saturation_is_not_mistaken_for_thermal_or_gpu_fault() -> None:
    """Demand-driven saturation leaves thermal and GPU-fault confidence low."""
    report = triage("capacity_saturation")
    others = {h.kind: h.confidence for h in report.hypotheses[1:]}
    assert others.get(HypothesisKind.THERMAL_THROTTLING, 0.0) < 0.4
    assert others.get(HypothesisKind.GPU_FAULT, 0.0) < 0.4


def test_thermal_throttling_beats_the_saturation_it_causes() -> None:
    """Queues grow under throttling too, but temperature and clocks lead, so thermal wins."""
    report = triage("thermal_throttling")
    confidence = {h.kind: h.confidence for h in report.hypotheses}
    assert confidence[HypothesisKind.THERMAL_THROTTLING] > 0.9
    assert confidence.get(HypothesisKind.CAPACITY_SATURATION, 0.0) < 0.4


def test_explanation_quotes_the_numbers() -> None:
    """The top explanation quotes value, baseline, z and onset of its evidence."""
    report = triage("capacity_saturation")
    assert report.top is not None
    text = report.top.explanation
    assert "kv_cache_usage" in text
    assert "vs baseline 0.4" in text
    assert "(z=" in text
    assert " from 12:0" in text
    assert "moved first: request_rate" in text


def test_gpu_fault_explanation_names_the_xid_and_gpu() -> None:
    """A GPU fault cites the XID code and which GPU, from the hard rule."""
    report = triage("gpu_fault")
    assert report.top is not None
    assert report.top.explanation.startswith("XID 79 (GPU has fallen off the bus)")
    assert "gpu=2" in report.top.explanation
    assert report.top.evidence[0] == "xid_errors"


def test_upstream_errors_keep_gpu_and_kv_steady() -> None:
    """In an upstream outage the GPU and KV findings stay steady."""
    report = triage("upstream_errors")
    for name in ("kv_cache_usage", "gpu_util", "gpu_temp"):
        finding = report.finding(name)
        assert finding is not None
        assert finding.status is FindingStatus.STEADY


def test_healthy_fleet_is_unknown() -> None:
    """When nothing moved, `unknown` leads and says so."""
    report = triage("healthy", ALERTS["healthy"])
    assert report.top is not None
    assert report.top.kind is HypothesisKind.UNKNOWN
    assert "no cause signal moved" in report.top.explanation


def test_symptom_alone_is_unknown() -> None:
    """A TTFT rise with no cause signal is reported as a symptom under `unknown`."""
    ttft = Finding(
        "ttft_p95", "vllm", "q", FindingStatus.MOVED, peak=2.0, baseline_median=0.3, z=20.0,
        direction=Direction.UP, onset_at=ONSET,
    )  # fmt: skip
    ranked = rank([ttft], SIGNALS)
    assert [h.kind for h in ranked] == [HypothesisKind.UNKNOWN]
    assert "symptoms moved: ttft_p95 2 vs baseline 0.3" in ranked[0].explanation


def test_alert_names_are_a_weak_prior_only() -> None:
    """With no findings, an alert name yields its hypothesis at low confidence below unknown."""
    ranked = rank([], SIGNALS, alert_names=["LLMKVCacheSaturated"])
    assert ranked[0].kind is HypothesisKind.UNKNOWN
    capacity = next(h for h in ranked if h.kind is HypothesisKind.CAPACITY_SATURATION)
    assert 0 < capacity.confidence < 0.3
    assert "alert LLMKVCacheSaturated" in capacity.explanation


def test_alert_name_hints() -> None:
    """Shipped alert names map to the cause they hint at; a TTFT burn-rate hints at none."""
    hints = alert_priors(
        ["GPUXidError", "GPUThermalThrottling", "LLMModelDrift", "LLMUpstreamErrors",
         "LLMKVCacheSaturated", "LLMErrorRatioAfterDeploy", "LLMTTFTBurnRateFast"]
    )  # fmt: skip
    assert hints == {
        HypothesisKind.GPU_FAULT: ["GPUXidError"],
        HypothesisKind.THERMAL_THROTTLING: ["GPUThermalThrottling"],
        HypothesisKind.BAD_DEPLOY: ["LLMModelDrift", "LLMErrorRatioAfterDeploy"],
        HypothesisKind.UPSTREAM_ERRORS: ["LLMUpstreamErrors"],
        HypothesisKind.CAPACITY_SATURATION: ["LLMKVCacheSaturated"],
    }


def test_the_signal_that_moved_first_tips_a_close_call() -> None:
    """Two equally strong causes: the one whose signal moved first ranks higher."""

    def moved(name: str, direction: Direction, minutes: int) -> Finding:
        return Finding(
            name, "x", "q", FindingStatus.MOVED, peak=1.0, baseline_median=0.0, z=20.0,
            direction=direction, onset_at=ONSET + timedelta(minutes=minutes),
        )  # fmt: skip

    # drift_psi (bad_deploy) and sm_clock (thermal) carry the same weight, 0.6.
    clock_first = rank(
        [moved("sm_clock", Direction.DOWN, 0), moved("drift_psi", Direction.UP, 5)], SIGNALS
    )
    drift_first = rank(
        [moved("sm_clock", Direction.DOWN, 5), moved("drift_psi", Direction.UP, 0)], SIGNALS
    )
    assert clock_first[0].kind is HypothesisKind.THERMAL_THROTTLING
    assert drift_first[0].kind is HypothesisKind.BAD_DEPLOY
    assert "moved first: drift_psi" in drift_first[0].explanation


def test_ranking_is_sorted_and_bounded() -> None:
    """Confidences lie in 0..1 and are sorted best first."""
    report = triage("gpu_fault", ALERTS["gpu_fault"])
    confidences = [h.confidence for h in report.hypotheses]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 <= c <= 1.0 for c in confidences)


def test_every_gpu_dropping_together_is_load_not_a_gpu_fault() -> None:
    """Utilisation falling on one GPU of eight is a GPU fault; on all eight it is not."""

    def util_drop(moved_series: int) -> Finding:
        return Finding(
            "gpu_util", "dcgm", "q", FindingStatus.MOVED, peak=0.0, baseline_median=70.0,
            z=-20.0, direction=Direction.DOWN, onset_at=ONSET, series_count=8,
            moved_series_count=moved_series,
        )  # fmt: skip

    one = {h.kind: h.confidence for h in rank([util_drop(1)], SIGNALS)}
    every = {h.kind: h.confidence for h in rank([util_drop(8)], SIGNALS)}
    assert one[HypothesisKind.GPU_FAULT] > 0.5
    assert every.get(HypothesisKind.GPU_FAULT, 0.0) < 0.3


def test_clock_drop_on_the_gpu_with_an_xid_is_not_throttling() -> None:
    """A GPU off the bus stops clocking; its clock drop does not argue for thermal throttling."""
    gpu = {"Hostname": "gpu-node-01", "gpu": "0"}
    xid = Finding(
        "xid_errors", "dcgm", "q", FindingStatus.MOVED, peak=79.0, direction=Direction.UP,
        onset_at=ONSET, series_labels=gpu, series_count=7, moved_series_count=1,
    )  # fmt: skip
    clock = Finding(
        "sm_clock", "dcgm", "q", FindingStatus.MOVED, peak=0.0, baseline_median=1980.0,
        z=-20.0, direction=Direction.DOWN, onset_at=ONSET, series_labels=gpu, series_count=7,
        moved_series_count=1,
    )  # fmt: skip
    with_xid = {h.kind: h.confidence for h in rank([xid, clock], SIGNALS, hard_rules_for(xid))}
    without = {h.kind: h.confidence for h in rank([clock], SIGNALS)}
    assert without[HypothesisKind.THERMAL_THROTTLING] > 0.4
    assert HypothesisKind.THERMAL_THROTTLING not in with_xid
    assert with_xid[HypothesisKind.GPU_FAULT] > 0.9


def hard_rules_for(finding: Finding) -> list[RuleVerdict]:
    return hard_rules({finding.signal: finding})
