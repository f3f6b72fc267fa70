"""Summary test doubles: a FakeSummariser and `make_dossier`, a realistic incident of any size.

The dossier is a vLLM latency incident on llama-3-70b-instruct: queue saturation, a scale-out
runbook that verified, and a lifecycle cut at `status`. `events` pads the timeline with repeated
alert_firing events, so compaction can be exercised at 10 ... 10,000 events.
"""

from __future__ import annotations

import dataclasses
import random
import struct
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.alerts import Severity
from bot.domain.incidents import Incident, IncidentStatus
from bot.domain.timeline import EventKind, TimelineEvent
from bot.summary.dossier import IncidentDossier
from bot.summary.summary import Summary, SuspectedCause

T0 = datetime(2024, 5, 1, 12, 3, 27, tzinfo=UTC)
ACK = T0 + timedelta(minutes=12)
RUN_START = T0 + timedelta(minutes=15)
MITIGATED = RUN_START + timedelta(seconds=94)
RESOLVED = T0 + timedelta(minutes=41)
MODEL = "llama-3-70b-instruct"

_ORDER = ["triggered", "acknowledged", "mitigated", "resolved"]


def make_incident(status: str = "resolved", **overrides: Any) -> Incident:
    """INC-42 moved through its lifecycle up to `status`, with real transition timestamps."""
    incident = Incident(
        id=42,
        receiver="firebreak",
        group_key='{}:{alertname="VLLMHighLatency"}',
        title=f"vLLM p95 latency above 5 s on {MODEL}",
        severity=Severity.CRITICAL,
        status=IncidentStatus.TRIGGERED,
        triggered_at=T0,
        labels={"model": MODEL, "namespace": "serving", "deployment": "vllm-llama-70b"},
    )
    reached = _ORDER.index(status)
    if reached >= 1:
        incident.move_to(IncidentStatus.ACKNOWLEDGED, ACK, by="alice")
    if reached >= 2:
        incident.move_to(IncidentStatus.MITIGATED, MITIGATED)
    if reached >= 3:
        incident.move_to(IncidentStatus.RESOLVED, RESOLVED, by="bob")
    for key, value in overrides.items():
        setattr(incident, key, value)
    return incident


def make_alerts(
    description: str = "Queue depth is growing; p95 latency 8.23 s.", *, cleared: bool = True
) -> list[dict[str, Any]]:
    """Two alerts; the queue-depth one still firing unless `cleared`."""
    return [
        {
            "labels": {
                "alertname": "VLLMHighLatency",
                "model": MODEL,
                "severity": "critical",
                "pod": "vllm-llama-70b-7f9c8d-x2k4p",
            },
            "annotations": {
                "summary": f"p95 latency above 5 s on {MODEL}",
                "description": description,
            },
            "status": "resolved",
            "starts_at": T0.isoformat(),
            "ends_at": RESOLVED.isoformat(),
            "fingerprint": "a1b2c3d4e5f60718",
        },
        {
            "labels": {"alertname": "VLLMQueueDepthHigh", "model": MODEL, "severity": "warning"},
            "annotations": {"summary": "148 requests waiting"},
            "status": "resolved" if cleared else "firing",
            "starts_at": (T0 + timedelta(seconds=30)).isoformat(),
            "ends_at": RESOLVED.isoformat() if cleared else None,
            "fingerprint": "0f1e2d3c4b5a6978",
        },
    ]


def make_triage(chart_paths: list[str] | None = None) -> dict[str, Any]:
    return {
        "hypotheses": [
            {
                "kind": "capacity_saturation",
                "confidence": 0.91,
                "explanation": "Requests queue faster than the replicas serve them",
                "evidence": [
                    "vllm:num_requests_waiting peaked at 148 (z 14.2)",
                    "GPU KV cache usage 0.97",
                ],
            },
            {
                "kind": "gpu_fault",
                "confidence": 0.12,
                "explanation": "No XID errors seen",
                "evidence": [],
            },
        ],
        "findings": [
            {
                "signal": "vllm:num_requests_waiting",
                "promql": f'sum(vllm:num_requests_waiting{{model_name="{MODEL}"}})',
                "baseline_median": 3.0,
                "peak": 148.0,
                "z": 14.2,
                "onset": (T0 - timedelta(seconds=107)).isoformat(),
                "status": "anomalous",
            },
            {
                "signal": "vllm:e2e_request_latency_seconds:p95",
                "promql": "histogram_quantile(0.95, sum by (le) "
                "(rate(vllm:e2e_request_latency_seconds_bucket[5m])))",
                "baseline_median": 1.1,
                "peak": 8.23,
                "z": 9.7,
                "onset": (T0 - timedelta(seconds=60)).isoformat(),
                "status": "anomalous",
            },
        ],
        "chart_paths": chart_paths or [],
    }


def make_runs(status: str = "succeeded", verified: bool | None = True) -> list[dict[str, Any]]:
    """One scale-out run as `run_story` tells it: the scale step took 4 s, verification ran
    from then until mitigation."""
    scaled = RUN_START + timedelta(seconds=4)
    outcome = "successful" if verified else "failed"
    return [
        {
            "ref": "RUN-1",
            "runbook": "scale-out",
            "target": MODEL,
            "status": status,
            "verified": verified,
            "reason": "verification successful" if verified else "verification failed",
            "approval": None,
            "steps": [
                {
                    "action": "scale",
                    "description": "vllm-llama-70b replicas 4 -> 6",
                    "status": "done",
                    "started_at": RUN_START.isoformat(),
                    "finished_at": scaled.isoformat(),
                    "duration_s": 4.0,
                },
            ],
            "revert_steps": [],
            "verification": {
                "action": "verify",
                "status": outcome,
                "started_at": scaled.isoformat(),
                "finished_at": MITIGATED.isoformat(),
                "duration_s": (MITIGATED - scaled).total_seconds(),
            },
        }
    ]


def make_timeline(status: str = "resolved", events: int = 12) -> list[TimelineEvent]:
    """The story events of the lifecycle up to `status`, padded with alert_firing repeats."""
    reached = _ORDER.index(status)
    story: list[tuple[datetime, EventKind, str, str]] = [
        (T0, EventKind.INCIDENT_OPENED, "Opened from VLLMHighLatency", "alertmanager"),
        (
            T0 + timedelta(seconds=95),
            EventKind.TRIAGED,
            "Top hypothesis capacity_saturation (0.91)",
            "firebreak",
        ),
    ]
    if reached >= 1:
        story.append((ACK, EventKind.STATUS_CHANGED, "triggered → acknowledged", "alice"))
    if reached >= 2:
        story += [
            (RUN_START, EventKind.RUNBOOK, "scale-out started: replicas 4 -> 6", "firebreak"),
            (MITIGATED, EventKind.RUNBOOK, "scale-out verified", "firebreak"),
            (MITIGATED, EventKind.STATUS_CHANGED, "acknowledged → mitigated", "firebreak"),
        ]
    if reached >= 3:
        story.append((RESOLVED, EventKind.STATUS_CHANGED, "mitigated → resolved", "bob"))
    padding = max(0, events - len(story))
    end = story[-1][0]
    step = (end - T0) / (padding + 1) if padding else timedelta(0)
    rows = [
        (
            T0 + step * (i + 1),
            EventKind.ALERT_FIRING,
            "VLLMHighLatency firing again",
            "alertmanager",
        )
        for i in range(padding)
    ]
    merged = sorted(story + rows, key=lambda r: r[0])
    return [
        TimelineEvent(
            incident_id=42,
            at=at,
            kind=kind,
            message=message,
            actor=actor,
            id=i + 1,
            data=_event_data(kind),
        )
        for i, (at, kind, message, actor) in enumerate(merged)
    ]


def _event_data(kind: EventKind) -> dict[str, Any]:
    """What the real services put in an event's data, for the kinds readers look into."""
    if kind is EventKind.ALERT_FIRING:
        return {"alertname": "VLLMHighLatency"}
    if kind is EventKind.TRIAGED:
        return {"hypotheses": make_triage()["hypotheses"][:3]}
    return {}


def make_dossier(
    status: str = "resolved",
    events: int = 12,
    *,
    description: str = "Queue depth is growing; p95 latency 8.23 s.",
    chart_paths: list[str] | None = None,
    triage: bool = True,
    run_status: str = "succeeded",
    run_verified: bool | None = True,
) -> IncidentDossier:
    """A whole INC-42 dossier, cut at `status`, with `events` timeline events."""
    reached = _ORDER.index(status)
    return IncidentDossier(
        incident=make_incident(status),
        timeline=tuple(make_timeline(status, events)),
        alerts=tuple(make_alerts(description, cleared=reached >= 3)),
        triage=make_triage(chart_paths) if triage else None,
        runbook_runs=tuple(make_runs(run_status, run_verified)) if reached >= 2 else (),
        as_of=RESOLVED if reached < 3 else None,
    )


def tiny_png() -> bytes:
    """A valid 1x1 PNG, to stand in for a triage chart."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@dataclass
class FakeSummariser:
    """The Summariser port answering a fixed Summary; records every dossier it was given."""

    dossiers: list[IncidentDossier] = field(default_factory=list)
    answer: Summary = field(
        default_factory=lambda: Summary(
            what_happened="INC-42 happened.",
            impact="Latency rose.",
            suspected_cause=SuspectedCause("Capacity saturation", "capacity_saturation", 0.91),
            actions_taken=("scale-out verified",),
            current_state="Resolved.",
            next_steps=("Write the postmortem.",),
        )
    )

    def summarise(self, dossier: IncidentDossier) -> Summary:
        self.dossiers.append(dossier)
        return self.answer


def noisy_dossier(events: int, seed: int = 7) -> IncidentDossier:
    """Every event kind in random order, with long messages: the hardest case for the budget."""
    rng = random.Random(seed)
    kinds = list(EventKind)
    timeline = tuple(
        TimelineEvent(
            incident_id=42,
            at=T0 + timedelta(seconds=i),
            kind=rng.choice(kinds),
            message=f"event {i} " + "x" * rng.randint(10, 600),
            data={"alertname": f"Alert{rng.randint(0, 50)}"},
            id=i,
        )
        for i in range(events)
    )
    return dataclasses.replace(make_dossier(), timeline=timeline)
