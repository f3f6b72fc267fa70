"""The one route table: which queue each task runs on."""

from __future__ import annotations

QUEUES = ("ingest", "triage", "actions", "notify", "llm", "retry")

TASK_ROUTES: dict[str, dict[str, str]] = {
    "firebreak.incidents.*": {"queue": "ingest"},
    "firebreak.outbox.*": {"queue": "ingest"},
    "firebreak.alerts.*": {"queue": "ingest"},
    "firebreak.triage.*": {"queue": "triage"},
    "firebreak.runbooks.*": {"queue": "actions"},
    "firebreak.notify.*": {"queue": "notify"},
    "firebreak.summary.*": {"queue": "llm"},
    "firebreak.postmortem.*": {"queue": "llm"},
}
