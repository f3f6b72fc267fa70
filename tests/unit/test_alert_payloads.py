"""Parsing Alertmanager webhook v4 payloads and reading their labels."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.domain.alerts import AlertGroup, AlertStatus, Severity, delivery_hash, severity_of
from tests.payloads import alert, body, group


def test_grouped_payload_keeps_every_alert_and_the_group_key() -> None:
    """A group of three alerts parses into three alerts under Alertmanager's groupKey."""
    payload = group(*(alert(fingerprint=f"fp{i}", pod=f"llama-{i}") for i in range(3)))
    parsed = AlertGroup.model_validate(payload)
    assert len(parsed.alerts) == 3
    assert parsed.group_key == payload["groupKey"]
    assert {a.labels["pod"] for a in parsed.alerts} == {"llama-0", "llama-1", "llama-2"}


def test_firing_alert_zero_ends_at_means_no_end() -> None:
    """Firing alerts carry endsAt 0001-01-01T00:00:00Z, which reads as 'no end yet'."""
    parsed = AlertGroup.model_validate(group(alert()))
    assert parsed.alerts[0].ends_at is None
    assert parsed.alerts[0].status is AlertStatus.FIRING


def test_resolved_payload_has_end_time() -> None:
    """A resolved alert keeps its endsAt as an aware UTC time."""
    parsed = AlertGroup.model_validate(
        group(alert(status="resolved", ends_at="2026-11-28T10:05:00.123+01:00"))
    )
    ends_at = parsed.alerts[0].ends_at
    assert parsed.status is AlertStatus.RESOLVED
    assert ends_at is not None
    assert ends_at.utcoffset() is not None
    assert ends_at.hour == 9


def test_truncated_alerts_count_is_read() -> None:
    """truncatedAlerts is kept so the timeline can say alerts were dropped upstream."""
    assert AlertGroup.model_validate(group(alert(), truncated=17)).truncated_alerts == 17


def test_fields_newer_alertmanagers_add_are_tolerated() -> None:
    """Unknown top-level and per-alert fields do not fail validation."""
    payload = group(alert(), groupId="abc", someFutureField={"x": 1})
    payload["alerts"][0]["silencedBy"] = []
    assert AlertGroup.model_validate(payload).receiver == "firebreak"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.update(version="3"), "version"),
        (lambda p: p.pop("groupKey"), "groupKey"),
        (lambda p: p["alerts"][0].pop("startsAt"), "alerts.0.startsAt"),
        (lambda p: p["alerts"][0].update(status="pending"), "alerts.0.status"),
        (lambda p: p.update(alerts=[]), "alerts"),
    ],
)
def test_invalid_payload_names_the_bad_field(mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    """A wrong version, a missing field or a bad value is rejected naming that field."""
    payload = group(alert())
    mutate(payload)
    with pytest.raises(ValidationError) as info:
        AlertGroup.model_validate(payload)
    locations = {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}
    assert field in locations


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("critical", Severity.CRITICAL),
        ("page", Severity.CRITICAL),
        ("warning", Severity.WARNING),
        ("info", Severity.INFO),
        ("", Severity.WARNING),
        ("PAGE", Severity.CRITICAL),
    ],
)
def test_severity_label_maps_to_severity(label: str, expected: Severity) -> None:
    """critical / page / warning / info labels map onto three severities; unknown is warning."""
    assert severity_of({"severity": label}) is expected


def test_group_severity_is_the_worst_alert() -> None:
    """A group with one critical and one warning alert is critical."""
    payload = group(
        alert(fingerprint="a", severity="warning"), alert(fingerprint="b", severity="page")
    )
    assert AlertGroup.model_validate(payload).severity is Severity.CRITICAL


def test_identity_is_fingerprint_and_start() -> None:
    """The same fingerprint starting at another time is another alert."""
    first = AlertGroup.model_validate(group(alert())).alerts[0]
    later = AlertGroup.model_validate(group(alert(starts_at="2026-11-28T11:00:00Z"))).alerts[0]
    assert first.fingerprint_or_hash == later.fingerprint_or_hash
    assert first.identity != later.identity


def test_delivery_hash_is_stable_per_body() -> None:
    """Identical bodies hash alike; one changed byte does not."""
    raw = body(group(alert()))
    assert delivery_hash(raw) == delivery_hash(bytes(raw))
    assert delivery_hash(raw) != delivery_hash(raw.replace(b"firing", b"resolved", 1))
