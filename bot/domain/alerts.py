"""Alerts as Alertmanager sends them (webhook v4), and the rules that read their labels."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


class Alert(BaseModel):
    """One alert of a webhook delivery; unknown fields from newer Alertmanagers are kept aside."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = ""

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return None if value <= ZERO_TIME else value.astimezone(UTC)

    @property
    def identity(self) -> str:
        """Alert identity: its fingerprint (or its labels' hash) plus when it started."""
        return f"{self.fingerprint_or_hash}@{self.starts_at.isoformat()}"

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
    """An Alertmanager webhook v4 payload: one notification for one alert group."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    version: Literal["4"]
    group_key: str = Field(alias="groupKey", min_length=1)
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts", ge=0)
    status: AlertStatus
    receiver: str = Field(min_length=1)
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
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


def delivery_hash(body: bytes) -> str:
    """A delivery's identity: Alertmanager retries re-send byte-identical bodies."""
    return hashlib.sha256(body).hexdigest()
