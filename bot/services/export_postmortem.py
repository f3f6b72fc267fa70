"""Export an incident's postmortem (md, json, html), replacing any earlier export."""

from __future__ import annotations

from pathlib import Path

from bot.ports import Store
from bot.postmortem.build import build_postmortem
from bot.postmortem.render import render
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
    """The postmortem from the latest recorded summary (or an offline one when there is none)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown postmortem format {fmt!r}; expected one of {', '.join(FORMATS)}")
    dossier = load_dossier(store, incident_id, runs)
    summary = latest_summary(dossier.timeline) or OfflineSummariser().summarise(dossier)
    postmortem = build_postmortem(dossier, summary, prometheus_url=prometheus_url or None)
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
