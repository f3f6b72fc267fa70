"""Changes to models and the deploy gate: what changed, and whether a change may proceed now.

A `Change` is a deploy, a config change or a rollback of one model (or, naming no model, of
one service), announced by a pipeline, a person or Firebreak itself. A model's gate is closed
while an incident on it is open, while a page-severity burn-rate alert for it fires, or while
a freeze covers it (its own, or one of every model). An approver's `DeployException` lets the
next change to the model through once, within its time box. Rollbacks always pass: rolling
back is how a model leaves an incident, and Firebreak's own runbooks roll back during one.

A burn-rate alert is one carrying an `slo` label (the shipped TTFT rules do) or named for an
error-budget burn or burn rate; it pages when its `severity` reads as critical (`critical`,
`page`, ...). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.domain.alerts import Severity, severity_of
from bot.domain.durations import parse_duration_s
from bot.domain.incidents import Incident

ALL_MODELS = "*"  # the scope of a freeze of every model (`/firebreak freeze all ...`)
FIREBREAK_SOURCE = "firebreak"
EXCEPTION_TTL = timedelta(hours=1)  # how long an allow-deploy exception stays usable
MIN_FREEZE, MAX_FREEZE = timedelta(minutes=1), timedelta(days=30)
RECENT_INCIDENT = timedelta(hours=1)  # a change lands on incidents resolved this recently
MAX_NAME_CHARS = 255


class ChangeKind(StrEnum):
    DEPLOY = "deploy"
    CONFIG = "config"
    ROLLBACK = "rollback"


def _clock(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True)
class Change:
    """One change to a model or service; `held` when it was announced while its gate was
    closed, with the gate's `reasons` at that moment and the exception that let it through."""

    model: str
    version: str
    kind: ChangeKind
    at: datetime
    source: str = ""
    service: str = ""
    actor: str = "api"
    description: str = ""
    held: bool = False
    reasons: tuple[str, ...] = ()
    exception_id: int | None = None
    id: int | None = None

    @property
    def ref(self) -> str:
        return f"CHG-{self.id}"

    @property
    def scope(self) -> str:
        """What the change touches, as incidents relate (`model_name=…`, else `service=…`)."""
        return f"model_name={self.model}" if self.model else f"service={self.service}"

    @property
    def gated(self) -> bool:
        """Whether the gate decides this change: a model's deploy or config change."""
        return bool(self.model) and self.kind is not ChangeKind.ROLLBACK

    def describe(self) -> str:
        """`deploy of reranker-v2 2.4.1`."""
        return f"{self.kind.value} of {self.model or self.service} {self.version}"

    def timeline_line(self) -> str:
        """The sentence a change puts on an incident's timeline."""
        by = f" by {self.actor}" if self.actor else ""
        source = f" ({self.source})" if self.source and self.source != self.actor else ""
        text = f"{self.ref}: {self.describe()}{by}{source}"
        if self.held:
            return f"{text} held: {'; '.join(self.reasons)}"
        if self.exception_id is not None:
            return f"{text}, let through by a deploy exception"
        return text

    def held_line(self, incident: Incident) -> str:
        """The one line a held change puts in the thread of the incident that holds it."""
        return f"{self.describe()} held: {incident.ref} open"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ref": self.ref,
            "model": self.model,
            "service": self.service,
            "version": self.version,
            "kind": self.kind.value,
            "at": self.at.isoformat(),
            "source": self.source,
            "actor": self.actor,
            "description": self.description,
            "held": self.held,
            "reasons": list(self.reasons),
            "exception_id": self.exception_id,
        }


@dataclass(frozen=True)
class Freeze:
    """No change to `scope` (a model, or ALL_MODELS) may proceed until `until`."""

    scope: str
    until: datetime
    frozen_by: str
    frozen_at: datetime
    reason: str = ""

    def covers(self, model: str, now: datetime) -> bool:
        return self.scope in (model, ALL_MODELS) and self.until > now

    def describe(self) -> str:
        what = "every model" if self.scope == ALL_MODELS else self.scope
        why = f": {self.reason}" if self.reason else ""
        return f"{what} frozen until {_clock(self.until)} by {self.frozen_by}{why}"


@dataclass(frozen=True)
class DeployException:
    """An approver's leave for the next change to `model`, once, until `expires_at`."""

    model: str
    granted_by: str
    granted_at: datetime
    expires_at: datetime
    reason: str = ""
    used_at: datetime | None = None
    id: int | None = None

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and self.expires_at > now

    def describe(self) -> str:
        why = f": {self.reason}" if self.reason else ""
        return (
            f"exception for the next change to {self.model} by {self.granted_by}, "
            f"until {_clock(self.expires_at)}{why}"
        )


@dataclass(frozen=True)
class FiringAlert:
    """A firing alert as the gate reads it."""

    name: str
    labels: Mapping[str, str]
    incident_id: int


def is_page_burn(labels: Mapping[str, str]) -> bool:
    """A burn-rate alert (an `slo` label, or named for an error-budget burn) that pages."""
    name = labels.get("alertname", "")
    burn = "slo" in labels or "ErrorBudgetBurn" in name or "BurnRate" in name
    return burn and severity_of(dict(labels)) is Severity.CRITICAL


@dataclass(frozen=True)
class Blocker:
    """One thing closing a model's gate, said so a person can act on it."""

    kind: str  # incident | alert | freeze
    reason: str
    incident_id: int | None = None


@dataclass(frozen=True)
class GateAnswer:
    """The gate's answer as the API gives it; `change` is the recorded change's ref, if any."""

    model: str
    allowed: bool
    reasons: tuple[str, ...]
    change: str = ""


@dataclass(frozen=True)
class GateDecision:
    """Whether a change to `model` may proceed: no blocker, or a usable exception."""

    model: str
    blockers: tuple[Blocker, ...] = ()
    exception: DeployException | None = None

    @property
    def allowed(self) -> bool:
        return not self.blockers or self.exception is not None

    @property
    def reasons(self) -> tuple[str, ...]:
        """What closes the gate, then the exception that opens it anyway."""
        reasons = tuple(b.reason for b in self.blockers)
        if self.blockers and self.exception is not None:
            reasons += (self.exception.describe(),)
        return reasons

    @property
    def incident_ids(self) -> tuple[int, ...]:
        """The open incidents holding the gate, in the order named."""
        return tuple(b.incident_id for b in self.blockers if b.kind == "incident" and b.incident_id)

    def answer(self, change: str = "") -> GateAnswer:
        return GateAnswer(self.model, self.allowed, self.reasons, change)


def decide(
    model: str,
    incidents: Sequence[Incident],
    firing: Sequence[FiringAlert],
    freezes: Sequence[Freeze],
    exception: DeployException | None,
    now: datetime,
) -> GateDecision:
    """The gate of `model`: open incidents, then paging burn-rate alerts (those not already of a
    named incident), then freezes; an unused, unexpired exception opens it anyway."""
    blockers: list[Blocker] = []
    named: set[int] = set()
    for incident in sorted(incidents, key=lambda i: i.id):
        if not incident.is_open:
            continue
        named.add(incident.id)
        reason = f"{incident.ref} open on {model} ({incident.status.value}): {incident.title}"
        blockers.append(Blocker("incident", reason, incident.id))
    for alert in firing:
        if not is_page_burn(alert.labels) or alert.incident_id in named:
            continue
        slo = f", SLO {alert.labels['slo']}" if alert.labels.get("slo") else ""
        reason = (
            f"{alert.name} firing for {model} (severity {alert.labels.get('severity', '')}{slo}"
            f", INC-{alert.incident_id})"
        )
        blockers.append(Blocker("alert", reason, None))
        named.add(alert.incident_id)
    for freeze in sorted(freezes, key=lambda f: f.scope):
        if freeze.covers(model, now):
            blockers.append(Blocker("freeze", freeze.describe()))
    usable = exception if exception is not None and exception.usable(now) else None
    return GateDecision(model, tuple(blockers), usable)


def freeze_scope(word: str) -> str:
    """The scope a Slack or CLI word names: `all` is every model, anything else one model."""
    return ALL_MODELS if word.lower() == "all" else word


def freeze_span(text: str) -> timedelta:
    """A freeze's length from `30m`, `2h`, `1h30m` or `1d`; ValueError outside 1 min to 30 days."""
    try:
        span = timedelta(seconds=parse_duration_s(text.strip().lower()))
    except ValueError:
        raise ValueError(f"{text!r} is not a duration (try 30m, 2h or 1d)") from None
    if not MIN_FREEZE <= span <= MAX_FREEZE:
        raise ValueError(f"a freeze lasts between 1m and 30d, not {text!r}")
    return span
