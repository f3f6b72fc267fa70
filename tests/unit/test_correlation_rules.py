"""Hard rules: XID codes and model version changes inside the incident window."""

from __future__ import annotations

from bot.correlation.rules import (
    NEW_HARDWARE_XID_BOOST,
    evaluate_version,
    evaluate_xid,
    hard_rules,
)
from bot.domain.findings import FindingStatus, HypothesisKind
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
    assert "fallen off the bus" in verdicts[0].explanation
    assert "gpu=2" in verdicts[0].explanation


def test_application_xid_is_not_a_hardware_verdict() -> None:
    """XID 13 (an application fault) gives only weak verdicts, split with bad_deploy."""
    finding = evaluate_xid("xid_errors", "dcgm", "q", [xid_series(13, T0 + 700)], WINDOW_START)
    verdicts = hard_rules({"xid_errors": finding})
    assert {v.kind for v in verdicts} == {HypothesisKind.GPU_FAULT, HypothesisKind.BAD_DEPLOY}
    assert all(v.boost < 1.0 for v in verdicts)


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


def version_series(version: str, from_ts: float | None, until_ts: float | None) -> Series:
    grid = [T0 + i * 15 for i in range(60)]
    points = {
        ts: 1.0
        for ts in grid
        if (from_ts is None or ts >= from_ts) and (until_ts is None or ts < until_ts)
    }
    return gauge(points, {"version": version, "pool": "a"})


def test_new_model_version_inside_the_window_is_a_deploy() -> None:
    """A version going live inside the window is moved and boosts bad_deploy."""
    finding = evaluate_version(
        "model_version",
        "drift",
        "q",
        [version_series("v1", None, T0 + 720), version_series("v2", T0 + 690, None)],
        WINDOW_START,
    )
    assert finding.status is FindingStatus.MOVED
    assert finding.series_labels == {"version": "v2", "previous_version": "v1"}
    assert finding.onset_at is not None
    assert finding.onset_at.timestamp() == T0 + 690
    verdicts = hard_rules({"model_version": finding})
    assert [v.kind for v in verdicts] == [HypothesisKind.BAD_DEPLOY]
    assert "v2" in verdicts[0].explanation


def test_unchanged_version_is_steady() -> None:
    """The same version throughout is steady and adds nothing."""
    finding = evaluate_version(
        "model_version", "drift", "q", [version_series("v1", None, None)], WINDOW_START
    )
    assert finding.status is FindingStatus.STEADY
    assert hard_rules({"model_version": finding}) == []


def test_version_without_history_is_inconclusive() -> None:
    """A version seen only inside the window cannot be called a change."""
    finding = evaluate_version(
        "model_version", "drift", "q", [version_series("v2", T0 + 700, None)], WINDOW_START
    )
    assert finding.status is FindingStatus.INCONCLUSIVE
