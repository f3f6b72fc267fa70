"""Put triage's charts in the incident's chat thread, each chart once.

Triage draws a PNG per moved signal (bot/correlation/charts.py) and lists the files in its
report; once the incident has its root message, a chat that takes files (bot/ports/chat.py
`FileUploader`, Slack's upload v2 flow) gets each one uploaded into the thread, titled by its
signal. Each upload is claimed in the ledger (`chat:chart:<file name>`) before it is made, so a
retried or concurrent task never uploads a chart twice; a rate limit releases the claim for
the retry. A chart file this process cannot read (another machine drew it) is recorded as
missing and named in the thread instead; a chat without files gets one line naming them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path, PurePath

import structlog

from bot.domain.cards import MessageRef
from bot.domain.errors import RateLimitedError
from bot.ports import ChatClient, FileUploader, Store

log = structlog.get_logger(__name__)

CHART_STEP_PREFIX = "chat:chart:"


def chart_title(path: str) -> str:
    """`vllm:num_requests_waiting` for `.../vllm_num_requests_waiting.png`: the signal drawn."""
    return PurePath(path).stem.replace("_", " ")


def share_charts(
    store: Store,
    chat: ChatClient,
    incident_id: int,
    ref: MessageRef,
    chart_paths: Sequence[str],
    pace: Callable[[], None] = lambda: None,
) -> int:
    """Upload each chart not yet shared into the thread at `ref`; answer how many went up.

    `pace` is called before each upload and raises RateLimitedError when the channel must wait.
    """
    shared = 0
    for path in chart_paths:
        step = f"{CHART_STEP_PREFIX}{PurePath(path).name}"
        with store.transaction() as tx:
            if not tx.ledger.claim(incident_id, step):
                continue
        try:
            pace()
            result = _share(chat, ref, Path(path))
        except RateLimitedError:
            with store.transaction() as tx:
                tx.ledger.release(incident_id, step)
            raise
        with store.transaction() as tx:
            tx.ledger.complete(incident_id, step, result)
        shared += "file_id" in result
    return shared


def _share(chat: ChatClient, ref: MessageRef, file: Path) -> dict[str, str]:
    title = chart_title(str(file))
    if not isinstance(chat, FileUploader):
        chat.post_thread(ref, f"Triage chart ({title}): {file}")
        return {"posted": str(file)}
    if not file.is_file():
        log.warning("chart_missing", path=str(file))
        chat.post_thread(
            ref, f"Triage chart unavailable ({title}): {file.name} is not readable here"
        )
        return {"missing": str(file)}
    file_id = chat.upload_file(ref, file, f"Triage chart: {title}")
    log.info("chart_shared", path=str(file), file_id=file_id)
    return {"file_id": file_id}
