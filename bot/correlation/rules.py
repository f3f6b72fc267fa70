"""Hard rules that outrank scoring: XID codes, rollouts and engines that died in the window.

XID codes are read through NVIDIA's catalogue (`xids.yml`): a hardware XID new in the window
is a GPU fault, with a boost scaled by its urgency; an application XID (13, 31, 43, 45, 68)
is the program's fault, a weak hint at a bad deploy, and never blamed on the GPU. A rollout
inside the window boosts `bad_deploy` only when errors or drift (or latency that demand and
GPUs do not explain) moved after it. An engine that died beside a
faulted GPU is a GPU fault. `evaluate_xid` turns raw series into a finding; `hard_rules` turns
findings into verdicts the ranking adds on top.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.correlation.scoring import to_datetime
from bot.correlation.xids import Urgency, XidCatalogue, default_xids
from bot.domain.findings import Direction, Finding, FindingStatus, HypothesisKind
from bot.domain.signals import Series

NEW_HARDWARE_XID_BOOST = 3.0
# A low-urgency hardware XID (a row remap recorded, a high single-bit rate) is a weaker verdict.
URGENCY_SCALE = {Urgency.CRITICAL: 1.0, Urgency.HIGH: 1.0, Urgency.MEDIUM: 0.8, Urgency.LOW: 0.4}
OLD_HARDWARE_XID_BOOST = 0.5
APPLICATION_XID_BOOST = 0.3
ROLLOUT_BOOST = 1.5
ROLLOUT_LATENCY_BOOST = 0.5
DEATH_BOOST = 1.0
ROLLOUT_TIE = timedelta(seconds=60)
# A release shows its errors and latency as soon as its pods take traffic; drift jobs lag.
ROLLOUT_BLAME = {"error_ratio": timedelta(seconds=150), "drift_psi": timedelta(minutes=15)}
ROLLOUT_LATENCY_BLAME = timedelta(seconds=150)
LATENCY_SIGNALS = ("ttft_p95", "e2e_latency_p95", "inter_token_latency_p95")


@dataclass(frozen=True)
class RuleVerdict:
    """A hard rule fired: add `boost` to `kind`, citing the finding and why; a negative boost
    explains `kind` away instead, scaling its confidence by 1 + boost."""

    kind: HypothesisKind
    boost: float
    evidence: str
    explanation: str


def is_application_xid(code: int, xids: XidCatalogue | None = None) -> bool:
    return (xids or default_xids()).is_application(code)


def describe_xid(code: int, xids: XidCatalogue | None = None) -> str:
    return (xids or default_xids()).describe(code)


def xid_evidence(code: int, labels: Mapping[str, str], xids: XidCatalogue | None = None) -> str:
    """`XID 79 on gpu-node-3 GPU 2: GPU has fallen off the bus — hardware; drain the node`."""
    entry = (xids or default_xids()).entry(code)
    where = ""
    if labels.get("Hostname"):
        where += f" on {labels['Hostname']}"
    if labels.get("gpu"):
        where += f" GPU {labels['gpu']}"
    if labels.get("pod"):
        where += f" (pod {labels['pod']})"
    return f"XID {code}{where}: {entry.meaning} — {entry.xid_class.value}; {entry.action.advice}"


def _codes(points: Sequence[tuple[float, float]]) -> list[tuple[float, int]]:
    return [(t, int(v)) for t, v in points if math.isfinite(v) and v > 0]


def _xid_rank(new: bool, code: int) -> tuple[int, int, int]:
    """New before old, hardware before application, urgent before mild, then the code."""
    entry = default_xids().entry(code)
    urgency = list(Urgency).index(entry.urgency)
    return (2 if new else 0) + (0 if entry.is_application else 1), urgency, code


def evaluate_xid(
    name: str, backend: str, promql: str, series: Sequence[Series], window_start_ts: float
) -> Finding:
    """Moved when a GPU shows an XID code in the window it did not show in the baseline."""
    if not series:
        return Finding(name, backend, promql, FindingStatus.INCONCLUSIVE, "no data", unit="code")
    best: tuple[tuple[int, int, int], Series, int, float, bool] | None = None
    window_points = 0
    for s in series:
        before = {code for _, code in _codes([p for p in s.points if p[0] < window_start_ts])}
        window = _codes([p for p in s.points if p[0] >= window_start_ts])
        window_points += sum(1 for t, _ in s.points if t >= window_start_ts)
        for ts, code in window:
            new = code not in before
            rank = _xid_rank(new, code)
            if best is None or rank > best[0]:
                best = (rank, s, code, ts, new)
    if best is None:
        if window_points == 0:
            return Finding(
                name, backend, promql, FindingStatus.INCONCLUSIVE, "no points in the window"
            )
        return Finding(
            name,
            backend,
            promql,
            FindingStatus.STEADY,
            "no XID in the window",
            unit="code",
            peak=0.0,
            current=0.0,
            baseline_median=0.0,
            series_count=len(series),
        )
    _, chosen, code, first_ts, new = best
    entry = default_xids().entry(code)
    reason = f"{describe_xid(code)}, {entry.xid_class.value}; {entry.action.advice}"
    reason += "" if new else ", present before the baseline"
    last = chosen.points[-1][1] if chosen.points else float(code)
    return Finding(
        signal=name,
        backend=backend,
        promql=promql,
        status=FindingStatus.MOVED if new else FindingStatus.STEADY,
        reason=reason,
        unit="code",
        baseline_median=0.0 if new else float(code),
        peak=float(code),
        current=last if math.isfinite(last) else None,
        direction=Direction.UP,
        onset_at=to_datetime(first_ts) if new else None,
        series_labels=dict(chosen.labels),
        series_count=len(series),
        moved_series_count=1 if new else 0,
    )


def hard_rules(findings: Mapping[str, Finding]) -> list[RuleVerdict]:
    """Verdicts from the XID, rollout and dead-engine findings, whatever scoring says."""
    return [*_xid_verdicts(findings), *_rollout_verdicts(findings), *_death_verdicts(findings)]


def _xid_verdicts(findings: Mapping[str, Finding]) -> list[RuleVerdict]:
    xid = findings.get("xid_errors")
    if xid is None or xid.peak is None or xid.peak <= 0:
        return []
    code = int(xid.peak)
    entry = default_xids().entry(code)
    at = f" (from {xid.onset_at:%H:%M:%S})" if xid.onset_at else ""
    text = xid_evidence(code, xid.series_labels) + at
    if entry.is_application:
        if not xid.moved:
            return []
        note = f"{text}: the program faulted, not the GPU"
        return [RuleVerdict(HypothesisKind.BAD_DEPLOY, APPLICATION_XID_BOOST, xid.signal, note)]
    scale = URGENCY_SCALE[entry.urgency]
    if xid.moved:
        boost = NEW_HARDWARE_XID_BOOST * scale
        return [RuleVerdict(HypothesisKind.GPU_FAULT, boost, xid.signal, text)]
    note = f"{text}; already present before the baseline"
    return [RuleVerdict(HypothesisKind.GPU_FAULT, OLD_HARDWARE_XID_BOOST * scale, xid.signal, note)]


def _moved_after(finding: Finding | None, at: datetime, within: timedelta) -> bool:
    """Moved from `at` (give or take a tie) to `within` after it."""
    return (
        finding is not None
        and finding.moved
        and finding.onset_at is not None
        and at - ROLLOUT_TIE <= finding.onset_at <= at + within
    )


def _rollout_verdicts(findings: Mapping[str, Finding]) -> list[RuleVerdict]:
    """A rollout is blamed only for what moved right after it: errors or drift, or latency that
    rising demand and the GPUs do not explain. A harmless rollout before a surge is not, nor one
    whose pods served cleanly for minutes before the errors began."""
    rollout = findings.get("rollout")
    if rollout is None or not rollout.moved or rollout.onset_at is None:
        return []
    at = rollout.onset_at
    what = f"{rollout.reason} at {at:%H:%M:%S}"
    blamed = [n for n, w in ROLLOUT_BLAME.items() if _moved_after(findings.get(n), at, w)]
    if blamed:
        boost = ROLLOUT_BOOST * (0.5 if _new_hardware_xid(findings) else 1.0)
        note = f"{what}, then {' and '.join(blamed)} moved"
        return [
            RuleVerdict(HypothesisKind.BAD_DEPLOY, boost, rollout.signal, note),
            RuleVerdict(HypothesisKind.UPSTREAM_ERRORS, -0.6, rollout.signal, note),
        ]
    demand = findings.get("request_rate")
    demand_rose = demand is not None and demand.moved and demand.direction is Direction.UP
    gpus_moved = any(
        findings.get(n) is not None and findings[n].moved
        for n in ("gpu_temp", "sm_clock", "clock_thermal_reasons", "xid_errors")
    )
    slower = [
        n for n in LATENCY_SIGNALS if _moved_after(findings.get(n), at, ROLLOUT_LATENCY_BLAME)
    ]
    if slower and not demand_rose and not gpus_moved:
        note = f"{what}, then {' and '.join(slower)} rose with demand steady"
        return [RuleVerdict(HypothesisKind.BAD_DEPLOY, ROLLOUT_LATENCY_BOOST, rollout.signal, note)]
    return []


def _new_hardware_xid(findings: Mapping[str, Finding]) -> bool:
    xid = findings.get("xid_errors")
    return (
        xid is not None and xid.moved and xid.peak is not None
        and not is_application_xid(int(xid.peak))
    )  # fmt: skip


def _death_verdicts(findings: Mapping[str, Finding]) -> list[RuleVerdict]:
    """A dead engine on a GPU that faulted is a GPU fault; on a new release, a bad deploy."""
    death = findings.get("engine_died")
    if death is None or not death.moved:
        return []
    note = death.reason
    if _new_hardware_xid(findings) or _moved_down(findings.get("gpu_util")):
        return [RuleVerdict(HypothesisKind.GPU_FAULT, DEATH_BOOST, death.signal, note)]
    rollout = findings.get("rollout")
    if rollout is not None and rollout.moved:
        return [RuleVerdict(HypothesisKind.BAD_DEPLOY, DEATH_BOOST, death.signal, note)]
    return [
        RuleVerdict(HypothesisKind.GPU_FAULT, DEATH_BOOST / 2, death.signal, note),
        RuleVerdict(HypothesisKind.BAD_DEPLOY, DEATH_BOOST / 4, death.signal, note),
    ]


def _moved_down(finding: Finding | None) -> bool:
    return finding is not None and finding.moved and finding.direction is Direction.DOWN
