"""ConsoleChatClient: the ChatClient used without a Slack token — stdout and a log file.

Everything written is redacted first, as the Slack client redacts what it sends. Each write
is counted as the Slack call it stands in for (`chat="console"`), so the chat stage shows on
`/metrics` without Slack too.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from bot.domain.cards import IncidentCard, MessageRef
from bot.domain.redaction import redact
from bot.domain.telemetry import CHAT_CALLS, UNRECORDED
from bot.ports import Telemetry


def render_card(card: IncidentCard) -> str:
    """The root message as plain text."""
    incident = card.incident
    scope = " ".join(f"{k}={v}" for k, v in sorted(card.scope.items()))
    lines = [
        f"[{incident.severity.value.upper()}] {incident.ref} {incident.title}",
        f"status={incident.status.value} firing={card.firing_count}/{card.alert_count} {scope}",
    ]
    if card.storm:
        lines.append(f"storm: {card.storm}")
    if card.hypothesis:
        lines.append(f"likely cause: {card.hypothesis}")
    if card.runbook_state:
        lines.append(f"runbook: {card.runbook_state}")
    if card.summary:
        lines.append(f"summary: {card.summary}")
    return "\n".join(line.rstrip() for line in lines)


class ConsoleChatClient:
    """Writes every post, edit and thread reply as a line block to stdout and `log_path`."""

    def __init__(
        self,
        log_path: Path,
        channel: str = "#incidents",
        stream: TextIO | None = None,
        *,
        telemetry: Telemetry = UNRECORDED,
    ) -> None:
        self._log_path = log_path
        self._telemetry = telemetry
        self._channel = channel
        self._stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        log_path.parent.mkdir(parents=True, exist_ok=True)

    def _ts(self) -> str:
        return f"{time.time():.6f}{next(self._seq) % 10}"

    def _write(self, verb: str, ref: MessageRef, text: str, method: str) -> None:
        block = f"--- {verb} {ref.channel} ts={ref.ts}\n{redact(text)}\n"
        with self._lock:
            with self._log_path.open("a", encoding="utf-8") as log:
                log.write(block)
            self._stream.write(block)
            self._stream.flush()
        labels = {"chat": "console", "method": method, "result": "ok"}
        self._telemetry.count(CHAT_CALLS, labels)

    def post_incident(self, card: IncidentCard) -> MessageRef:
        ref = MessageRef(self._channel, self._ts())
        self._write("post", ref, render_card(card), "chat.postMessage")
        return ref

    def update_incident(self, ref: MessageRef, card: IncidentCard) -> None:
        self._write("update", ref, render_card(card), "chat.update")

    def post_thread(
        self, ref: MessageRef, text: str, *, incident_id: int | None = None
    ) -> MessageRef:
        reply = MessageRef(ref.channel, self._ts())
        self._write(f"thread {ref.ts}", reply, text, "chat.postMessage")
        return reply

    def find_incident(self, incident_id: int) -> MessageRef | None:
        """None: a console post never fails half-way, so there is nothing to find."""
        return None

    def find_thread_reply(self, ref: MessageRef, incident_id: int) -> MessageRef | None:
        """None, as for `find_incident`."""
        return None
