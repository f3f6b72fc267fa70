"""Alerts as Alertmanager sends them (webhook v4), and the rules that read their labels."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.domain.text import FreeText, IdentityText, sanitised

ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"critical": 3, "warning": 2, "info": 1}[self.value]


_SEVERITY_ALIASES: dict[str, Severity] = {
    "critical": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "error": Severity.CRITICAL,
    "high": Severity.CRITICAL,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "ticket": Severity.WARNING,
    "medium": Severity.WARNING,
    "info": Severity.INFO,
    "none": Severity.INFO,
    "low": Severity.INFO,
}


def severity_of(labels: dict[str, str]) -> Severity:
    """Map an alert's `severity` label (critical / page / warning / info, ...) to a Severity."""
    return _SEVERITY_ALIASES.get(labels.get("severity", "").strip().lower(), Severity.WARNING)


MAX_NAME_CHARS = 255
"""An alertname longer than this is refused: the rule name is stored in a 255-character column."""
MAX_FINGERPRINT_CHARS = 128
"""Alertmanager's fingerprints are 16 hex digits; anything past 128 characters is not one."""
MAX_RECEIVER_CHARS = 255
MAX_TRUNCATED_ALERTS = 2**31 - 1

Labels = dict[FreeText, FreeText]


class Alert(BaseModel):
    """One alert of a webhook delivery; unknown fields from newer Alertmanagers are ignored.

    `startsAt` of 0001-01-01T00:00:00Z (Go's zero time) reads as unset (None), as does a
    zero `endsAt` (Alertmanager sends it for every firing alert).
    """

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    status: AlertStatus
    labels: Labels
    annotations: Labels = Field(default_factory=dict)
    starts_at: datetime | None = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: FreeText = Field(default="", alias="generatorURL")
    fingerprint: IdentityText = Field(default="", max_length=MAX_FINGERPRINT_CHARS)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        try:
            value = value.astimezone(UTC)
        except OverflowError as exc:
            raise ValueError("time is out of range once converted to UTC") from exc
        return None if value <= ZERO_TIME else value

    @field_validator("labels")
    @classmethod
    def _bounded_name(cls, labels: dict[str, str]) -> dict[str, str]:
        if len(labels.get("alertname", "")) > MAX_NAME_CHARS:
            raise ValueError(f"alertname is longer than {MAX_NAME_CHARS} characters")
        return labels

    @property
    def identity(self) -> str:
        """Alert identity: its fingerprint (or its labels' hash) plus when it started."""
        started = self.starts_at.isoformat() if self.starts_at else "unset"
        return f"{self.fingerprint_or_hash}@{started}"

    @property
    def fingerprint_or_hash(self) -> str:
        if self.fingerprint:
            return self.fingerprint
        canonical = ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "unnamed")


class AlertGroup(BaseModel):
    """An Alertmanager webhook v4 payload: one notification for one alert group.

    This model is the webhook's OpenAPI request body and its validator alike. The group's
    identity (receiver, groupKey) refuses characters it cannot store exactly; label and
    annotation text is sanitised (see bot.domain.text).
    """

    model_config = ConfigDict(
        extra="ignore", frozen=True, populate_by_name=True, title="AlertmanagerWebhook"
    )

    version: Literal["4"]
    group_key: IdentityText = Field(alias="groupKey", min_length=1)
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts", ge=0, le=MAX_TRUNCATED_ALERTS)
    status: AlertStatus
    receiver: IdentityText = Field(min_length=1, max_length=MAX_RECEIVER_CHARS)
    group_labels: Labels = Field(default_factory=dict, alias="groupLabels")
    common_labels: Labels = Field(default_factory=dict, alias="commonLabels")
    common_annotations: Labels = Field(default_factory=dict, alias="commonAnnotations")
    external_url: FreeText = Field(default="", alias="externalURL")
    alerts: list[Alert] = Field(min_length=1)

    @property
    def title(self) -> str:
        """A human title: the common summary, else the alert names and group labels."""
        summary = self.common_annotations.get("summary")
        if summary:
            return summary[:200]
        names = sorted({a.name for a in self.alerts})
        scope = ", ".join(
            f"{k}={v}" for k, v in sorted(self.group_labels.items()) if k != "alertname"
        )
        head = " + ".join(names[:3]) + (f" (+{len(names) - 3})" if len(names) > 3 else "")
        return f"{head} {scope}".strip()[:200]

    @property
    def severity(self) -> Severity:
        return max((severity_of(a.labels) for a in self.alerts), key=lambda s: s.rank)

    @property
    def first_start(self) -> datetime | None:
        """The earliest set `startsAt` of the group's alerts."""
        return min((a.starts_at for a in self.alerts if a.starts_at), default=None)


@dataclass(frozen=True)
class StoredAlert:
    """What the store holds for one alert identity."""

    identity: str
    incident_id: int
    status: AlertStatus
    ends_at: datetime | None


@dataclass(frozen=True)
class RejectedAlert:
    """An alert of a delivery that could not be stored, and why (field -> error)."""

    position: int
    fingerprint: str | None
    errors: tuple[tuple[str, str], ...]
    raw: Any


@dataclass(frozen=True)
class ParsedDelivery:
    """A delivery's valid alerts as one group, and the alerts refused one by one."""

    group: AlertGroup
    rejected: tuple[RejectedAlert, ...] = ()


def field_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """(dotted field path, message) for each error, the webhook's own field names."""
    return [(".".join(str(p) for p in e["loc"]) or "body", e["msg"]) for e in exc.errors()]


def parse_delivery(payload: Any) -> ParsedDelivery:
    """Validate a webhook body; an alert that is invalid on its own is set aside.

    Errors outside `alerts[i]` (the envelope, or every alert refused) raise the
    ValidationError: nothing of the delivery can be stored.
    """
    try:
        return ParsedDelivery(AlertGroup.model_validate(payload))
    except ValidationError as exc:
        bad = _bad_alert_positions(exc)
        if not bad or not isinstance(payload, dict):
            raise
        raw_alerts = payload["alerts"]
        kept = [a for i, a in enumerate(raw_alerts) if i not in bad]
        if not kept:
            raise
        group = AlertGroup.model_validate({**payload, "alerts": kept})
        errors = field_errors(exc)
        rejected = tuple(
            RejectedAlert(
                position=i,
                fingerprint=_raw_fingerprint(raw_alerts[i]),
                errors=tuple((f, m) for f, m in errors if f.startswith(f"alerts.{i}.")),
                raw=raw_alerts[i],
            )
            for i in sorted(bad)
        )
        return ParsedDelivery(group, rejected)


def _bad_alert_positions(exc: ValidationError) -> set[int]:
    """Positions of alerts that fail on their own; empty when any error is elsewhere."""
    positions: set[int] = set()
    for error in exc.errors():
        loc = error["loc"]
        if len(loc) < 3 or loc[0] != "alerts" or not isinstance(loc[1], int):
            return set()
        positions.add(loc[1])
    return positions


def _raw_fingerprint(raw: Any) -> str | None:
    value = raw.get("fingerprint") if isinstance(raw, dict) else None
    return sanitised(value[:MAX_FINGERPRINT_CHARS]) if isinstance(value, str) else None


def delivery_hash(body: bytes) -> str:
    """A delivery's identity: Alertmanager retries re-send byte-identical bodies."""
    return hashlib.sha256(body).hexdigest()
