"""Firebreak's own metrics, as data: every family `/metrics` exports, by stage.

Each `MetricSpec` names one family, its kind, labels and (for histograms) buckets, the stage
it watches, and where its samples come from:

- `PROCESS`: counted in the API process itself (the webhook), with prometheus_client;
- `RECORDED`: recorded through the `Telemetry` port wherever the stage runs (a worker's pool
  child, the normaliser thread, the API) and kept in Redis, so every process's counts reach
  the API's `/metrics` and outlive the process that made them;
- `STORE`: read from the database when `/metrics` is scraped (incidents, backlogs, runs);
- `BROKER`: read from the broker when `/metrics` is scraped (queue depths).

`Unrecorded` is the Telemetry that keeps nothing, for code run without an adapter (a test, a
one-off command).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class MetricKind(StrEnum):
    COUNTER = "counter"
    HISTOGRAM = "histogram"
    GAUGE = "gauge"


class Origin(StrEnum):
    PROCESS = "process"
    RECORDED = "recorded"
    STORE = "store"
    BROKER = "broker"


@dataclass(frozen=True)
class MetricSpec:
    """One exported family. `name` is the family's name (a counter's samples add `_total`)."""

    name: str
    kind: MetricKind
    help: str
    stage: str
    origin: Origin
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    def sample_names(self) -> tuple[str, ...]:
        """The sample names a scrape shows for this family."""
        if self.kind is MetricKind.COUNTER:
            return (f"{self.name}_total",)
        if self.kind is MetricKind.HISTOGRAM:
            return tuple(f"{self.name}_{suffix}" for suffix in ("bucket", "sum", "count"))
        return (self.name,)

    def label_values(self, labels: Mapping[str, str] | None) -> tuple[str, ...]:
        """The values of `labels` in this family's label order; ValueError when the label
        names are not exactly the family's (a bug in the caller, never data)."""
        given = dict(labels or {})
        if set(given) != set(self.labels):
            raise ValueError(f"{self.name} takes labels {self.labels}, not {tuple(given)}")
        return tuple(str(given[name]) for name in self.labels)


_SECONDS_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SECONDS_TASK = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SECONDS_SLOW = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
_SECONDS_WAIT = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

C, H, G = MetricKind.COUNTER, MetricKind.HISTOGRAM, MetricKind.GAUGE

# webhook: the API process accepts deliveries.
WEBHOOK_SECONDS = MetricSpec(
    "firebreak_webhook_duration_seconds",
    H,
    "Time to answer an Alertmanager webhook delivery, whatever the answer",
    "webhook",
    Origin.PROCESS,
    buckets=_SECONDS_FAST,
)
WEBHOOK_DELIVERIES = MetricSpec(
    "firebreak_webhook_deliveries",
    C,
    "Webhook deliveries by outcome: accepted, duplicate, refused (4xx), store_unavailable (503)",
    "webhook",
    Origin.PROCESS,
    ("outcome",),
)
ALERTS_RECEIVED = MetricSpec(
    "firebreak_alerts_received",
    C,
    "Alerts in accepted deliveries, by status",
    "webhook",
    Origin.PROCESS,
    ("status",),
)
ALERTS_REJECTED = MetricSpec(
    "firebreak_alerts_rejected",
    C,
    "Alerts set aside from a delivery whose other alerts were stored",
    "webhook",
    Origin.PROCESS,
)

# deliveries: the normaliser turns stored deliveries into incidents.
DELIVERIES_NORMALISED = MetricSpec(
    "firebreak_deliveries_normalised",
    C,
    "Stored deliveries the normaliser took, by result: normalised or failed (set aside)",
    "deliveries",
    Origin.RECORDED,
    ("result",),
)
DELIVERIES_PENDING = MetricSpec(
    "firebreak_deliveries_pending",
    G,
    "Stored deliveries not yet normalised into incidents",
    "deliveries",
    Origin.STORE,
)
DELIVERIES_PENDING_AGE = MetricSpec(
    "firebreak_deliveries_pending_oldest_age_seconds",
    G,
    "Age of the oldest delivery not yet normalised (0 when none is pending)",
    "deliveries",
    Origin.STORE,
)

# incidents: the lifecycle.
INCIDENTS = MetricSpec(
    "firebreak_incidents",
    G,
    "Incidents by status (triggered, acknowledged, mitigated, resolved)",
    "incidents",
    Origin.STORE,
    ("status",),
)
INCIDENTS_OPEN = MetricSpec(
    "firebreak_incidents_open", G, "Incidents not yet resolved", "incidents", Origin.STORE
)

# triage: correlation of the incident's metrics.
TRIAGE_SECONDS = MetricSpec(
    "firebreak_triage_duration_seconds",
    H,
    "Triage time by result: ok, degraded (a metrics source was unavailable) or failed (raised)",
    "triage",
    Origin.RECORDED,
    ("result",),
    _SECONDS_SLOW,
)
TRIAGE_NO_DATA = MetricSpec(
    "firebreak_triage_signal_no_data",
    C,
    "Signals a triage could not judge, by signal and status (inconclusive: no data; "
    "unavailable: the query failed)",
    "triage",
    Origin.RECORDED,
    ("signal", "status"),
)

# runbooks: runs, their actions and the guards that stop them.
RUNBOOK_RUNS = MetricSpec(
    "firebreak_runbook_runs",
    G,
    "Runbook runs by runbook and state",
    "runbooks",
    Origin.STORE,
    ("runbook", "state"),
)
RUNBOOK_ACTIONS = MetricSpec(
    "firebreak_runbook_actions",
    C,
    "Runbook steps carried out, by runbook, action and result (applied, unchanged, skipped, "
    "dry_run, failed; a verification: successful, failed, inconclusive)",
    "runbooks",
    Origin.RECORDED,
    ("runbook", "action", "result"),
)
GUARD_REFUSALS = MetricSpec(
    "firebreak_guard_refusals",
    C,
    "Runs stopped by a guard, by guard (pause, lock, cooldown, hourly_limit, store) and runbook",
    "runbooks",
    Origin.RECORDED,
    ("guard", "runbook"),
)

# chat: Slack (or the console that stands in for it).
CHAT_CALLS = MetricSpec(
    "firebreak_chat_calls",
    C,
    "Chat calls by chat (slack, console), Slack Web API method and result (ok, rate_limited, "
    "unavailable, rejected)",
    "chat",
    Origin.RECORDED,
    ("chat", "method", "result"),
)
CHAT_RETRY_AFTER = MetricSpec(
    "firebreak_chat_retry_after_seconds",
    H,
    "Retry-After of each Slack 429, by method",
    "chat",
    Origin.RECORDED,
    ("method",),
    _SECONDS_WAIT,
)

# llm: summaries from an OpenAI-compatible model.
LLM_CALLS = MetricSpec(
    "firebreak_llm_calls",
    C,
    "LLM requests by model and result (ok, timeout, rate_limited, http_5xx, ...)",
    "llm",
    Origin.RECORDED,
    ("model", "result"),
)
LLM_SECONDS = MetricSpec(
    "firebreak_llm_call_duration_seconds",
    H,
    "LLM request latency by model, whatever the result",
    "llm",
    Origin.RECORDED,
    ("model",),
    _SECONDS_SLOW,
)
LLM_TOKENS = MetricSpec(
    "firebreak_llm_tokens",
    C,
    "Tokens of completed summaries by model and kind (prompt, completion)",
    "llm",
    Origin.RECORDED,
    ("model", "kind"),
)
LLM_COST = MetricSpec(
    "firebreak_llm_cost_usd",
    C,
    "Estimated cost of completed summaries in US dollars, by model (priced by "
    "FIREBREAK_LLM_PRICES; an unpriced model adds nothing)",
    "llm",
    Origin.RECORDED,
    ("model",),
)

# workers: Celery tasks and their queues.
TASKS = MetricSpec(
    "firebreak_tasks",
    C,
    "Celery tasks that ran, by task, queue and final state (SUCCESS, RETRY, FAILURE, ...)",
    "workers",
    Origin.RECORDED,
    ("task", "queue", "state"),
)
TASK_SECONDS = MetricSpec(
    "firebreak_task_duration_seconds",
    H,
    "Celery task durations by task and queue",
    "workers",
    Origin.RECORDED,
    ("task", "queue"),
    _SECONDS_TASK,
)
QUEUE_DEPTH = MetricSpec(
    "firebreak_celery_queue_depth",
    G,
    "Messages waiting in each Celery queue (not yet taken by a worker)",
    "workers",
    Origin.BROKER,
    ("queue",),
)

# outbox: tasks written with the change they announce, relayed to the broker.
OUTBOX_PENDING = MetricSpec(
    "firebreak_outbox_pending", G, "Outbox rows due and not yet relayed", "outbox", Origin.STORE
)
TASKS_SENT = MetricSpec(
    "firebreak_tasks_sent",
    C,
    "Tasks handed to the broker (relayed from the outbox, or a run's next tick), by task and "
    "result (sent, broker_unavailable)",
    "outbox",
    Origin.RECORDED,
    ("task", "result"),
)
OUTBOX_PENDING_AGE = MetricSpec(
    "firebreak_outbox_oldest_pending_age_seconds",
    G,
    "How long the oldest due outbox row has waited to be relayed (0 when none is due)",
    "outbox",
    Origin.STORE,
)

CATALOGUE: tuple[MetricSpec, ...] = (
    WEBHOOK_SECONDS,
    WEBHOOK_DELIVERIES,
    ALERTS_RECEIVED,
    ALERTS_REJECTED,
    DELIVERIES_NORMALISED,
    DELIVERIES_PENDING,
    DELIVERIES_PENDING_AGE,
    INCIDENTS,
    INCIDENTS_OPEN,
    TRIAGE_SECONDS,
    TRIAGE_NO_DATA,
    RUNBOOK_RUNS,
    RUNBOOK_ACTIONS,
    GUARD_REFUSALS,
    CHAT_CALLS,
    CHAT_RETRY_AFTER,
    LLM_CALLS,
    LLM_SECONDS,
    LLM_TOKENS,
    LLM_COST,
    TASKS,
    TASK_SECONDS,
    QUEUE_DEPTH,
    OUTBOX_PENDING,
    OUTBOX_PENDING_AGE,
    TASKS_SENT,
)
STAGES: tuple[str, ...] = tuple(dict.fromkeys(spec.stage for spec in CATALOGUE))


def recorded_specs() -> tuple[MetricSpec, ...]:
    """The families recorded through the Telemetry port (kept in Redis)."""
    return tuple(spec for spec in CATALOGUE if spec.origin is Origin.RECORDED)


def exported_sample_names() -> frozenset[str]:
    """Every sample name `/metrics` can show."""
    return frozenset(name for spec in CATALOGUE for name in spec.sample_names())


@dataclass(frozen=True)
class RecordedSeries:
    """One labelled series of a recorded family, as kept: a counter's total, or a histogram's
    count, sum and cumulative bucket counts (one per bound of the family's buckets)."""

    labels: tuple[str, ...]
    value: float
    sum: float = 0.0
    buckets: tuple[float, ...] = ()


@dataclass(frozen=True)
class Backlog:
    """What the database holds for each stage when `/metrics` is scraped."""

    incidents: dict[str, int]
    deliveries_pending: int
    deliveries_oldest_age_s: float
    outbox_pending: int
    outbox_oldest_age_s: float
    runs: dict[tuple[str, str], int]


class Unrecorded:
    """A Telemetry that keeps nothing (labels are still checked, so a wrong call fails)."""

    def count(
        self, metric: MetricSpec, labels: Mapping[str, str] | None = None, value: float = 1.0
    ) -> None:
        metric.label_values(labels)

    def observe(
        self, metric: MetricSpec, value: float, labels: Mapping[str, str] | None = None
    ) -> None:
        metric.label_values(labels)


UNRECORDED = Unrecorded()
