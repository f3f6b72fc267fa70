"""Export an incident's postmortem (md, json, html), replacing any earlier export."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.ports import ChatClient, FileUploader, Store
from bot.postmortem.build import build_postmortem
from bot.postmortem.render import render
from bot.services.recall_incidents import SHOWN_IN_FULL, recall
from bot.services.summarise_incident import RunHistory, latest_summary, load_dossier
from bot.summary.offline import OfflineSummariser

FORMATS = ("md", "json", "html")


def render_postmortem(
    store: Store,
    incident_id: int,
    fmt: str,
    prometheus_url: str | None = None,
    runs: RunHistory | None = None,
) -> bytes:
    """The postmortem from the latest recorded summary (or an offline one when there is none),
    with the earlier incidents that looked like it and what became of them."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown postmortem format {fmt!r}; expected one of {', '.join(FORMATS)}")
    dossier = load_dossier(store, incident_id, runs)
    summary = latest_summary(dossier.timeline) or OfflineSummariser().summarise(dossier)
    now = datetime.now(UTC)
    with store.transaction() as tx:
        similar = [match.to_dict(now) for match in recall(tx, incident_id, SHOWN_IN_FULL)]
    postmortem = build_postmortem(
        dossier, summary, prometheus_url=prometheus_url or None, similar=similar
    )
    return render(postmortem, fmt)


def write_postmortem(
    store: Store,
    incident_id: int,
    folder: Path,
    formats: tuple[str, ...] = FORMATS,
    prometheus_url: str | None = None,
    runs: RunHistory | None = None,
) -> list[Path]:
    """Write INC-n.<fmt> files into `folder`; a re-export overwrites, never adds a copy."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = folder / f"INC-{incident_id}.{fmt}"
        partial = path.with_suffix(f".{fmt}.partial")
        partial.write_bytes(render_postmortem(store, incident_id, fmt, prometheus_url, runs))
        partial.replace(path)
        written.append(path)
    return written


SHARED_STEP = "postmortem:files"


def share_postmortem(store: Store, chat: ChatClient, incident_id: int, paths: list[Path]) -> int:
    """Attach the exported files to the incident's thread; answer how many were attached.

    A chat that takes files gets them uploaded and the previous export's files deleted, so a
    re-export replaces rather than duplicates; any other chat gets a thread line naming them.
    """
    with store.transaction() as tx:
        ref = tx.chat_states.get(incident_id).ref
        tx.ledger.claim(incident_id, SHARED_STEP)
        previous = (tx.ledger.result(incident_id, SHARED_STEP) or {}).get("file_ids", [])
    if ref is None:
        return 0
    if not isinstance(chat, FileUploader):
        chat.post_thread(ref, "Postmortem exported: " + ", ".join(str(p) for p in paths))
        return 0
    file_ids = [chat.upload_file(ref, path, f"Postmortem {path.name}") for path in paths]
    with store.transaction() as tx:
        tx.ledger.complete(incident_id, SHARED_STEP, {"file_ids": file_ids})
    for file_id in previous:
        chat.delete_file(file_id)
    return len(file_ids)
