"""Storms: incidents on one scope within a time window, related through one bounded record.

Incidents relate by what shares a fate, never by a fleet-wide label: the model (`model_name`)
when the alert names one, else the GPU node pool, else the node. `service` (often one value
for the whole fleet, `service="llm-serving"`), `namespace`, `cluster` and the like are never a
scope: relating on them would relate everything to everything. A pool is a node-pool label as
alert rules copy it from `kube_node_labels` (Karpenter, GKE, EKS and AKS names) or a plain
`pool` / `nodepool` label; a node is dcgm-exporter's `Hostname` or Kubernetes' `node`. An
incident with none of these relates to nothing.

Every incident on a scope that arrives within `window` of the storm's span joins the same storm;
the storm is led by its first incident and keeps a capped list of members and alert names, so a
storm of any size costs each incident a constant amount of work, notes and tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.domain.alerts import Severity

MODEL_LABELS = ("model_name",)
POOL_LABELS = (
    "pool",
    "nodepool",
    "label_karpenter_sh_nodepool",
    "label_cloud_google_com_gke_nodepool",
    "label_eks_amazonaws_com_nodegroup",
    "label_kubernetes_azure_com_agentpool",
    "label_agentpool",
)
NODE_LABELS = ("Hostname", "node")
SCOPE_LABELS = (*MODEL_LABELS, *POOL_LABELS, *NODE_LABELS)  # in the order they are tried
MAX_SHOWN_MEMBERS = 10
MAX_ALERT_NAMES = 50
LEAD_NOTE_AT = (2, 10, 100, 1000)  # storm sizes the lead's timeline is told about
DEFAULT_WINDOW = timedelta(hours=1)
LOUD_MEMBERS = 3  # the first members of a storm (lead included) post their own chat message


def storm_scope(labels: dict[str, str]) -> str | None:
    """The scope an incident relates on, as `label=value`: its model, else its pool, else its
    node; None when it has none of them (a fleet-wide label alone relates nothing)."""
    for label in SCOPE_LABELS:
        value = labels.get(label)
        if value:
            return f"{label}={value}"
    return None


@dataclass(frozen=True)
class StormMember:
    id: int
    title: str

    @property
    def ref(self) -> str:
        return f"INC-{self.id}"


@dataclass(frozen=True)
class Storm:
    """A storm's bounded record: size and span exact, members and alert names capped."""

    lead_id: int
    scope: str
    opened_at: datetime
    last_at: datetime
    size: int
    members: tuple[StormMember, ...]
    alert_names: tuple[str, ...]

    @classmethod
    def open(cls, scope: str, member: StormMember, alert_names: set[str], at: datetime) -> Storm:
        """A storm of one, led by `member`."""
        return cls(member.id, scope, at, at, 1, (member,), _capped(set(), alert_names))

    def accepts(self, at: datetime, window: timedelta) -> bool:
        """Whether an incident triggered at `at` falls within `window` of the storm's span."""
        return self.opened_at - window <= at <= self.last_at + window

    def predates(self, at: datetime, window: timedelta) -> bool:
        """Whether `at` lies before this storm's span (and window): too old to join or lead."""
        return at < self.opened_at - window

    def joined(self, member: StormMember, alert_names: set[str], at: datetime) -> Storm:
        """The storm with one more member; the shown list and alert names stay capped."""
        shown = (*self.members, member) if len(self.members) < MAX_SHOWN_MEMBERS else self.members
        return replace(
            self,
            opened_at=min(self.opened_at, at),
            last_at=max(self.last_at, at),
            size=self.size + 1,
            members=shown,
            alert_names=_capped(set(self.alert_names), alert_names),
        )

    def others(self, incident_id: int, limit: int = MAX_SHOWN_MEMBERS) -> list[StormMember]:
        """Shown members other than `incident_id`, at most `limit`."""
        return [m for m in self.members if m.id != incident_id][:limit]

    def describe(self, incident_id: int, limit: int = 5) -> str:
        """`INC-1 (title), INC-2 (title) and 47 more`: the storm's other incidents, bounded."""
        shown = self.others(incident_id, limit)
        text = ", ".join(f"{m.ref} ({m.title})" for m in shown)
        hidden = self.size - 1 - len(shown)
        return f"{text} and {hidden} more" if hidden > 0 else text

    def to_dict(self) -> dict[str, Any]:
        return {
            "lead": self.lead_id,
            "scope": self.scope,
            "opened_at": self.opened_at.isoformat(),
            "last_at": self.last_at.isoformat(),
            "size": self.size,
            "members": [{"id": m.id, "title": m.title} for m in self.members],
            "alert_names": list(self.alert_names),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Storm:
        return cls(
            lead_id=int(data["lead"]),
            scope=str(data["scope"]),
            opened_at=datetime.fromisoformat(data["opened_at"]),
            last_at=datetime.fromisoformat(data["last_at"]),
            size=int(data["size"]),
            members=tuple(StormMember(int(m["id"]), str(m["title"])) for m in data["members"]),
            alert_names=tuple(str(n) for n in data["alert_names"]),
        )


def is_quiet(position: int | None) -> bool:
    """Whether a storm member joining at `position` (the lead is 1) stays out of the channel:
    past the first LOUD_MEMBERS it is one line in the lead's thread, not a message of its own."""
    return position is not None and position > LOUD_MEMBERS


def escalation(
    member_severity: Severity,
    lead_severity: Severity,
    acknowledged: bool,
    awaiting_approval: bool,
) -> str | None:
    """Why a quiet storm member needs its own chat message after all, or None: it is more
    severe than its lead, someone acknowledged it on its own, or a runbook run awaits approval."""
    if member_severity.rank > lead_severity.rank:
        return f"{member_severity.value} while the storm's lead is {lead_severity.value}"
    if acknowledged:
        return "acknowledged on its own"
    if awaiting_approval:
        return "a runbook run awaits approval"
    return None


def _capped(known: set[str], new: set[str]) -> tuple[str, ...]:
    """Known names first, then new ones in order, at most MAX_ALERT_NAMES."""
    names = sorted(known)
    for name in sorted(new - known):
        if len(names) >= MAX_ALERT_NAMES:
            break
        names.append(name)
    return tuple(sorted(names))
