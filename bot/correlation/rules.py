"""Hard rules that outrank scoring: XID codes and model version changes inside the window.

A non-application XID (anything but 13, 31, 43, 45, 68) seen in the window is a GPU fault
with high confidence. A model version that appears inside the window (and was not live in
the baseline) is a deploy, and boosts `bad_deploy`. The evaluators turn raw series into
findings; `hard_rules` turns those findings into verdicts the ranking adds on top.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.correlation.scoring import to_datetime
from bot.domain.findings import Direction, Finding, FindingStatus, HypothesisKind
from bot.domain.signals import Series

# XIDs usually caused by the application (bad kernel, illegal memory access), not the GPU.
APPLICATION_XIDS = frozenset({13, 31, 43, 45, 68})

XID_MEANINGS: dict[int, str] = {
    13: "graphics engine exception",
    31: "GPU memory page fault",
    43: "GPU stopped processing",
    45: "preemptive cleanup",
    48: "double-bit ECC error",
    61: "internal micro-controller breakpoint",
    62: "internal micro-controller halt",
    63: "ECC page retirement or row remap",
    64: "ECC page retirement or row remap failure",
    68: "video processor exception",
    74: "NVLink error",
    79: "GPU has fallen off the bus",
    92: "high single-bit ECC error rate",
    94: "contained ECC error",
    95: "uncontained ECC error",
    119: "GSP RPC timeout",
    120: "GSP error",
}

NEW_HARDWARE_XID_BOOST = 3.0
OLD_HARDWARE_XID_BOOST = 0.5
APPLICATION_XID_BOOST = 0.3
VERSION_CHANGE_BOOST = 1.5


@dataclass(frozen=True)
class RuleVerdict:
    """A hard rule fired: add `boost` to `kind`, citing the finding and why."""

    kind: HypothesisKind
    boost: float
    evidence: str
    explanation: str


def is_application_xid(code: int) -> bool:
    return code in APPLICATION_XIDS


def describe_xid(code: int) -> str:
    meaning = XID_MEANINGS.get(code)
    return f"XID {code}" + (f" ({meaning})" if meaning else "")


def _codes(points: Sequence[tuple[float, float]]) -> list[tuple[float, int]]:
    return [(t, int(v)) for t, v in points if math.isfinite(v) and v > 0]


def _xid_rank(new: bool, code: int) -> tuple[int, int]:
    return (2 if new else 0) + (0 if is_application_xid(code) else 1), code


def evaluate_xid(
    name: str, backend: str, promql: str, series: Sequence[Series], window_start_ts: float
) -> Finding:
    """Moved when a GPU shows an XID code in the window it did not show in the baseline."""
    if not series:
        return Finding(name, backend, promql, FindingStatus.INCONCLUSIVE, "no data", unit="code")
    best: tuple[tuple[int, int], Series, int, float, bool] | None = None
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
    kind = "application" if is_application_xid(code) else "hardware/driver"
    reason = f"{describe_xid(code)}, {kind}" + ("" if new else ", present before the baseline")
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


def evaluate_version(
    name: str, backend: str, promql: str, series: Sequence[Series], window_start_ts: float
) -> Finding:
    """Moved when a model version goes live inside the window that was not live before it."""
    if not series:
        return Finding(name, backend, promql, FindingStatus.INCONCLUSIVE, "no data")
    before: set[str] = set()
    first_seen: dict[str, float] = {}
    for s in series:
        version = s.labels.get("version", "")
        live = [t for t, v in s.points if math.isfinite(v) and v > 0]
        if any(t < window_start_ts for t in live):
            before.add(version)
        in_window = [t for t in live if t >= window_start_ts]
        if in_window:
            first_seen[version] = min(first_seen.get(version, math.inf), in_window[0])
    if not before:
        return Finding(
            name, backend, promql, FindingStatus.INCONCLUSIVE, "no version info before the window"
        )
    new = {v: t for v, t in first_seen.items() if v not in before}
    if not new:
        reason = f"version {', '.join(sorted(before))} unchanged"
        return Finding(
            name, backend, promql, FindingStatus.STEADY, reason, series_count=len(series)
        )
    version, ts = min(new.items(), key=lambda item: item[1])
    previous = ", ".join(sorted(before))
    return Finding(
        signal=name,
        backend=backend,
        promql=promql,
        status=FindingStatus.MOVED,
        reason=f"version {version} went live (was {previous})",
        direction=Direction.UP,
        onset_at=to_datetime(ts),
        series_labels={"version": version, "previous_version": previous},
        series_count=len(series),
        moved_series_count=len(new),
    )


def _where(finding: Finding) -> str:
    labels = finding.series_labels
    parts = [f"{k}={labels[k]}" for k in ("Hostname", "hostname", "gpu") if k in labels]
    return " on " + " ".join(dict.fromkeys(parts)) if parts else ""


def hard_rules(findings: Mapping[str, Finding]) -> list[RuleVerdict]:
    """Verdicts from the XID and model-version findings, whatever scoring says."""
    verdicts: list[RuleVerdict] = []
    xid = findings.get("xid_errors")
    if xid is not None and xid.peak is not None and xid.peak > 0:
        code = int(xid.peak)
        at = f" at {xid.onset_at:%H:%M:%S}" if xid.onset_at else ""
        text = f"{describe_xid(code)}{_where(xid)}{at}"
        if is_application_xid(code):
            if xid.moved:
                note = f"{text} is an application XID"
                verdicts.append(
                    RuleVerdict(HypothesisKind.BAD_DEPLOY, APPLICATION_XID_BOOST, xid.signal, note)
                )
                verdicts.append(
                    RuleVerdict(HypothesisKind.GPU_FAULT, APPLICATION_XID_BOOST, xid.signal, note)
                )
        elif xid.moved:
            note = f"{text}: not an application XID"
            verdicts.append(
                RuleVerdict(HypothesisKind.GPU_FAULT, NEW_HARDWARE_XID_BOOST, xid.signal, note)
            )
        else:
            note = f"{text} was already present before the baseline"
            verdicts.append(
                RuleVerdict(HypothesisKind.GPU_FAULT, OLD_HARDWARE_XID_BOOST, xid.signal, note)
            )
    version = findings.get("model_version")
    if version is not None and version.moved:
        at = f" at {version.onset_at:%H:%M:%S}" if version.onset_at else ""
        verdicts.append(
            RuleVerdict(
                HypothesisKind.BAD_DEPLOY,
                VERSION_CHANGE_BOOST,
                version.signal,
                f"model {version.reason}{at}",
            )
        )
    return verdicts
