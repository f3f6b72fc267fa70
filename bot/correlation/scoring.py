"""Robust scoring of a signal against its pre-incident baseline: median / IQR, z, onset.

Pure functions over our `Series`. The baseline is every point before the incident window;
its spread is the IQR scaled to a standard deviation (IQR / 1.349), floored so a flat
baseline (IQR = 0) does not turn noise into infinite z: at least `floor_rel` of the median
and at least the signal's own absolute floor. A signal moved when its robust z stays past
`threshold_z` for `consecutive` points in the window; the first such point is its onset.
Too few points, or none, is `inconclusive` — never a zero.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.domain.findings import Direction, Finding, FindingStatus
from bot.domain.signals import Series

IQR_TO_SIGMA = 1.349


@dataclass(frozen=True)
class ScoringPolicy:
    """Thresholds for calling a signal moved; defaults suit 15 s-resolution series."""

    threshold_z: float = 4.0
    consecutive: int = 3
    min_baseline_points: int = 5
    floor_rel: float = 0.05


DEFAULT_POLICY = ScoringPolicy()


@dataclass(frozen=True)
class Baseline:
    """The pre-incident level of one series and the spread its z-scores are measured in."""

    median: float
    iqr: float
    scale: float
    points: int


@dataclass(frozen=True)
class SeriesScore:
    """One series scored: its status and, when it could be scored, its numbers."""

    labels: dict[str, str]
    status: FindingStatus
    reason: str = ""
    baseline: Baseline | None = None
    peak: float | None = None
    current: float | None = None
    z: float | None = None
    direction: Direction | None = None
    onset_ts: float | None = None
    window_points: list[tuple[float, float]] = field(default_factory=list)


def finite_points(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points with a finite value (Prometheus answers NaN / +Inf for empty histograms)."""
    return [(t, v) for t, v in points if math.isfinite(v)]


def baseline_of(
    values: Sequence[float], *, floor_abs: float, floor_rel: float = DEFAULT_POLICY.floor_rel
) -> Baseline:
    """Median and IQR of `values`, and a z scale guarded against a flat baseline."""
    if not values:
        raise ValueError("a baseline needs at least one value")
    median = statistics.median(values)
    if len(values) >= 2:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        iqr = q3 - q1
    else:
        iqr = 0.0
    scale = max(iqr / IQR_TO_SIGMA, floor_rel * abs(median), floor_abs)
    return Baseline(median=median, iqr=iqr, scale=scale, points=len(values))


def robust_z(value: float, baseline: Baseline) -> float:
    """How many robust standard deviations `value` sits from the baseline median."""
    return (value - baseline.median) / baseline.scale


def find_onset(
    points: Sequence[tuple[float, float]],
    baseline: Baseline,
    direction: Direction,
    *,
    threshold_z: float,
    consecutive: int,
) -> float | None:
    """The first timestamp from which z stays past the threshold for `consecutive` points."""
    sign = 1.0 if direction is Direction.UP else -1.0
    run_start: float | None = None
    run = 0
    for ts, value in points:
        if sign * robust_z(value, baseline) >= threshold_z:
            run_start = ts if run == 0 else run_start
            run += 1
            if run >= consecutive:
                return run_start
        else:
            run = 0
    return None


def score_series(
    series: Series,
    window_start_ts: float,
    *,
    floor_abs: float,
    policy: ScoringPolicy = DEFAULT_POLICY,
) -> SeriesScore:
    """Score one series: baseline from points before `window_start_ts`, z and onset after."""
    points = finite_points(series.points)
    before = [v for t, v in points if t < window_start_ts]
    window = [(t, v) for t, v in points if t >= window_start_ts]
    labels = dict(series.labels)
    if len(before) < policy.min_baseline_points:
        reason = f"{len(before)} baseline points (need {policy.min_baseline_points})"
        return SeriesScore(labels, FindingStatus.INCONCLUSIVE, reason, window_points=window)
    if len(window) < policy.consecutive:
        reason = f"{len(window)} points in the window (need {policy.consecutive})"
        return SeriesScore(labels, FindingStatus.INCONCLUSIVE, reason, window_points=window)
    base = baseline_of(before, floor_abs=floor_abs, floor_rel=policy.floor_rel)
    _, peak = max(window, key=lambda p: abs(robust_z(p[1], base)))
    z = robust_z(peak, base)
    direction = Direction.UP if z >= 0 else Direction.DOWN
    onset = find_onset(
        window, base, direction, threshold_z=policy.threshold_z, consecutive=policy.consecutive
    )
    moved = onset is not None
    return SeriesScore(
        labels=labels,
        status=FindingStatus.MOVED if moved else FindingStatus.STEADY,
        reason="" if moved else f"no {policy.consecutive} points past |z| {policy.threshold_z:g}",
        baseline=base,
        peak=peak,
        current=window[-1][1],
        z=z,
        direction=direction,
        onset_ts=onset,
        window_points=window,
    )


def pick_series(scores: Sequence[SeriesScore]) -> SeriesScore | None:
    """The series that speaks for the signal: the most deviant moved one, else steady one."""
    for status in (FindingStatus.MOVED, FindingStatus.STEADY):
        candidates = [s for s in scores if s.status is status]
        if candidates:
            return max(candidates, key=lambda s: (abs(s.z or 0.0), -(s.onset_ts or 0.0)))
    return scores[0] if scores else None


def to_datetime(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)


def score_signal(
    name: str,
    backend: str,
    promql: str,
    series: Sequence[Series],
    window_start_ts: float,
    *,
    floor_abs: float,
    unit: str = "",
    policy: ScoringPolicy = DEFAULT_POLICY,
) -> tuple[Finding, SeriesScore | None]:
    """A finding for one signal from all its series, with the series score that decided it."""
    if not series:
        finding = Finding(name, backend, promql, FindingStatus.INCONCLUSIVE, "no data", unit=unit)
        return finding, None
    scores = [score_series(s, window_start_ts, floor_abs=floor_abs, policy=policy) for s in series]
    chosen = pick_series(scores)
    assert chosen is not None  # series is non-empty
    base = chosen.baseline
    finding = Finding(
        signal=name,
        backend=backend,
        promql=promql,
        status=chosen.status,
        reason=chosen.reason,
        unit=unit,
        baseline_median=None if base is None else base.median,
        baseline_iqr=None if base is None else base.iqr,
        peak=chosen.peak,
        current=chosen.current,
        z=None if chosen.z is None else round(chosen.z, 2),
        direction=chosen.direction,
        onset_at=to_datetime(chosen.onset_ts),
        series_labels=chosen.labels,
        series_count=len(peers(scores, chosen.direction, floor_abs)) or len(series),
        moved_series_count=sum(
            1 for s in scores if s.status is FindingStatus.MOVED and s.direction is chosen.direction
        ),
    )
    return finding, chosen


def peers(
    scores: Sequence[SeriesScore], direction: Direction | None, floor_abs: float
) -> list[SeriesScore]:
    """The series that could have moved `direction`: an idle GPU (baseline at zero) cannot
    drop, so eight GPUs of a node of which two serve the model are two peers for a drop."""
    scored = [s for s in scores if s.status in (FindingStatus.MOVED, FindingStatus.STEADY)]
    if direction is not Direction.DOWN:
        return scored
    return [
        s
        for s in scored
        if s.status is FindingStatus.MOVED
        or (s.baseline is not None and abs(s.baseline.median) > floor_abs)
    ]
