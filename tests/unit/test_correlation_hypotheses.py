"""Ranking hypotheses: each fault shape comes out on top, from evidence rather than alert names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.correlation.catalogue import default_catalogue
from bot.correlation.hypotheses import Coverage, alert_priors, rank
from bot.correlation.rules import RuleVerdict, hard_rules
from bot.domain.findings import Direction, Finding, FindingStatus, HypothesisKind

ONSET = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
ALERT_AT = ONSET + timedelta(minutes=3)
NOW = ONSET + timedelta(minutes=8)
SIGNALS = {s.name: s for s in default_catalogue().signals}
LABELS = {"model_name": "llama-3-8b", "service": "llm-serving"}


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
    """Shipped alert names map to the cause they hint at; TTFT burn and 5xx alerts hint at none."""
    hints = alert_priors(
        ["GPUXidError", "GPUThermalThrottling", "LLMModelDrift", "LLMServerErrors",
         "LLMKVCacheSaturated", "LLMErrorRatioAfterDeploy", "LLMTTFTBurnRateFast"]
    )  # fmt: skip
    assert hints == {
        HypothesisKind.GPU_FAULT: ["GPUXidError"],
        HypothesisKind.THERMAL_THROTTLING: ["GPUThermalThrottling"],
        HypothesisKind.BAD_DEPLOY: ["LLMModelDrift", "LLMErrorRatioAfterDeploy"],
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


def moved(name: str, direction: Direction, z: float = 20.0, minutes: int = 0) -> Finding:
    return Finding(
        name, "x", "q", FindingStatus.MOVED, peak=1.0, baseline_median=0.0, z=z,
        direction=direction, onset_at=ONSET + timedelta(minutes=minutes),
    )  # fmt: skip


CAUSES = default_catalogue().causes
SATURATION = [moved("kv_cache_usage", Direction.UP), moved("queue_waiting", Direction.UP)]


def test_a_blind_competitor_lowers_the_winner_and_unknown_rises() -> None:
    """With dcgm-exporter absent, GPU causes cannot be ruled out: saturation keeps less."""
    everything = Coverage(frozenset({"vllm", "http", "dcgm", "kube", "drift", "rollout"}), CAUSES)
    no_gpus = Coverage(frozenset({"vllm", "http", "kube", "drift", "rollout"}), CAUSES)
    seen = rank(SATURATION, SIGNALS, coverage=everything)
    blind = rank(SATURATION, SIGNALS, coverage=no_gpus, missing=["no dcgm-exporter series"])
    assert seen[0].kind is blind[0].kind is HypothesisKind.CAPACITY_SATURATION
    assert blind[0].confidence < seen[0].confidence * 0.8


def test_nothing_observed_is_inconclusive_even_with_an_alert_name() -> None:
    """No backend answered: unknown at zero confidence, the alert name no evidence at all."""
    ranked = rank([], SIGNALS, alert_names=["GPUXidError"], coverage=Coverage(frozenset(), CAUSES))
    assert [(h.kind, h.confidence) for h in ranked] == [(HypothesisKind.UNKNOWN, 0.0)]
    assert ranked[0].explanation.startswith("inconclusive")


def test_errors_alone_are_a_failing_dependency() -> None:
    """Errors up with no rollout, drift, GPU or demand change rank upstream errors first."""
    ranked = rank([moved("error_ratio", Direction.UP)], SIGNALS)
    assert ranked[0].kind is HypothesisKind.UPSTREAM_ERRORS


def test_errors_with_rising_demand_are_not_a_failing_dependency() -> None:
    """The same errors during a demand surge with a full KV cache read as saturation."""
    findings = [
        *SATURATION,
        moved("request_rate", Direction.UP),
        moved("error_ratio", Direction.UP, z=5),
    ]
    ranked = rank(findings, SIGNALS)
    assert ranked[0].kind is HypothesisKind.CAPACITY_SATURATION
