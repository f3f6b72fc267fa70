"""A storm from the real processes: hundreds of Alertmanager groups on one model arrive at once;
each is stored and triaged, and chat shows a storm (a few root messages, one thread line per
quiet member under the lead, the lead's message counting them all) within a bounded time."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.domain.storms import LOUD_MEMBERS
from bot.domain.timeline import EventKind
from tests.chaos.conftest import CHANNEL, Chaos
from tests.payloads import alert, group

GROUPS = 300
MODEL = "storm-llm"  # no runbook target: planning finds nothing to act on
SETTLE_S = 180
_LINE = re.compile(r"^INC-(\d+) \[")
_SHOWN = re.compile(rf"(\d+) incidents on model_name={MODEL}")


def _storm_group(i: int) -> dict[str, Any]:
    """Group `i` of the storm: its own groupKey and fingerprint, the storm's model and service."""
    name = f"storm-{i:03d}"
    payload = group(
        alert(fingerprint=name, model_name=MODEL, service="llm-serving", pod=name),
        group_key=f'{{}}:{{alertname="LLMKVCacheSaturated", pod="{name}"}}',
    )
    for labels in (payload["groupLabels"], payload["commonLabels"]):
        labels["model_name"] = MODEL
    return payload


def _thread_lines(chaos: Chaos) -> dict[int, list[str]]:
    """Each incident's storm lines in chat, as the thread they were posted in."""
    lines: dict[int, list[str]] = {}
    for call in chaos.slack.calls_to("chat.postMessage"):
        found = _LINE.match(call.body.get("text") or "")
        if call.body.get("thread_ts") and found:
            lines.setdefault(int(found.group(1)), []).append(call.body["thread_ts"])
    return lines


def _lead_text(chaos: Chaos, lead_ts: str) -> str:
    message = chaos.slack.message(CHANNEL, lead_ts)
    return " ".join(str(b.get("text", {}).get("text", "")) for b in message.get("blocks", []))


def _storm_progress(chaos: Chaos) -> dict[str, int]:
    """How far the storm got: incidents stored, triaged, in chat (a root message or a storm
    line), and the storm size the lead's message shows."""
    posts = chaos.root_posts()
    lines = _thread_lines(chaos)
    shown = 0
    with chaos.store.transaction() as tx:
        incidents = [i.id for i in tx.incidents.list(limit=2 * GROUPS) if i.id is not None]
        triaged = sum(tx.triages.get(i) is not None for i in incidents)
        saved = sum(tx.chat_states.get(i).ref is not None for i in posts)
        refs = [tx.chat_states.get(i).ref for i in posts]
    for ref in refs:
        if ref is not None:
            found = _SHOWN.search(_lead_text(chaos, ref.ts))
            shown = max(shown, int(found.group(1)) if found else 0)
    return {
        "stored": len(incidents),
        "triaged": triaged,
        "in_chat": sum(i in posts or i in lines for i in incidents),
        "root_saved": saved,
        "lead_shows": shown,
    }


def _settled(progress: dict[str, int]) -> bool:
    return all(progress[k] == GROUPS for k in ("stored", "triaged", "in_chat", "lead_shows"))


def test_storm_of_300_groups_on_one_model(chaos: Chaos) -> None:
    """300 groups on one model and service, sent eight at a time: all stored once and triaged
    (none more than twice), at most LOUD_MEMBERS root posts, every other incident one line in
    the lead's thread, and the lead's message counting 300, all within SETTLE_S."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(
            pool.map(lambda i: chaos.post_group(_storm_group(i), timeout_s=30), range(GROUPS))
        )
    assert codes == [200] * GROUPS

    progress = _storm_progress(chaos)
    while time.monotonic() - started < SETTLE_S and not _settled(progress):
        time.sleep(2)
        progress = _storm_progress(chaos)
    assert _settled(progress), f"not settled within {SETTLE_S}s: {progress}"

    posts = chaos.root_posts()
    lines = _thread_lines(chaos)
    assert 1 <= len(posts) <= LOUD_MEMBERS
    assert set(posts.values()) == {1}
    with chaos.store.transaction() as tx:
        incidents = tx.incidents.list(limit=2 * GROUPS)
        assert len(incidents) == GROUPS
        refs = {i: tx.chat_states.get(i).ref for i in posts}
        threads = {ts for thread_ts in lines.values() for ts in thread_ts}
        for incident in incidents:
            assert incident.id is not None
            assert len(tx.alerts.for_incident(incident.id)) == 1
            triaged = [
                e for e in tx.timeline.for_incident(incident.id) if e.kind == EventKind.TRIAGED
            ]
            assert 1 <= len(triaged) <= 2, f"INC-{incident.id} triaged {len(triaged)} times"
            in_chat = posts.get(incident.id, 0) + len(lines.get(incident.id, []))
            assert in_chat == 1, f"INC-{incident.id}: {posts}, {lines.get(incident.id)}"
    [thread] = threads  # every storm line sits in one thread: the lead's
    assert thread in {ref.ts for ref in refs.values() if ref is not None}
    assert len(lines) == GROUPS - len(posts)
    for ref in refs.values():
        assert ref is not None
        assert chaos.slack.message(ref.channel, ref.ts)
