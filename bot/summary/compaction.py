"""Compaction: fit an incident dossier into a per-incident prompt token budget.

The dossier becomes one JSON-ready payload. Events that carry the story are kept — the first
and last, state transitions, openings and reopenings, triage, runbook and change events, notes —
and runs of repetitive events (alert_firing, alert_resolved, notified, ...) collapse into one
marker such as `… 412 alert_firing events elided`. When the payload is still over budget, the
compactor tightens level by level (shorter messages, fewer findings, thinned transitions) down
to a floor that is small by construction, so the budget holds at any number of events.

Tokens are estimated without a tokenizer download: the larger of chars/4 and the count of
word and punctuation pieces, which over-estimates JSON slightly (the safe side).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.redaction import redact_obj
from bot.domain.timeline import EventKind, TimelineEvent
from bot.summary.dossier import IncidentDossier, alert_name, alert_started, step_duration_s
from bot.summary.durations import as_utc, human_duration, parse_time

MIN_PROMPT_TOKENS = 2_000
_PIECES = re.compile(r"\w+|[^\w\s]")

_STORY_KINDS = frozenset(
    {
        EventKind.INCIDENT_OPENED,
        EventKind.INCIDENT_REOPENED,
        EventKind.STATUS_CHANGED,
        EventKind.TRIAGED,
        EventKind.RUNBOOK,
        EventKind.CHANGE,
    }
)
_CONTEXT_KINDS = frozenset({EventKind.NOTE, EventKind.ALERTS_TRUNCATED, EventKind.RECONCILED})


def estimate_tokens(text: str) -> int:
    """Approximate model tokens in `text` (no tokenizer needed; errs high for JSON)."""
    return max(math.ceil(len(text) / 4), len(_PIECES.findall(text)))


@dataclass(frozen=True)
class TokenBudget:
    """Per-summary prompt and completion budget (what a call cost is bot/summary/pricing.py's)."""

    max_prompt_tokens: int = 6_000
    max_completion_tokens: int = 900

    def __post_init__(self) -> None:
        if self.max_prompt_tokens < MIN_PROMPT_TOKENS:
            raise ValueError(f"max_prompt_tokens must be at least {MIN_PROMPT_TOKENS}")


@dataclass(frozen=True)
class CompactedDossier:
    """The payload a model reads, its serialised text, and what fitting it took."""

    payload: dict[str, Any]
    text: str
    tokens: int
    budget_tokens: int
    events_total: int
    events_kept: int
    events_elided: int
    level: int

    @property
    def within_budget(self) -> bool:
        return self.tokens <= self.budget_tokens


@dataclass(frozen=True)
class _Level:
    message_chars: int
    keep_context: bool
    keep_first_of_kind: bool
    max_story_events: int
    findings: int
    hypotheses: int
    alert_groups: int
    runbook_runs: int
    runbook_steps: int
    labels: int


_LEVELS: tuple[_Level, ...] = (
    _Level(300, True, True, 10_000_000, 8, 5, 20, 10, 20, 40),
    _Level(160, True, True, 400, 5, 3, 10, 6, 10, 25),
    _Level(120, False, False, 120, 3, 3, 5, 4, 6, 15),
    _Level(80, False, False, 40, 2, 2, 3, 3, 4, 10),
    _Level(60, False, False, 12, 1, 1, 2, 2, 2, 6),
    _Level(40, False, False, 2, 1, 1, 1, 1, 1, 4),
)


def compact(dossier: IncidentDossier, budget_tokens: int) -> CompactedDossier:
    """The richest payload of `dossier` whose estimated tokens fit `budget_tokens`.

    Every string of the payload is redacted here, so only the events kept pay for it. A level
    whose kept timeline alone is plainly over budget is skipped before it is built. The last
    level is returned even if over budget (only possible with a budget below what
    MIN_PROMPT_TOKENS guarantees).
    """
    events = sorted(dossier.timeline, key=lambda e: (as_utc(e.at), e.id or 0))
    result: CompactedDossier | None = None
    last = len(_LEVELS) - 1
    for index, level in enumerate(_LEVELS):
        timeline, kept, elided = _timeline(events, level)
        floor_tokens = sum(len(row.get("message", "")) + 60 for row in timeline) // 4
        if floor_tokens > budget_tokens and index < last:
            continue
        payload = redact_obj(_payload(dossier, timeline, len(events), level))
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)
        tokens = estimate_tokens(text)
        result = CompactedDossier(
            payload, text, tokens, budget_tokens, len(events), kept, elided, index
        )
        if tokens <= budget_tokens:
            break
    assert result is not None
    return result


def collapse_timeline(
    events: Sequence[TimelineEvent], message_chars: int = 500
) -> list[dict[str, Any]]:
    """Every story event kept in time order, repetitive runs collapsed into count markers."""
    ordered = sorted(events, key=lambda e: (as_utc(e.at), e.id or 0))
    rows, _, _ = _timeline(ordered, _Level(message_chars, True, True, 10**9, 0, 0, 0, 0, 0, 0))
    return rows


def _timeline(
    events: Sequence[TimelineEvent], level: _Level
) -> tuple[list[dict[str, Any]], int, int]:
    if not events:
        return [], 0, 0
    story = [i for i, e in enumerate(events) if e.kind in _STORY_KINDS]
    if len(story) > level.max_story_events:
        story = _thin(story, level.max_story_events)
    keep = {0, len(events) - 1, *story}
    if level.keep_context or level.keep_first_of_kind:
        seen: set[tuple[str, str]] = set()
        for i, event in enumerate(events):
            if level.keep_context and event.kind in _CONTEXT_KINDS:
                keep.add(i)
            elif level.keep_first_of_kind and event.kind not in _STORY_KINDS:
                key = (str(event.kind), _event_alertname(event))
                if key not in seen:
                    seen.add(key)
                    keep.add(i)
    rows: list[dict[str, Any]] = []
    pending: list[TimelineEvent] = []
    for i, event in enumerate(events):
        if i in keep:
            if pending:
                rows.append(_elision(pending))
                pending = []
            rows.append(_event_row(event, level.message_chars))
        else:
            pending.append(event)
    if pending:
        rows.append(_elision(pending))
    return rows, len(keep), len(events) - len(keep)


def _thin(indices: list[int], limit: int) -> list[int]:
    """`limit` indices spread evenly over `indices`, always keeping both ends."""
    if limit <= 2:
        return [indices[0], indices[-1]][:limit]
    step = (len(indices) - 1) / (limit - 1)
    return sorted({indices[round(k * step)] for k in range(limit)})


def _elision(events: list[TimelineEvent]) -> dict[str, Any]:
    counts = Counter(str(e.kind) for e in events)
    parts = ", ".join(f"{n} {kind}" for kind, n in counts.most_common())
    return {
        "elided": f"… {parts} events elided",
        "counts": dict(counts.most_common()),
        "from": as_utc(events[0].at).isoformat(timespec="seconds"),
        "to": as_utc(events[-1].at).isoformat(timespec="seconds"),
    }


def _event_row(event: TimelineEvent, message_chars: int) -> dict[str, Any]:
    return {
        "at": as_utc(event.at).isoformat(timespec="seconds"),
        "kind": str(event.kind),
        "actor": clip(event.actor, 40),
        "message": clip(event.message, message_chars),
    }


def _event_alertname(event: TimelineEvent) -> str:
    data = event.data
    name = data.get("alertname")
    labels = data.get("labels")
    if name is None and isinstance(labels, Mapping):
        name = labels.get("alertname")
    return str(name or "")


def _payload(
    dossier: IncidentDossier, timeline: list[dict[str, Any]], events_total: int, level: _Level
) -> dict[str, Any]:
    incident = dossier.incident
    chars = level.message_chars
    return {
        "incident": {
            "ref": incident.ref,
            "title": clip(incident.title, max(chars, 80)),
            "severity": str(incident.severity),
            "status": str(incident.status),
            "triggered_at": as_utc(incident.triggered_at).isoformat(timespec="seconds"),
            "acknowledged_at": _iso(incident.acknowledged_at),
            "acknowledged_by": incident.acknowledged_by,
            "mitigated_at": _iso(incident.mitigated_at),
            "resolved_at": _iso(incident.resolved_at),
            "resolved_by": incident.resolved_by,
            "reopened_count": incident.reopened_count,
            "labels": _labels(incident.labels, level.labels, chars),
        },
        "durations": durations_block(dossier),
        "alerts": _alerts(dossier, level),
        "triage": _triage(dossier, level),
        "runbook_runs": _runs(dossier, level),
        "timeline_events_total": events_total,
        "timeline": timeline,
    }


def durations_block(dossier: IncidentDossier) -> dict[str, Any]:
    """Times to acknowledge, mitigate, resolve (and how long open), in seconds and in words."""
    incident = dossier.incident
    block: dict[str, Any] = {}
    spans = incident.durations_s()
    spans["open_s"] = (dossier.observed_until - as_utc(incident.triggered_at)).total_seconds()
    names = {"tta_s": "acknowledge", "ttm_s": "mitigate", "ttr_s": "resolve", "open_s": "open"}
    for key, seconds in spans.items():
        if seconds is not None:
            block[key] = round(seconds)
            block[f"time_to_{names[key]}" if key != "open_s" else "open_for"] = human_duration(
                seconds
            )
    return block


def _alerts(dossier: IncidentDossier, level: _Level) -> dict[str, Any]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for alert in dossier.alerts:
        groups.setdefault(alert_name(alert), []).append(alert)
    ordered = sorted(groups.items(), key=lambda item: -len(item[1]))
    rows = []
    for name, alerts in ordered[: level.alert_groups]:
        first = alerts[0]
        annotations = first.get("annotations") or {}
        starts = [t for t in (alert_started(a) for a in alerts) if t is not None]
        rows.append(
            {
                "alertname": clip(name, 80),
                "count": len(alerts),
                "firing": sum(1 for a in alerts if str(a.get("status", "")).lower() == "firing"),
                "first_started_at": min(starts).isoformat(timespec="seconds") if starts else None,
                "labels": _labels(first.get("labels") or {}, level.labels, level.message_chars),
                "annotations": _labels(annotations, 4, level.message_chars),
            }
        )
    return {
        "total": len(dossier.alerts),
        "firing": len(dossier.firing_alerts),
        "groups": rows,
        "groups_omitted": max(0, len(ordered) - level.alert_groups),
    }


def _triage(dossier: IncidentDossier, level: _Level) -> dict[str, Any] | None:
    if dossier.triage is None:
        return None
    chars = level.message_chars
    hypotheses = [
        {
            "kind": clip(str(h.get("kind", "unknown")), 60),
            "confidence": h.get("confidence"),
            "explanation": clip(str(h.get("explanation", "")), chars),
            "evidence": [clip(str(e), chars) for e in list(h.get("evidence") or [])[:3]],
        }
        for h in dossier.hypotheses[: level.hypotheses]
    ]
    keys = ("signal", "promql", "baseline_median", "peak", "z", "onset", "status")
    findings = [
        {k: clip(f[k], chars) if isinstance(f.get(k), str) else f.get(k) for k in keys}
        for f in dossier.findings[: level.findings]
    ]
    return {
        "hypotheses": hypotheses,
        "hypotheses_omitted": max(0, len(dossier.hypotheses) - level.hypotheses),
        "findings": findings,
        "findings_omitted": max(0, len(dossier.findings) - level.findings),
    }


def _runs(dossier: IncidentDossier, level: _Level) -> list[dict[str, Any]]:
    runs = list(dossier.runbook_runs)[-level.runbook_runs :]
    rows = []
    for run in runs:
        steps = [s for s in run.get("steps") or [] if isinstance(s, Mapping)]
        verification = run.get("verification")
        approval = run.get("approval")
        waited_s = approval.get("waited_s") if isinstance(approval, Mapping) else None
        rows.append(
            {
                "runbook": clip(str(run.get("runbook", "")), 80),
                "status": clip(str(run.get("status", "")), 40),
                "verified": run.get("verified"),
                "approval_waited": None if waited_s is None else human_duration(float(waited_s)),
                "steps": [
                    {
                        "action": clip(str(s.get("action", "")), 60),
                        "description": clip(str(s.get("description", "")), level.message_chars),
                        "status": clip(str(s.get("status", "")), 40),
                        **_step_times(s),
                    }
                    for s in steps[-level.runbook_steps :]
                ],
                "steps_omitted": max(0, len(steps) - level.runbook_steps),
                "verification": (
                    {"outcome": str(verification.get("status", "")), **_step_times(verification)}
                    if isinstance(verification, Mapping)
                    else None
                ),
            }
        )
    return rows


def _step_times(step: Mapping[str, Any]) -> dict[str, Any]:
    """A step's real start and end (UTC, to the second) and how long it took, in words."""
    took = step_duration_s(step)
    return {
        "started_at": _iso(parse_time(step.get("started_at") or step.get("at"))),
        "finished_at": _iso(parse_time(step.get("finished_at"))),
        "took": None if took is None else human_duration(took),
    }


def _labels(labels: Mapping[str, Any], limit: int, chars: int) -> dict[str, str]:
    items = sorted(labels.items())[:limit]
    return {clip(str(k), 60): clip(str(v), chars) for k, v in items}


def _iso(value: Any) -> str | None:
    return None if value is None else as_utc(value).isoformat(timespec="seconds")


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"
