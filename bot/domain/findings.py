"""Triage results as pure types: findings per signal, ranked hypotheses, and the report.

A `Finding` is one signal scored against its pre-incident baseline; a `Hypothesis` is one
candidate cause with a confidence and the findings that support it; a `TriageReport` is what
correlation hands back, stored with the incident as JSON (`to_dict()` / `from_dict()`).
"No data" is always `inconclusive` (or `unavailable` when the source failed), never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.domain.errors import FirebreakError


class BadQueryError(FirebreakError):
    """The metrics backend rejected a query as malformed (HTTP 400/422); retrying will not help."""


class FindingStatus(StrEnum):
    MOVED = "moved"
    STEADY = "steady"
    INCONCLUSIVE = "inconclusive"
    UNAVAILABLE = "unavailable"


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"


class HypothesisKind(StrEnum):
    CAPACITY_SATURATION = "capacity_saturation"
    GPU_FAULT = "gpu_fault"
    BAD_DEPLOY = "bad_deploy"
    THERMAL_THROTTLING = "thermal_throttling"
    UPSTREAM_ERRORS = "upstream_errors"
    UNKNOWN = "unknown"


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Finding:
    """One signal compared with its baseline; numbers are in the signal's own unit."""

    signal: str
    backend: str
    promql: str
    status: FindingStatus
    reason: str = ""
    unit: str = ""
    baseline_median: float | None = None
    baseline_iqr: float | None = None
    peak: float | None = None
    current: float | None = None
    z: float | None = None
    direction: Direction | None = None
    onset_at: datetime | None = None
    series_labels: dict[str, str] = field(default_factory=dict)
    series_count: int = 0
    moved_series_count: int = 0

    @property
    def moved(self) -> bool:
        return self.status is FindingStatus.MOVED

    def describe(self) -> str:
        """A one-line account with the numbers, e.g. `kv_cache_usage 0.97 vs baseline 0.41`."""
        if self.status in (FindingStatus.UNAVAILABLE, FindingStatus.INCONCLUSIVE):
            return f"{self.signal} {self.status.value}: {self.reason}"
        if self.peak is None or self.baseline_median is None:
            return f"{self.signal} {self.status.value}: {self.reason}".rstrip(": ")
        text = f"{self.signal} {self.peak:.3g} vs baseline {self.baseline_median:.3g}"
        if self.z is not None:
            text += f" (z={self.z:.1f})"
        if self.onset_at is not None:
            text += f" from {self.onset_at:%H:%M:%S}"
        where = ", ".join(f"{k}={v}" for k, v in sorted(self.series_labels.items()))
        return f"{text} [{where}]" if where else text

    def to_dict(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "backend": self.backend,
            "promql": self.promql,
            "status": self.status.value,
            "reason": self.reason,
            "unit": self.unit,
            "baseline_median": self.baseline_median,
            "baseline_iqr": self.baseline_iqr,
            "peak": self.peak,
            "current": self.current,
            "z": self.z,
            "direction": None if self.direction is None else self.direction.value,
            "onset_at": _time(self.onset_at),
            "series_labels": dict(self.series_labels),
            "series_count": self.series_count,
            "moved_series_count": self.moved_series_count,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        direction = data.get("direction")
        return cls(
            signal=str(data["signal"]),
            backend=str(data["backend"]),
            promql=str(data["promql"]),
            status=FindingStatus(data["status"]),
            reason=str(data.get("reason", "")),
            unit=str(data.get("unit", "")),
            baseline_median=_float(data.get("baseline_median")),
            baseline_iqr=_float(data.get("baseline_iqr")),
            peak=_float(data.get("peak")),
            current=_float(data.get("current")),
            z=_float(data.get("z")),
            direction=None if direction is None else Direction(direction),
            onset_at=_parse_time(data.get("onset_at")),
            series_labels={str(k): str(v) for k, v in data.get("series_labels", {}).items()},
            series_count=int(data.get("series_count", 0)),
            moved_series_count=int(data.get("moved_series_count", 0)),
        )


@dataclass(frozen=True)
class Hypothesis:
    """A candidate cause, its confidence (0..1), the findings behind it and why, with numbers."""

    kind: HypothesisKind
    confidence: float
    evidence: tuple[str, ...] = ()
    explanation: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "confidence": self.confidence,
            "evidence": list(self.evidence),
            "explanation": self.explanation,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hypothesis:
        return cls(
            kind=HypothesisKind(data["kind"]),
            confidence=float(data["confidence"]),
            evidence=tuple(str(e) for e in data.get("evidence", [])),
            explanation=str(data.get("explanation", "")),
        )


@dataclass(frozen=True)
class TriageReport:
    """Everything one correlation run found, ranked best hypothesis first."""

    labels: dict[str, str]
    alert_names: tuple[str, ...]
    baseline_start: datetime
    window_start: datetime
    window_end: datetime
    step_s: float
    hypotheses: tuple[Hypothesis, ...]
    findings: tuple[Finding, ...]
    unavailable: dict[str, str] = field(default_factory=dict)
    queries: tuple[str, ...] = ()
    chart_paths: tuple[str, ...] = ()
    duration_s: float = 0.0
    topology: dict[str, Any] = field(default_factory=dict)
    missing: tuple[str, ...] = ()

    @property
    def top(self) -> Hypothesis | None:
        return self.hypotheses[0] if self.hypotheses else None

    def finding(self, signal: str) -> Finding | None:
        return next((f for f in self.findings if f.signal == signal), None)

    def headline(self) -> str:
        """The top hypothesis in one line, for a chat card."""
        top = self.top
        if top is None:
            return "no hypothesis"
        text = f"{top.kind.value} ({top.confidence:.0%}): {top.explanation}"
        if self.missing and top.kind is not HypothesisKind.UNKNOWN:
            text += "; cannot see: " + "; ".join(self.missing)
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": dict(self.labels),
            "alert_names": list(self.alert_names),
            "baseline_start": self.baseline_start.isoformat(),
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "step_s": self.step_s,
            "hypotheses": [h.to_dict() for h in self.hypotheses],
            "findings": [f.to_dict() for f in self.findings],
            "unavailable": dict(self.unavailable),
            "queries": list(self.queries),
            "chart_paths": list(self.chart_paths),
            "duration_s": self.duration_s,
            "topology": dict(self.topology),
            "missing": list(self.missing),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TriageReport:
        return cls(
            labels={str(k): str(v) for k, v in data.get("labels", {}).items()},
            alert_names=tuple(str(a) for a in data.get("alert_names", [])),
            baseline_start=datetime.fromisoformat(data["baseline_start"]),
            window_start=datetime.fromisoformat(data["window_start"]),
            window_end=datetime.fromisoformat(data["window_end"]),
            step_s=float(data["step_s"]),
            hypotheses=tuple(Hypothesis.from_dict(h) for h in data.get("hypotheses", [])),
            findings=tuple(Finding.from_dict(f) for f in data.get("findings", [])),
            unavailable={str(k): str(v) for k, v in data.get("unavailable", {}).items()},
            queries=tuple(str(q) for q in data.get("queries", [])),
            chart_paths=tuple(str(p) for p in data.get("chart_paths", [])),
            duration_s=float(data.get("duration_s", 0.0)),
            topology=dict(data.get("topology") or {}),
            missing=tuple(str(m) for m in data.get("missing", [])),
        )
