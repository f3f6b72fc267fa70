"""Incident memory as pure data: what an incident looked like when it was triaged, and what
became of it afterwards.

`IncidentTraits` is the part of a triage that similar incidents are found by: the scope (model,
namespace, node), the top hypothesis and, for every signal that moved, which way and how far
(its robust z-score against the pre-incident baseline). `traits_of` reads them from an incident's
labels and its stored triage report.

`PastIncident` is what became of an earlier incident: the runbook that ran and whether it
verified, when it was mitigated, and the first later incident on the same scope. Its `held`
verdict: the scope did not fire again within HOLD_WINDOW of the mitigation (`held`), it did or the
incident reopened (`did_not_hold`), the window has not passed yet (`holding`), or it was never
mitigated (`open`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.domain.runbooks import Run, RunState

HOLD_WINDOW = timedelta(hours=24)
_NODE_LABELS = ("node", "Hostname", "instance_node")


@dataclass(frozen=True)
class SignalMove:
    """One signal that moved during an incident: `up` or `down`, and by how many robust
    standard deviations (|z|; None when triage could not measure the spread)."""

    direction: str
    z: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"direction": self.direction, "z": self.z}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SignalMove:
        z = data.get("z")
        return cls(str(data.get("direction", "up")), None if z is None else float(z))


@dataclass(frozen=True)
class IncidentTraits:
    """What a triaged incident is matched by; `signals` holds only the signals that moved."""

    incident_id: int
    triggered_at: datetime
    model: str | None = None
    namespace: str | None = None
    node: str | None = None
    nodes: tuple[str, ...] = ()
    hypothesis: str | None = None
    confidence: float | None = None
    signals: Mapping[str, SignalMove] = field(default_factory=dict)

    @property
    def scope(self) -> tuple[str, str] | None:
        """The scope a recurrence is looked for on: the model, else the node, else the
        namespace; None when the incident names none of them."""
        for name in ("model", "node", "namespace"):
            value = getattr(self, name)
            if value:
                return name, str(value)
        return None

    def signals_to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: move.to_dict() for name, move in sorted(self.signals.items())}


def traits_of(
    incident_id: int,
    triggered_at: datetime,
    labels: Mapping[str, str],
    triage: Mapping[str, Any],
) -> IncidentTraits:
    """An incident's traits from its labels and its triage report (`TriageReport.to_dict()`).

    The model and namespace are the incident's labels, else the one model or namespace the
    topology resolved. The node is the incident's own node label, else the node of the most
    anomalous moved finding that names one, else the only node the model ran on.
    """
    topology = triage.get("topology") or {}
    nodes = sorted({str(n) for n in topology.get("nodes") or []})
    moved = [f for f in triage.get("findings") or [] if f.get("status") == "moved"]
    moved.sort(key=lambda f: -abs(_number(f.get("z"))))
    signals = {
        str(f["signal"]): SignalMove(
            str(f.get("direction") or "up"),
            None if f.get("z") is None else round(abs(float(f["z"])), 3),
        )
        for f in moved
        if f.get("signal")
    }
    hypotheses = [h for h in triage.get("hypotheses") or [] if isinstance(h, Mapping)]
    top = hypotheses[0] if hypotheses else None
    return IncidentTraits(
        incident_id=incident_id,
        triggered_at=triggered_at,
        model=labels.get("model_name") or _single(topology.get("models")),
        namespace=labels.get("namespace") or _single(topology.get("namespaces")),
        node=_node(labels, moved, nodes),
        nodes=tuple(nodes),
        hypothesis=None if top is None else str(top.get("kind")),
        confidence=None if top is None else _number(top.get("confidence")),
        signals=signals,
    )


def _node(
    labels: Mapping[str, str], moved: list[Mapping[str, Any]], nodes: list[str]
) -> str | None:
    for name in _NODE_LABELS:
        if labels.get(name):
            return labels[name]
    for finding in moved:
        found = finding.get("series_labels") or {}
        for name in _NODE_LABELS:
            if found.get(name):
                return str(found[name])
    return nodes[0] if len(nodes) == 1 else None


def _single(values: Any) -> str | None:
    items = sorted({str(v) for v in values or []})
    return items[0] if len(items) == 1 else None


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


class Held(StrEnum):
    """Whether an incident's fix held: the same scope stayed quiet for HOLD_WINDOW after it."""

    HELD = "held"
    DID_NOT_HOLD = "did_not_hold"
    HOLDING = "holding"
    OPEN = "open"


@dataclass(frozen=True)
class RunOutcome:
    """The runbook run that speaks for an incident's remediation, and whether it verified."""

    run_id: int
    runbook: str
    state: str
    verified: bool | None


_ACTED = {
    RunState.RUNNING,
    RunState.VERIFYING,
    RunState.SUCCEEDED,
    RunState.FAILED,
    RunState.REVERTING,
    RunState.REVERTED,
}


def run_outcome(runs: list[Run]) -> RunOutcome | None:
    """The run that speaks for an incident's remediation: the latest one that acted, else the
    latest one at all (denied, timed out, awaiting approval); None without runs."""
    if not runs:
        return None
    acted = [r for r in runs if r.state in _ACTED]
    run = (acted or runs)[-1]
    return RunOutcome(run.id or 0, run.runbook, run.state.value, run.verified)


@dataclass(frozen=True)
class PastIncident:
    """What became of an earlier incident, as the store knows it now."""

    incident_id: int
    title: str
    status: str
    triggered_at: datetime
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    reopened_count: int = 0
    run: RunOutcome | None = None
    recurred_id: int | None = None  # the first later incident on its scope within HOLD_WINDOW
    recurred_at: datetime | None = None

    @property
    def ref(self) -> str:
        return f"INC-{self.incident_id}"

    @property
    def ended_at(self) -> datetime | None:
        """When it stopped hurting: mitigated, else resolved."""
        return self.mitigated_at or self.resolved_at

    @property
    def time_to_mitigate_s(self) -> float | None:
        ended = self.ended_at
        return None if ended is None else (ended - self.triggered_at).total_seconds()

    def held(self, now: datetime) -> Held:
        """The verdict on its fix as of `now`."""
        ended = self.ended_at
        if self.recurred_id is not None or self.reopened_count > 0:
            return Held.DID_NOT_HOLD
        if ended is None:
            return Held.OPEN
        return Held.HELD if now - ended >= HOLD_WINDOW else Held.HOLDING
