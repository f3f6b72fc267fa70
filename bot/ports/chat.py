"""Chat and summaries: the incident message and its thread, files, user groups, and the
model that summarises a dossier (it never decides an action)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from bot.domain.cards import IncidentCard, MessageRef
from bot.summary.dossier import IncidentDossier
from bot.summary.summary import Summary


class ChatClient(Protocol):
    """One root message per incident, edited in place; details in its thread."""

    def post_incident(self, card: IncidentCard) -> MessageRef: ...
    def update_incident(self, ref: MessageRef, card: IncidentCard) -> None: ...
    def post_thread(
        self, ref: MessageRef, text: str, *, incident_id: int | None = None
    ) -> MessageRef:
        """Reply in `ref`'s thread; with `incident_id`, the reply is marked as that incident's
        (so `find_thread_reply` finds it again)."""
        ...

    def find_incident(self, incident_id: int) -> MessageRef | None:
        """The root message already posted for this incident, if the chat can tell."""
        ...

    def find_thread_reply(self, ref: MessageRef, incident_id: int) -> MessageRef | None:
        """The reply in `ref`'s thread marked as this incident's, if the chat can tell."""
        ...


@runtime_checkable
class FileUploader(Protocol):
    """Attaches a file (a chart, a postmortem) to a message's thread; answers the file's id."""

    def upload_file(self, ref: MessageRef, path: Path, title: str) -> str: ...
    def delete_file(self, file_id: str) -> None: ...


class RequestSignatures(Protocol):
    """Whether a request body was signed by the chat (Slack's signing secret, 5-minute window)."""

    def is_valid(self, body: bytes, timestamp: str | None, signature: str | None) -> bool: ...


class UserGroups(Protocol):
    """Chat user groups (Slack's `S…` ids, usergroups.users.list). UpstreamUnavailableError
    when the chat cannot say who belongs to one."""

    def members_of(self, group_id: str) -> frozenset[str]: ...
    def groups_of(self, user: str, principals: Sequence[str]) -> frozenset[str]:
        """The user groups among `principals` that `user` belongs to (user ids are skipped)."""
        ...


class Summariser(Protocol):
    """Summarises one incident dossier; always answers (offline when the model cannot)."""

    def summarise(self, dossier: IncidentDossier) -> Summary: ...
