"""The incident state machine and the durations derived from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.alerts import Severity
from bot.domain.incidents import Incident, IncidentStatus, InvalidTransitionError, parse_ref

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def make_incident(**kw: object) -> Incident:
    values: dict[str, object] = {
        "id": 7,
        "receiver": "firebreak",
        "group_key": "{}:{}",
        "title": "t",
        "severity": Severity.CRITICAL,
        "status": IncidentStatus.TRIGGERED,
        "triggered_at": T0,
    }
    values.update(kw)
    return Incident(**values)  # type: ignore[arg-type]


def test_full_lifecycle_stamps_every_transition() -> None:
    """triggered → acknowledged → mitigated → resolved stamps each time; durations follow."""
    incident = make_incident()
    incident.move_to(IncidentStatus.ACKNOWLEDGED, T0 + timedelta(minutes=2), by="alice")
    incident.move_to(IncidentStatus.MITIGATED, T0 + timedelta(minutes=5))
    incident.move_to(IncidentStatus.RESOLVED, T0 + timedelta(minutes=9), by="alertmanager")
    assert incident.acknowledged_by == "alice"
    assert incident.durations_s() == {"tta_s": 120.0, "ttm_s": 300.0, "ttr_s": 540.0}


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (IncidentStatus.RESOLVED, IncidentStatus.ACKNOWLEDGED),
        (IncidentStatus.MITIGATED, IncidentStatus.ACKNOWLEDGED),
        (IncidentStatus.ACKNOWLEDGED, IncidentStatus.TRIGGERED),
    ],
)
def test_backwards_moves_are_refused(start: IncidentStatus, target: IncidentStatus) -> None:
    """The state machine refuses moves that would rewrite history."""
    with pytest.raises(InvalidTransitionError):
        make_incident(status=start).move_to(target, T0)


def test_reopen_clears_resolution_and_counts() -> None:
    """Re-triggering a resolved incident clears its resolution and counts the reopen."""
    incident = make_incident()
    incident.move_to(IncidentStatus.RESOLVED, T0 + timedelta(minutes=1))
    incident.move_to(IncidentStatus.TRIGGERED, T0 + timedelta(minutes=3))
    assert incident.resolved_at is None
    assert incident.reopened_count == 1


def test_reopenable_only_inside_the_window() -> None:
    """A resolved incident is reopenable for the window after its resolution, not later."""
    incident = make_incident()
    incident.move_to(IncidentStatus.RESOLVED, T0)
    assert incident.reopenable(T0 + timedelta(minutes=29), timedelta(minutes=30))
    assert not incident.reopenable(T0 + timedelta(minutes=31), timedelta(minutes=30))
    assert not make_incident().reopenable(T0, timedelta(minutes=30))


@pytest.mark.parametrize(("text", "expected"), [("INC-12", 12), ("inc-3", 3), (" 42 ", 42)])
def test_parse_ref_reads_incident_ids(text: str, expected: int) -> None:
    """INC-<n>, lower case or a bare number all name an incident."""
    assert parse_ref(text) == expected


def test_parse_ref_refuses_garbage() -> None:
    """A non-numeric id is refused with the expected form in the message."""
    with pytest.raises(ValueError, match="INC-<n>"):
        parse_ref("INC-abc")
