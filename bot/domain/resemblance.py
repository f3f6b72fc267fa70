"""How much an earlier incident looks like a new one, and why: deterministic, explainable scoring.

Similarity is a weighted sum of what the two incidents share, each part with a reason:

| part       | weight | earned when                                                        |
|------------|--------|--------------------------------------------------------------------|
| model      | 0.25   | the same model                                                     |
| namespace  | 0.05   | the same namespace                                                 |
| node       | 0.10   | the same node (half when the node of one ran the other's model)    |
| hypothesis | 0.25   | the same top hypothesis (never for `unknown`)                      |
| evidence   | 0.35   | x the share of moved signals that moved alike (same signal, same   |
|            |        | way), each weighted by how close their sizes were (log of |z|)     |

The score is the similarity times a recency weight that halves its distance to 0.5 every
HALF_LIFE_DAYS (1.0 today, 0.75 after a half-life, never below 0.5): history counts, recent
history more. A candidate is a match when its similarity reaches MIN_SIMILARITY and it shares
the scope or the cause — sharing only evidence is not enough.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.memory import IncidentTraits, SignalMove

WEIGHTS = {"model": 0.25, "namespace": 0.05, "node": 0.10, "hypothesis": 0.25, "evidence": 0.35}
MIN_SIMILARITY = 0.45
HALF_LIFE_DAYS = 30.0
UNMEASURED_CLOSENESS = 0.75  # two moves alike whose size one of them could not measure
_ARROW = {"up": "↑", "down": "↓"}


@dataclass(frozen=True)
class Resemblance:
    """An earlier incident matched to a new one: its score and every reason for it."""

    incident_id: int
    triggered_at: datetime
    score: float
    similarity: float
    recency: float
    reasons: tuple[str, ...]
    hypothesis: str | None = None
    alike_signals: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "triggered_at": self.triggered_at.isoformat(),
            "score": self.score,
            "similarity": self.similarity,
            "recency": self.recency,
            "reasons": list(self.reasons),
            "hypothesis": self.hypothesis,
            "alike_signals": list(self.alike_signals),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Resemblance:
        hypothesis = data.get("hypothesis")
        return cls(
            incident_id=int(data["incident_id"]),
            triggered_at=datetime.fromisoformat(str(data["triggered_at"])),
            score=float(data["score"]),
            similarity=float(data["similarity"]),
            recency=float(data["recency"]),
            reasons=tuple(str(r) for r in data.get("reasons") or ()),
            hypothesis=None if hypothesis is None else str(hypothesis),
            alike_signals=tuple(str(a) for a in data.get("alike_signals") or ()),
        )


def recency_weight(age_s: float) -> float:
    """1.0 for now, 0.75 one half-life ago, tending to 0.5 for the distant past."""
    age_days = max(0.0, age_s) / 86400.0
    return 0.5 + 0.5 * math.pow(0.5, age_days / HALF_LIFE_DAYS)


@dataclass(frozen=True)
class _Shared:
    """What two incidents share besides their evidence: scope and cause."""

    similarity: float
    reasons: tuple[str, ...]


def _shared(current: IncidentTraits, earlier: IncidentTraits) -> _Shared | None:
    """The scope and cause parts; None when the two share neither scope nor cause."""
    similarity = 0.0
    reasons: list[str] = []
    shares_scope = False
    if current.model and current.model == earlier.model:
        similarity += WEIGHTS["model"]
        reasons.append(f"same model {current.model}")
        shares_scope = True
    if current.namespace and current.namespace == earlier.namespace:
        similarity += WEIGHTS["namespace"]
        reasons.append(f"same namespace {current.namespace}")
    if current.node and current.node == earlier.node:
        similarity += WEIGHTS["node"]
        reasons.append(f"same node {current.node}")
        shares_scope = True
    elif current.node and current.node in earlier.nodes:
        similarity += WEIGHTS["node"] / 2
        reasons.append(f"ran on node {current.node} too")
    same_cause = current.hypothesis not in (None, "", "unknown")
    same_cause = same_cause and current.hypothesis == earlier.hypothesis
    if same_cause:
        similarity += WEIGHTS["hypothesis"]
        reasons.append(f"same cause {current.hypothesis}")
    if not (shares_scope or same_cause):
        return None
    return _Shared(similarity, tuple(reasons))


def _finish(
    current: IncidentTraits, earlier: IncidentTraits, shared: _Shared
) -> Resemblance | None:
    """Add the evidence to the shared parts; None below MIN_SIMILARITY."""
    similarity = shared.similarity
    reasons = list(shared.reasons)
    share, alike = evidence_similarity(current.signals, earlier.signals)
    if alike:
        similarity += WEIGHTS["evidence"] * share
        moved = len(set(current.signals) | set(earlier.signals))
        listed = ", ".join(
            f"{name} {_ARROW.get(current.signals[name].direction, '')}".strip()
            for name in alike[:4]
        )
        more = f" +{len(alike) - 4}" if len(alike) > 4 else ""
        reasons.append(f"{len(alike)} of {moved} moved signals alike ({listed}{more})")
    similarity = round(similarity, 4)
    if similarity < MIN_SIMILARITY:
        return None
    recency = _recency(current, earlier)
    return Resemblance(
        incident_id=earlier.incident_id,
        triggered_at=earlier.triggered_at,
        score=round(similarity * recency, 4),
        similarity=similarity,
        recency=recency,
        reasons=tuple(reasons),
        hypothesis=earlier.hypothesis,
        alike_signals=tuple(alike),
    )


def _recency(current: IncidentTraits, earlier: IncidentTraits) -> float:
    age_s = (current.triggered_at - earlier.triggered_at).total_seconds()
    return round(recency_weight(age_s), 4)


def resemble(current: IncidentTraits, earlier: IncidentTraits) -> Resemblance | None:
    """How much `earlier` looks like `current`, or None when it is no match."""
    shared = _shared(current, earlier)
    return None if shared is None else _finish(current, earlier, shared)


def evidence_similarity(
    current: Mapping[str, SignalMove], earlier: Mapping[str, SignalMove]
) -> tuple[float, list[str]]:
    """The share (0..1) of all moved signals that moved alike in both, each counted by how
    close the two sizes were; and the names of those alike, most alike first."""
    union = set(current) | set(earlier)
    if not union:
        return 0.0, []
    closeness: dict[str, float] = {}
    for name in union:
        a, b = current.get(name), earlier.get(name)
        if a is not None and b is not None and a.direction == b.direction:
            closeness[name] = size_closeness(a.z, b.z)
    alike = sorted(closeness, key=lambda n: (-closeness[n], n))
    return sum(closeness.values()) / len(union), alike


def size_closeness(a: float | None, b: float | None) -> float:
    """1.0 for moves of the same size, less as their sizes part (on a log scale)."""
    if a is None or b is None:
        return UNMEASURED_CLOSENESS
    la, lb = math.log1p(abs(a)), math.log1p(abs(b))
    if max(la, lb) == 0:
        return 1.0
    return min(la, lb) / max(la, lb)


def rank(
    current: IncidentTraits, candidates: list[IncidentTraits], limit: int
) -> list[Resemblance]:
    """The best `limit` matches among `candidates`, best first (ties: the more recent, then the
    higher id), never the incident itself.

    Candidates are scored in the order of the best score their scope and cause allow (as if
    every signal moved alike), and scoring stops once that bound falls below the `limit`-th
    best score found: the answer is the one scoring them all would give, while the evidence
    of most candidates is never read.
    """
    bounded = []
    for candidate in candidates:
        if candidate.incident_id == current.incident_id:
            continue
        shared = _shared(current, candidate)
        if shared is None or shared.similarity + WEIGHTS["evidence"] < MIN_SIMILARITY:
            continue
        best_case = round(
            (shared.similarity + WEIGHTS["evidence"]) * _recency(current, candidate), 4
        )
        bounded.append((best_case, candidate, shared))
    bounded.sort(key=lambda b: (-b[0], -b[1].triggered_at.timestamp(), -b[1].incident_id))
    matches: list[Resemblance] = []
    for best_case, candidate, shared in bounded:
        if len(matches) >= limit and best_case < matches[limit - 1].score:
            break
        match = _finish(current, candidate, shared)
        if match is not None:
            matches.append(match)
            matches.sort(key=lambda m: (-m.score, -m.triggered_at.timestamp(), -m.incident_id))
    return matches[:limit]
