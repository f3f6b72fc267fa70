"""Robust scoring against a pre-incident baseline: median / IQR, z, onset, inconclusive."""

from __future__ import annotations

import math

import pytest

from bot.correlation.scoring import (
    ScoringPolicy,
    baseline_of,
    find_onset,
    robust_z,
    score_series,
    score_signal,
)
from bot.domain.findings import Direction, FindingStatus
from bot.domain.signals import Series

T0 = 1_700_000_000.0
STEP_S = 15.0
WINDOW_START = T0 + 40 * STEP_S


def series(values: list[float], labels: dict[str, str] | None = None) -> Series:
    return Series(labels or {}, [(T0 + i * STEP_S, v) for i, v in enumerate(values)])


def flat_then(level: float, after: list[float], noise: float = 0.0) -> list[float]:
    """40 baseline points alternating around `level`, then the window values."""
    return [level + (noise if i % 2 else -noise) for i in range(40)] + after


def test_baseline_is_median_and_iqr() -> None:
    """The baseline level is the median and its spread the interquartile range."""
    base = baseline_of([1, 2, 3, 4, 5, 6, 7, 8, 9], floor_abs=0.001)
    assert base.median == 5
    assert base.iqr == pytest.approx(4.0)
    assert base.scale == pytest.approx(4.0 / 1.349)


def test_flat_baseline_scale_is_floored_relative_to_the_median() -> None:
    """A flat baseline (IQR 0) gets a scale of 5% of its median, so z stays finite."""
    base = baseline_of([0.4] * 20, floor_abs=0.001)
    assert base.iqr == 0
    assert base.scale == pytest.approx(0.02)
    assert robust_z(0.5, base) == pytest.approx(5.0)


def test_zero_baseline_scale_uses_the_absolute_floor() -> None:
    """A baseline of zeros is measured in the signal's absolute floor, never divided by 0."""
    base = baseline_of([0.0] * 20, floor_abs=0.005)
    assert base.scale == 0.005
    assert math.isfinite(robust_z(0.09, base))


def test_onset_is_the_first_point_of_a_sustained_run() -> None:
    """Onset is where z first stays past the threshold for k consecutive points."""
    base = baseline_of([10.0] * 20, floor_abs=0.1)  # scale 0.5
    points = [(1.0, 10.0), (2.0, 13.0), (3.0, 10.0), (4.0, 13.0), (5.0, 14.0), (6.0, 15.0)]
    onset = find_onset(points, base, Direction.UP, threshold_z=4.0, consecutive=3)
    assert onset == 4.0


def test_single_spike_is_steady_not_moved() -> None:
    """One outlier point does not make a signal moved."""
    score = score_series(series(flat_then(0.4, [0.4, 0.95, 0.4, 0.4, 0.4])), WINDOW_START,
                         floor_abs=0.02)  # fmt: skip
    assert score.status is FindingStatus.STEADY
    assert score.peak == pytest.approx(0.95)


def test_step_up_is_moved_with_onset_and_direction() -> None:
    """A sustained rise is moved, upward, with its onset at the rise."""
    values = flat_then(0.41, [0.41, 0.41, 0.9, 0.95, 0.97, 0.97], noise=0.01)
    score = score_series(series(values), WINDOW_START, floor_abs=0.02)
    assert score.status is FindingStatus.MOVED
    assert score.direction is Direction.UP
    assert score.onset_ts == WINDOW_START + 2 * STEP_S
    assert score.z is not None
    assert score.z > 10


def test_drop_is_moved_downward() -> None:
    """A GPU whose utilisation falls to zero moves downward."""
    score = score_series(series(flat_then(72.0, [0.0] * 5, noise=2.0)), WINDOW_START, floor_abs=3)
    assert score.status is FindingStatus.MOVED
    assert score.direction is Direction.DOWN


def test_too_few_baseline_points_is_inconclusive() -> None:
    """A series with almost no history before the window cannot be scored."""
    short = Series({}, [(WINDOW_START - 15, 1.0), (WINDOW_START, 9.0), (WINDOW_START + 15, 9.0),
                        (WINDOW_START + 30, 9.0)])  # fmt: skip
    score = score_series(short, WINDOW_START, floor_abs=0.1)
    assert score.status is FindingStatus.INCONCLUSIVE
    assert score.z is None
    assert "baseline points" in score.reason


def test_nan_points_are_ignored() -> None:
    """NaN from an empty histogram is no data: an all-NaN series is inconclusive, not 0."""
    nan_series = series([math.nan] * 50)
    score = score_series(nan_series, WINDOW_START, floor_abs=0.05)
    assert score.status is FindingStatus.INCONCLUSIVE
    assert score.peak is None


def test_no_series_is_inconclusive_never_zero() -> None:
    """An empty query result gives an inconclusive finding with no numbers at all."""
    finding, chosen = score_signal("kv_cache_usage", "vllm", "q", [], WINDOW_START, floor_abs=0.02)
    assert finding.status is FindingStatus.INCONCLUSIVE
    assert finding.reason == "no data"
    assert chosen is None
    assert (finding.peak, finding.current, finding.baseline_median, finding.z) == (None,) * 4


def test_the_one_deviant_gpu_speaks_for_the_signal() -> None:
    """Of several GPUs, the finding reports the one that moved, with its labels."""
    healthy = [series(flat_then(72.0, [72.0] * 6, 2.0), {"gpu": str(i)}) for i in range(3)]
    failing = series(flat_then(72.0, [0.0] * 6, 2.0), {"gpu": "3"})
    finding, _ = score_signal(
        "gpu_util", "dcgm", "q", [*healthy, failing], WINDOW_START, floor_abs=3.0
    )
    assert finding.status is FindingStatus.MOVED
    assert finding.series_labels == {"gpu": "3"}
    assert finding.moved_series_count == 1
    assert finding.series_count == 4


def test_policy_threshold_decides_moved() -> None:
    """A stricter threshold turns a modest shift from moved into steady."""
    values = flat_then(10.0, [13.0] * 6)  # z = 6 with scale 0.5
    loose = score_series(series(values), WINDOW_START, floor_abs=0.5)
    strict = score_series(
        series(values), WINDOW_START, floor_abs=0.5, policy=ScoringPolicy(threshold_z=8.0)
    )
    assert loose.status is FindingStatus.MOVED
    assert strict.status is FindingStatus.STEADY


def test_idle_gpus_are_not_peers_of_a_drop() -> None:
    """Two serving GPUs of eight dropping together is load leaving, not one GPU failing:
    the six idle ones could not drop, so the drop spans every peer."""
    busy = [Series({"gpu": str(i)}, [(t, 60.0 if t < 100 else 30.0) for t in range(0, 200, 10)])
            for i in range(2)]  # fmt: skip
    idle = [Series({"gpu": str(i)}, [(t, 0.0) for t in range(0, 200, 10)]) for i in range(2, 8)]
    finding, _ = score_signal("gpu_util", "dcgm", "q", busy + idle, 100.0, floor_abs=3.0)
    assert finding.moved
    assert finding.direction is Direction.DOWN
    assert (finding.moved_series_count, finding.series_count) == (2, 2)
