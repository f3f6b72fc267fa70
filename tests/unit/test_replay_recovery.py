"""Replay's "recovered on its own": alerts ended in time and the lead signal back at its
baseline; no data afterwards is inconclusive, never recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.correlation.recovery import RecoveryVerdict, alerts_verdict, judge_recovery
from bot.domain.findings import Finding, FindingStatus
from bot.domain.signals import Series

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
KV = Finding(
    "kv_cache_usage", "vllm", "avg(vllm:kv_cache_usage_perc)", FindingStatus.MOVED,
    baseline_median=0.4,
)  # fmt: skip


def points(values: list[float], start_min: float = -30.0) -> list[tuple[float, float]]:
    """One point every 15 s from `start_min` minutes after T0."""
    first = T0.timestamp() + start_min * 60
    return [(first + 15 * i, v) for i, v in enumerate(values)]


def judge(values: list[float], ended: datetime) -> RecoveryVerdict:
    series = [Series({}, points(values))]
    return judge_recovery(KV, series, T0, ended, WINDOW, floor_abs=0.01).verdict


def test_a_signal_back_at_its_baseline_after_the_alerts_recovered() -> None:
    """Baseline 0.4, a saturation at 0.99, back to 0.4 after the alerts ended: recovered."""
    values = [0.4, 0.41, 0.39] * 40 + [0.99] * 20 + [0.4] * 20
    assert judge(values, T0 + timedelta(minutes=5)) is RecoveryVerdict.RECOVERED


def test_a_signal_still_away_from_its_baseline_did_not_recover() -> None:
    values = [0.4, 0.41, 0.39] * 40 + [0.99] * 60
    assert judge(values, T0 + timedelta(minutes=5)) is RecoveryVerdict.NOT_RECOVERED


def test_no_data_after_the_alerts_is_inconclusive_never_recovery() -> None:
    """The series stops when the alerts end: nothing says it came back."""
    values = [0.4, 0.41, 0.39] * 40 + [0.99] * 10
    assert judge(values, T0 + timedelta(minutes=10)) is RecoveryVerdict.INCONCLUSIVE


def test_alerts_firing_past_the_window_did_not_recover() -> None:
    """Alerts still firing, or ending after the window, answer before any signal is read."""
    firing = alerts_verdict(T0, None, WINDOW)
    assert firing is not None
    assert firing.verdict is RecoveryVerdict.NOT_RECOVERED
    late = alerts_verdict(T0, T0 + timedelta(minutes=20), WINDOW)
    assert late is not None
    assert "20 min after the notification" in late.reason
    assert alerts_verdict(T0, T0 + timedelta(minutes=5), WINDOW) is None
