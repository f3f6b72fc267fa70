"""`firebreak incidents list|show`: read incidents straight from the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from bot.adapters.sql_store import SqlStore
from bot.domain.errors import NotFoundError
from bot.domain.incidents import OPEN_STATUSES, IncidentStatus, parse_ref
from bot.services.incident_views import incident_detail, timeline_view
from bot.services.recall_incidents import similar_incidents
from bot.settings import Settings


def list_incidents(settings: Settings, status: str) -> int:
    store = SqlStore.from_url(settings.effective_database_url)
    statuses = {"open": OPEN_STATUSES, "resolved": (IncidentStatus.RESOLVED,), "all": None}[status]
    with store.transaction() as tx:
        incidents = tx.incidents.list(statuses)
    table = Table("id", "severity", "status", "title", "triggered", title="Incidents")
    for incident in incidents:
        table.add_row(
            incident.ref,
            incident.severity.value,
            incident.status.value,
            incident.title,
            f"{incident.triggered_at:%Y-%m-%d %H:%M:%S}Z",
        )
    Console().print(table)
    return 0


def show_incident(settings: Settings, ref: str, as_json: bool = False) -> int:
    store = SqlStore.from_url(settings.effective_database_url)
    console = Console()
    try:
        incident_id = parse_ref(ref)
        detail = incident_detail(store, incident_id)
        timeline = timeline_view(store, incident_id)
        similar = similar_incidents(store, incident_id, datetime.now(UTC))
    except (ValueError, NotFoundError) as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    if as_json:
        document = {**detail, "similar": similar, "timeline": timeline}
        print(json.dumps(document, indent=2, default=str))
        return 0
    console.print(f"[bold]{detail['ref']}[/bold] {detail['title']}")
    console.print(
        f"severity {detail['severity']}  status {detail['status']}  labels {detail['labels']}"
    )
    durations = {k: detail[k] for k in ("tta_s", "ttm_s", "ttr_s") if detail[k] is not None}
    if durations:
        console.print("  ".join(f"{k} {v:.0f}s" for k, v in durations.items()))
    triage = detail.get("triage") or {}
    for rank, hypothesis in enumerate(triage.get("hypotheses", [])[:3], start=1):
        kind, confidence = hypothesis["kind"], hypothesis["confidence"]
        console.print(f"  #{rank} {kind} {confidence:.0%} {hypothesis.get('explanation', '')}")
    for match in similar:
        reasons = "; ".join(match["reasons"])
        console.print(
            f"  seen before: {match['ref']} ({match['score']:.0%} alike: {reasons}) "
            f"— {match['outcome']['text']}",
            markup=False,
        )
    table = Table("at", "kind", "message", title="Timeline")
    for event in timeline:
        table.add_row(event["at"], event["kind"], event["message"])
    console.print(table)
    return 0
