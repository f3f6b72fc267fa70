"""Hard rules: XID codes, rollouts blamed only for what followed them, and dead engines."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.correlation.rules import (
    NEW_HARDWARE_XID_BOOST,
    ROLLOUT_BOOST,
    evaluate_xid,
    hard_rules,
)
from bot.domain.findings import Direction, Finding, FindingStatus, HypothesisKind
from bot.domain.signals import Series

T0 = 1_700_000_000.0
WINDOW_START = T0 + 600


def gauge(values_by_ts: dict[float, float], labels: dict[str, str]) -> Series:
    return Series(labels, sorted(values_by_ts.items()))


def xid_series(code: float, from_ts: float, gpu: str = "2") -> Series:
    points = {T0 + i * 15: (code if T0 + i * 15 >= from_ts else 0.0) for i in range(60)}
    return gauge(points, {"Hostname": "node-1", "gpu": gpu})


def test_new_hardware_xid_is_a_gpu_fault_with_high_confidence() -> None:
    """XID 79 appearing in the window yields a strong gpu_fault verdict naming the GPU."""
    finding = evaluate_xid("xid_errors", "dcgm", "q", [xid_series(0, T0), xid_series(79, T0 + 700)],
                           WINDOW_START)  # fmt: skip
    assert finding.status is FindingStatus.MOVED
    assert finding.peak == 79
    assert finding.series_labels["gpu"] == "2"
    verdicts = hard_rules({"xid_errors": finding})
    assert [(v.kind, v.boost) for v in verdicts] == [
        (HypothesisKind.GPU_FAULT, NEW_HARDWARE_XID_BOOST)
    ]
    assert verdicts[0].explanation.startswith(
        "XID 79 on node-1 GPU 2: GPU has fallen off the bus — hardware; drain the node"
    )


def test_application_xid_is_not_a_hardware_verdict() -> None:
    """XID 13 (an application fault) is a weak hint at a bad deploy, never blamed on the GPU."""
    finding = evaluate_xid("xid_errors", "dcgm", "q", [xid_series(13, T0 + 700)], WINDOW_START)
    verdicts = hard_rules({"xid_errors": finding})
    assert [v.kind for v in verdicts] == [HypothesisKind.BAD_DEPLOY]
    assert verdicts[0].boost < 1.0


def test_hardware_xid_outranks_application_xid_on_another_gpu() -> None:
    """When two GPUs report XIDs, the hardware one is the finding."""
    finding = evaluate_xid(
        "xid_errors",
        "dcgm",
        "q",
        [xid_series(13, T0 + 650, gpu="0"), xid_series(48, T0 + 700, gpu="1")],
        WINDOW_START,
    )
    assert finding.peak == 48
    assert finding.series_labels["gpu"] == "1"


def test_xid_present_before_the_baseline_is_not_new() -> None:
    """An XID already latched before the window is steady and only weakly suspicious."""
    finding = evaluate_xid("xid_errors", "dcgm", "q", [xid_series(79, T0)], WINDOW_START)
    assert finding.status is FindingStatus.STEADY
    verdicts = hard_rules({"xid_errors": finding})
    assert len(verdicts) == 1
    assert verdicts[0].boost < NEW_HARDWARE_XID_BOOST


def test_no_xid_means_no_verdict() -> None:
    """Zeros everywhere: steady finding, no verdict."""
    finding = evaluate_xid("xid_errors", "dcgm", "q", [xid_series(0, T0)], WINDOW_START)
    assert finding.status is FindingStatus.STEADY
    assert hard_rules({"xid_errors": finding}) == []


def test_no_xid_data_is_inconclusive() -> None:
    """No DCGM series at all is inconclusive, not a clean bill of health."""
    finding = evaluate_xid("xid_errors", "dcgm", "q", [], WINDOW_START)
    assert finding.status is FindingStatus.INCONCLUSIVE


AT = datetime.fromtimestamp(T0 + 700, UTC)


def finding(name: str, minutes_after: float, direction: Direction = Direction.UP) -> Finding:
    return Finding(
        name, "x", "q", FindingStatus.MOVED, peak=1.0, baseline_median=0.0, z=20.0,
        direction=direction, onset_at=AT + timedelta(minutes=minutes_after),
    )  # fmt: skip


ROLLOUT = Finding(
    "rollout", "rollout", "", FindingStatus.MOVED,
    reason="rollout to ReplicaSet m-7c9d5f8b6d (image tag 2.3.0 → 2.4.0), replacing m-5b8c7d9f4c",
    direction=Direction.UP, onset_at=AT,
)  # fmt: skip


def test_rollout_followed_by_errors_is_blamed() -> None:
    """Errors that rose after a rollout make it a bad deploy, quoting the versions."""
    verdicts = hard_rules({"rollout": ROLLOUT, "error_ratio": finding("error_ratio", 2)})
    assert [(v.kind, v.boost > 0) for v in verdicts] == [
        (HypothesisKind.BAD_DEPLOY, True),
        (HypothesisKind.UPSTREAM_ERRORS, False),  # the errors are explained away
    ]
    assert verdicts[0].boost == ROLLOUT_BOOST
    assert "2.4.0" in verdicts[0].explanation
    assert "error_ratio" in verdicts[0].explanation


def test_harmless_rollout_before_a_surge_is_not_blamed() -> None:
    """Latency that rose after a rollout together with demand is the surge, not the release."""
    verdicts = hard_rules(
        {
            "rollout": ROLLOUT,
            "ttft_p95": finding("ttft_p95", 6),
            "request_rate": finding("request_rate", 5),
        }
    )
    assert verdicts == []


def test_errors_long_after_a_clean_rollout_do_not_blame_it() -> None:
    """A release that served cleanly for minutes before errors began did not cause them."""
    verdicts = hard_rules({"rollout": ROLLOUT, "error_ratio": finding("error_ratio", 9)})
    assert verdicts == []


def test_errors_that_preceded_the_rollout_do_not_blame_it() -> None:
    """A rollout landing after the errors began did not cause them."""
    verdicts = hard_rules({"rollout": ROLLOUT, "error_ratio": finding("error_ratio", -10)})
    assert verdicts == []


def test_latency_after_a_rollout_with_steady_demand_is_weakly_blamed() -> None:
    """A slower release (latency up, demand and GPUs steady) counts, below errors or drift."""
    latency = finding("inter_token_latency_p95", 2)
    verdicts = hard_rules({"rollout": ROLLOUT, "inter_token_latency_p95": latency})
    assert [v.kind for v in verdicts] == [HypothesisKind.BAD_DEPLOY]
    assert verdicts[0].boost < ROLLOUT_BOOST


def test_dead_engine_beside_a_hardware_xid_is_a_gpu_fault() -> None:
    """A pod whose engine died on a node whose GPU reports XID 79 is a GPU fault twice over."""
    death = Finding(
        "engine_died", "vllm", "", FindingStatus.MOVED, reason="engine of pod p died",
        direction=Direction.UP, onset_at=AT,
    )  # fmt: skip
    xid = replace(finding("xid_errors", 0), signal="xid_errors", peak=79.0)
    kinds = [v.kind for v in hard_rules({"engine_died": death, "xid_errors": xid})]
    assert kinds == [HypothesisKind.GPU_FAULT, HypothesisKind.GPU_FAULT]


def test_dead_engine_after_a_rollout_is_the_release() -> None:
    """New pods crash-looping after a rollout, with healthy GPUs, blame the deploy."""
    death = Finding(
        "engine_died", "vllm", "", FindingStatus.MOVED, reason="engine of pod p died",
        direction=Direction.UP, onset_at=AT + timedelta(minutes=1),
    )  # fmt: skip
    verdicts = hard_rules({"engine_died": death, "rollout": ROLLOUT})
    assert [v.kind for v in verdicts] == [HypothesisKind.BAD_DEPLOY]
