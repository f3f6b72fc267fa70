"""The one route table: which queue each task runs on, and how long a task on each may run."""

from __future__ import annotations

# In the order a worker serves them (Redis `queue_order_strategy: priority`, workers/app.py):
# a waiting chat post or runbook step goes before the next triage, so a backlog of triages
# never holds back the root message a person is waiting for.
QUEUES = ("ingest", "actions", "triage", "llm")

TASK_ROUTES: dict[str, dict[str, str]] = {
    "firebreak.incidents.*": {"queue": "ingest"},
    "firebreak.outbox.*": {"queue": "ingest"},
    "firebreak.alerts.*": {"queue": "ingest"},
    "firebreak.silences.*": {"queue": "ingest"},
    "firebreak.retention.*": {"queue": "ingest"},
    "firebreak.triage.*": {"queue": "triage"},
    "firebreak.runbooks.*": {"queue": "actions"},
    "firebreak.summary.*": {"queue": "llm"},
    "firebreak.postmortem.*": {"queue": "llm"},
}

# Tasks are short: load by id, call one service. A task past its queue's limit is killed (and,
# acked late, redelivered), so no task outlives the broker's visibility timeout (see app.py).
QUEUE_TIME_LIMITS_S: dict[str, float] = {
    "ingest": 30.0,
    "triage": 120.0,
    "actions": 60.0,
    "llm": 120.0,
}


def queue_of(task_name: str) -> str:
    """The queue a task is routed to (the default queue when no route matches)."""
    for pattern, route in TASK_ROUTES.items():
        if task_name == pattern or (pattern.endswith("*") and task_name.startswith(pattern[:-1])):
            return route["queue"]
    return "ingest"
