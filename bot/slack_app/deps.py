"""What the Slack app needs from the rest of Firebreak, built by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.ports import Clock, OnceGuard, RunbookPreview, SilenceManager, Store, TaskQueue
from bot.slack_app.authorisation import SlackAuthoriser
from bot.slack_app.views import same


@dataclass(frozen=True)
class SlackDeps:
    """Ports the listeners use: they read the store, record intents and hand work to tasks.

    `claims` makes retried deliveries and double clicks act once; `runbooks` answers the
    catalogue and dry-run plans (None when no runbook engine is wired: `run` says so);
    `redact` cleans every string shown back in Slack; `silences` makes and expires
    Alertmanager silences (None when not wired: `silence` says so); `api_url`, when known,
    links a silence's comment to the incident in the API.
    """

    store: Store
    tasks: TaskQueue
    authoriser: SlackAuthoriser
    clock: Clock
    claims: OnceGuard
    runbooks: RunbookPreview | None = None
    redact: Callable[[str], str] = same
    silences: SilenceManager | None = None
    api_url: str = ""
