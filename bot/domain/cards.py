"""What a chat message shows about an incident, before any chat vendor's formatting."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.incidents import Incident


@dataclass(frozen=True)
class IncidentCard:
    """The state of one incident as the root chat message shows it."""

    incident: Incident
    alert_count: int
    firing_count: int
    scope: dict[str, str] = field(default_factory=dict)
    hypothesis: str | None = None
    runbook_state: str | None = None
    awaiting_run_id: int | None = None
    summary: str | None = None
    chart_paths: tuple[str, ...] = ()
    storm: str | None = None  # "57 incidents on model_name=x, led by INC-1"
    similar: tuple[str, ...] = ()  # earlier incidents like it, with what became of them
    silence: str | None = None  # "Silenced until 14:05 UTC by @alice"


@dataclass(frozen=True)
class MessageRef:
    """Where a chat message lives, so it can be edited or threaded later."""

    channel: str
    ts: str


@dataclass(frozen=True)
class ChatState:
    """What has been posted for an incident: its root message, thread mark and last card."""

    ref: MessageRef | None = None
    thread_mark: int = 0
    card_digest: str | None = None
