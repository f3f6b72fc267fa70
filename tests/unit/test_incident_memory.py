"""Incident memory's pure parts: traits read from a triage report, deterministic scoring with
its reasons, recency, and whether a past fix held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.memory import (
    HOLD_WINDOW,
    Held,
    IncidentTraits,
    PastIncident,
    SignalMove,
    traits_of,
)
from bot.domain.resemblance import (
    MIN_SIMILARITY,
    rank,
    recency_weight,
    resemble,
    size_closeness,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SATURATED = {"kv_cache_usage": SignalMove("up", 9.0), "queue_waiting": SignalMove("up", 20.0)}


def traits(incident_id: int, **overrides: object) -> IncidentTraits:
    values: dict[str, object] = {
        "incident_id": incident_id,
        "triggered_at": T0 - timedelta(days=incident_id),
        "model": "llama-3-70b",
        "namespace": "serving",
        "hypothesis": "capacity_saturation",
        "signals": SATURATED,
    }
    values.update(overrides)
    return IncidentTraits(**values)  # type: ignore[arg-type]


def test_traits_come_from_labels_topology_and_moved_findings() -> None:
    """Scope from the labels (else the one model and namespace the topology resolved), the node
    from the most anomalous moved finding naming one, signals only from moved findings."""
    report = {
        "hypotheses": [{"kind": "gpu_fault", "confidence": 0.91}, {"kind": "unknown"}],
        "topology": {"models": ["llama"], "namespaces": ["serving"], "nodes": ["n2", "n1"]},
        "findings": [
            {
                "signal": "xid",
                "status": "moved",
                "direction": "up",
                "z": -40.0,
                "series_labels": {"Hostname": "n2", "gpu": "3"},
            },
            {"signal": "queue_waiting", "status": "moved", "direction": "up", "z": 4.0},
            {"signal": "gpu_temp", "status": "steady", "direction": None, "z": 0.3},
            {"signal": "drift_psi", "status": "inconclusive"},
        ],
    }
    found = traits_of(7, T0, {"alertname": "GPUXidError"}, report)
    assert (found.model, found.namespace, found.node) == ("llama", "serving", "n2")
    assert found.nodes == ("n1", "n2")
    assert (found.hypothesis, found.confidence) == ("gpu_fault", 0.91)
    assert found.signals == {"xid": SignalMove("up", 40.0), "queue_waiting": SignalMove("up", 4.0)}
    assert found.scope == ("model", "llama")
    labelled = traits_of(7, T0, {"model_name": "m", "node": "n9"}, report)
    assert (labelled.model, labelled.node) == ("m", "n9")


def test_an_untriaged_report_gives_traits_without_scope_or_cause() -> None:
    """An empty report: no hypothesis, no signals, and no scope to look for a recurrence on."""
    found = traits_of(1, T0, {}, {})
    assert found.hypothesis is None
    assert found.signals == {}
    assert found.scope is None


def test_the_same_fault_on_the_same_model_is_a_strong_match_with_every_reason() -> None:
    """Same model, namespace, cause and moves: similarity near 1, each part named."""
    match = resemble(traits(0), traits(1))
    assert match is not None
    assert match.similarity == pytest.approx(0.25 + 0.05 + 0.25 + 0.35)
    assert match.reasons[:3] == (
        "same model llama-3-70b",
        "same namespace serving",
        "same cause capacity_saturation",
    )
    assert match.reasons[3].startswith("2 of 2 moved signals alike (kv_cache_usage ↑")
    assert match.score == pytest.approx(match.similarity * match.recency, abs=1e-4)


def test_evidence_counts_direction_and_size() -> None:
    """A signal that moved the other way counts for nothing; sizes far apart count less."""
    opposite = {**SATURATED, "queue_waiting": SignalMove("down", 20.0)}
    half = resemble(traits(0), traits(1, signals=opposite))
    smaller = resemble(traits(0), traits(1, signals={k: SignalMove("up", 1.0) for k in SATURATED}))
    full = resemble(traits(0), traits(1))
    assert half is not None and smaller is not None and full is not None  # noqa: PT018
    assert half.similarity < full.similarity
    assert smaller.similarity < full.similarity
    assert size_closeness(9.0, 9.0) == 1.0
    assert size_closeness(None, 3.0) == 0.75
    assert size_closeness(1.0, 100.0) < 0.2


def test_sharing_only_evidence_or_only_the_model_is_no_match() -> None:
    """Alike moves on another model and another cause, or the same model alone, are not enough;
    the same cause with alike moves on another model is."""
    assert (
        resemble(traits(0), traits(1, model="other", namespace="x", hypothesis="gpu_fault")) is None
    )
    bare = traits(1, namespace=None, hypothesis="gpu_fault", signals={})
    assert resemble(traits(0), bare) is None
    elsewhere = resemble(traits(0), traits(1, model="other", namespace="x"))
    assert elsewhere is not None
    assert elsewhere.similarity >= MIN_SIMILARITY


def test_unknown_causes_do_not_count_as_the_same_cause() -> None:
    """Two incidents triage could not explain share no cause."""
    match = resemble(traits(0, hypothesis="unknown"), traits(1, hypothesis="unknown"))
    assert match is not None
    assert not any("same cause" in reason for reason in match.reasons)


def test_recency_breaks_ties_and_halves_towards_a_floor() -> None:
    """Equal similarity ranks the more recent first; weight 1 now, 0.75 a half-life ago,
    never below 0.5."""
    assert recency_weight(0) == 1.0
    assert recency_weight(30 * 86400) == pytest.approx(0.75)
    assert recency_weight(10_000 * 86400) == pytest.approx(0.5)
    ranked = rank(traits(0), [traits(40), traits(3), traits(0), traits(12)], limit=2)
    assert [m.incident_id for m in ranked] == [3, 12]


def test_a_fix_held_when_the_scope_stayed_quiet_for_a_day() -> None:
    """Held after 24 h without a recurrence; holding before; did not hold on a recurrence or
    a reopening; open when never mitigated."""
    mitigated = T0 + timedelta(minutes=5)
    past = PastIncident(1, "t", "resolved", T0, mitigated_at=mitigated)
    assert past.time_to_mitigate_s == 300.0
    assert past.held(mitigated + HOLD_WINDOW) is Held.HELD
    assert past.held(mitigated + timedelta(hours=2)) is Held.HOLDING
    again = PastIncident(1, "t", "resolved", T0, mitigated_at=mitigated, recurred_id=4)
    assert again.held(mitigated + timedelta(days=9)) is Held.DID_NOT_HOLD
    reopened = PastIncident(1, "t", "resolved", T0, resolved_at=mitigated, reopened_count=1)
    assert reopened.held(mitigated + timedelta(days=9)) is Held.DID_NOT_HOLD
    assert PastIncident(1, "t", "triggered", T0).held(T0 + timedelta(days=9)) is Held.OPEN
