"""Whether an incident's metrics recovered on their own, judged from history after the fact.

An incident recovered on its own when its alerts stopped firing within `window` of the first
notification, and the signal that led triage's top hypothesis then came back to its
pre-incident baseline within `window` of the alerts ending: `consecutive` points whose robust z
(the same median / IQR baseline scoring uses, bot/correlation/scoring.py) is back under
`threshold_z`. Alerts still firing, or ended late, mean it did not. No data after the alerts
ended, or a top hypothesis with no scored signal (a hard rule: an XID, a rollout), is
*inconclusive*: no data never counts as recovery. Pure: the caller queries the signal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.correlation.scoring import (
    DEFAULT_POLICY,
    ScoringPolicy,
    baseline_of,
    finite_points,
    robust_z,
)
from bot.domain.findings import Finding, TriageReport
from bot.domain.signals import Series


class RecoveryVerdict(StrEnum):
    RECOVERED = "recovered"
    NOT_RECOVERED = "not_recovered"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Recovery:
    """The verdict, a sentence with its numbers, and when the signal was back (if it was)."""

    verdict: RecoveryVerdict
    reason: str
    signal: str | None = None
    recovered_at: datetime | None = None

    @property
    def on_its_own(self) -> bool:
        return self.verdict is RecoveryVerdict.RECOVERED

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "reason": self.reason,
            "signal": self.signal,
            "recovered_at": None if self.recovered_at is None else self.recovered_at.isoformat(),
        }


def lead_finding(report: TriageReport) -> Finding | None:
    """The first signal of the top hypothesis's evidence that moved against a baseline."""
    top = report.top
    if top is None:
        return None
    for name in top.evidence:
        finding = report.finding(name)
        if finding is not None and finding.moved and finding.baseline_median is not None:
            return finding
    return None


def alerts_verdict(
    notified_at: datetime, alerts_ended_at: datetime | None, window: timedelta
) -> Recovery | None:
    """NOT_RECOVERED when the alerts kept firing past `window`; None when they ended in time."""
    minutes = window.total_seconds() / 60
    if alerts_ended_at is None:
        return Recovery(RecoveryVerdict.NOT_RECOVERED, "the alerts were still firing")
    if alerts_ended_at - notified_at > window:
        after = (alerts_ended_at - notified_at).total_seconds() / 60
        return Recovery(
            RecoveryVerdict.NOT_RECOVERED,
            f"the alerts fired {after:.0f} min after the notification (over {minutes:.0f} min)",
        )
    return None


def judge_recovery(
    finding: Finding,
    series: Sequence[Series],
    baseline_end: datetime,
    alerts_ended_at: datetime,
    window: timedelta,
    *,
    floor_abs: float,
    policy: ScoringPolicy = DEFAULT_POLICY,
) -> Recovery:
    """Whether `finding`'s signal (its `series`, queried from before `baseline_end` to at least
    `window` past `alerts_ended_at`) came back to its baseline within `window` of the end."""
    name = finding.signal
    chosen = _series_of(finding, series)
    if chosen is None:
        return Recovery(RecoveryVerdict.INCONCLUSIVE, f"no {name} series to follow", name)
    points = finite_points(chosen.points)
    before = [v for t, v in points if t < baseline_end.timestamp()]
    if len(before) < policy.min_baseline_points:
        reason = f"{len(before)} baseline points of {name}"
        return Recovery(RecoveryVerdict.INCONCLUSIVE, reason, name)
    base = baseline_of(before, floor_abs=floor_abs, floor_rel=policy.floor_rel)
    start, stop = alerts_ended_at.timestamp(), (alerts_ended_at + window).timestamp()
    after = [(t, v) for t, v in points if start <= t <= stop]
    if not after:
        reason = f"no {name} data after the alerts ended"
        return Recovery(RecoveryVerdict.INCONCLUSIVE, reason, name)
    run_start: float | None = None
    run = 0
    for ts, value in after:
        if abs(robust_z(value, base)) < policy.threshold_z:
            run_start = ts if run == 0 else run_start
            run += 1
            if run >= policy.consecutive and run_start is not None:
                back = datetime.fromtimestamp(run_start, alerts_ended_at.tzinfo)
                minutes = (back - alerts_ended_at).total_seconds() / 60
                reason = (
                    f"{name} back to {after[-1][1]:.3g} (baseline {base.median:.3g}) "
                    f"{max(minutes, 0):.0f} min after the alerts ended"
                )
                return Recovery(RecoveryVerdict.RECOVERED, reason, name, back)
        else:
            run = 0
    last = after[-1][1]
    reason = (
        f"{name} still {last:.3g} vs baseline {base.median:.3g} "
        f"{window.total_seconds() / 60:.0f} min after the alerts ended"
    )
    return Recovery(RecoveryVerdict.NOT_RECOVERED, reason, name)


def _series_of(finding: Finding, series: Sequence[Series]) -> Series | None:
    wanted = finding.series_labels
    exact = [s for s in series if dict(s.labels) == wanted]
    if exact:
        return exact[0]
    if len(series) == 1:
        return series[0]
    # triage adds the pod to a GPU finding's labels; the series itself may not carry it
    compatible = [
        s for s in series if all(wanted[k] == v for k, v in s.labels.items() if k in wanted)
    ]
    return compatible[0] if len(compatible) == 1 else None
