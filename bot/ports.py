"""The small interfaces services depend on; adapters implement them, tests fake them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from bot.domain.alert_history import FiringInterval
from bot.domain.alerts import Alert, RejectedAlert, StoredAlert
from bot.domain.cards import ChatState, IncidentCard, MessageRef
from bot.domain.changes import Change, DeployException, FiringAlert, Freeze, GateAnswer
from bot.domain.deliveries import IncidentOpening, PendingDelivery, RawDelivery
from bot.domain.incidents import Incident, IncidentStatus
from bot.domain.memory import IncidentTraits, PastIncident
from bot.domain.remediation import TickLease
from bot.domain.resemblance import Resemblance
from bot.domain.runbooks import (
    DrainResult,
    GuardDecision,
    GuardUsage,
    NodeState,
    Run,
    StepClaim,
    TargetState,
)
from bot.domain.signals import Series
from bot.domain.silences import Silence
from bot.domain.task_names import TaskName
from bot.domain.telemetry import Backlog, MetricSpec, RecordedSeries
from bot.domain.timeline import TimelineEvent
from bot.summary.dossier import IncidentDossier
from bot.summary.summary import Summary


class IncidentRepository(Protocol):
    """Incidents and the Alertmanager groups that seed them."""

    def get(self, incident_id: int, *, for_update: bool = False) -> Incident | None: ...
    def add(self, incident: Incident) -> Incident: ...
    def save(self, incident: Incident) -> None: ...
    def list(
        self, status: Sequence[IncidentStatus] | None = None, limit: int = 100
    ) -> list[Incident]: ...
    def count(self, status: Sequence[IncidentStatus]) -> int: ...
    def lock_group(self, receiver: str, group_key: str) -> int | None: ...
    def point_group(self, receiver: str, group_key: str, incident_id: int) -> None: ...
    def chat_state(self, incident_id: int) -> ChatState: ...
    def save_chat_state(self, incident_id: int, state: ChatState) -> None: ...
    def triage(self, incident_id: int) -> dict[str, Any] | None: ...
    def save_triage(self, incident_id: int, report: dict[str, Any]) -> None: ...


class AlertRepository(Protocol):
    """Alerts by identity (fingerprint + startsAt), each attached to one incident."""

    def lock_fingerprints(self, fingerprints: Sequence[str]) -> None:
        """Hold these fingerprints until the transaction ends, so deliveries sharing an alert
        (through any receiver) are stored one after the other."""
        ...

    def stored(self, identity: str) -> StoredAlert | None: ...
    def newer_start(self, fingerprint: str, start: datetime) -> datetime | None:
        """The earliest known `startsAt` of this fingerprint later than `start`."""
        ...

    def supersede(self, fingerprint: str, start: datetime, at: datetime) -> list[tuple[int, str]]:
        """Resolve, at `start`, this fingerprint's firing alerts that started before `start`;
        answer (incident id, identity) of each."""
        ...

    def insert(self, incident_id: int, alert: Alert, at: datetime) -> None: ...
    def update(self, stored: StoredAlert, alert: Alert, at: datetime) -> str:
        """Apply a later delivery of a stored alert; answer `resolved` or `same`."""
        ...

    def incident_of(self, identity: str) -> int | None: ...
    def last_incident_of(self, fingerprint: str) -> int | None: ...
    def firing_count(self, incident_id: int) -> int: ...
    def for_incident(self, incident_id: int) -> list[dict[str, Any]]: ...
    def open_firing(self) -> list[tuple[int, str, str]]: ...
    def mark_resolved(self, identity: str, at: datetime) -> bool: ...


class RejectionLog(Protocol):
    """Alerts refused one by one from a delivery whose other alerts were stored."""

    def record(
        self,
        digest: str,
        incident_id: int | None,
        rejected: Sequence[RejectedAlert],
        at: datetime,
    ) -> None: ...
    def for_incident(self, incident_id: int) -> list[dict[str, Any]]: ...


class TimelineRepository(Protocol):
    def append(self, event: TimelineEvent) -> TimelineEvent: ...
    def for_incident(self, incident_id: int) -> list[TimelineEvent]: ...


class Outbox(Protocol):
    """Task messages written in the same transaction as the change they announce."""

    def add(self, task: TaskName, args: list[Any], delay_s: float = 0.0) -> int: ...
    def claim(
        self,
        older_than_s: float,
        lease_s: float,
        only: Sequence[int] | None = None,
        limit: int = 500,
    ) -> list[tuple[int, str, list[Any]]]: ...
    def release(self, ids: Sequence[int]) -> None: ...
    def mark_dispatched(self, ids: Sequence[int]) -> None: ...
    def pending(self) -> list[tuple[int, str, list[Any]]]: ...
    def count_pending(self) -> int: ...


class Ledger(Protocol):
    """Side effects keyed by (incident, step): claimed before acting, never done twice."""

    def claim(self, incident_id: int, step: str) -> bool: ...
    def complete(
        self, incident_id: int, step: str, result: dict[str, Any] | None = None
    ) -> None: ...
    def result(self, incident_id: int, step: str) -> dict[str, Any] | None: ...
    def state(self, incident_id: int, step: str) -> str | None: ...
    def release(self, incident_id: int, step: str) -> None: ...
    def take_over(self, incident_id: int, step: str, lease_s: float) -> bool: ...
    def claim_age_s(self, incident_id: int, step: str) -> float | None: ...


class AuditLog(Protocol):
    def record(
        self, actor: str, action: str, incident_id: int | None, detail: dict[str, Any]
    ) -> None: ...
    def for_incident(self, incident_id: int) -> list[dict[str, Any]]: ...


class DeliveryQueue(Protocol):
    """Stored deliveries awaiting normalisation, oldest first."""

    def lock(self) -> None:
        """Be the only normaliser until the transaction ends (deliveries stay in order)."""

    def pending(self, limit: int) -> list[PendingDelivery]: ...
    def mark_normalised(
        self, delivery_ids: Sequence[int], at: datetime, failure: str | None = None
    ) -> None:
        """Done with these deliveries; `failure` says why they could not be stored, if so."""


class IncidentOpenings(Protocol):
    """Set-based writes for deliveries that open new incidents: a batch of them costs a few
    statements, not a few per delivery."""

    def known(
        self, groups: Sequence[tuple[str, str]], fingerprints: Sequence[str]
    ) -> tuple[set[tuple[str, str]], set[str]]:
        """Of these (receiver, groupKey) pairs and alert fingerprints, those already stored."""

    def claim_groups(self, groups: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Create these groups, unpointed; answer those created here (not already there)."""

    def add_incidents(self, incidents: Sequence[Incident]) -> list[int]:
        """Insert the incidents; answer their ids, in order."""

    def write(self, openings: Sequence[IncidentOpening]) -> None:
        """Point each group at its incident and store every opening's rows."""


class IncidentMemory(Protocol):
    """What triaged incidents looked like, and what became of them (bot/domain/memory.py)."""

    def remember(self, traits: IncidentTraits, matches: Sequence[Resemblance]) -> None:
        """Store an incident's traits and the earlier incidents found like it, replacing what
        an earlier triage stored."""

    def traits(self, incident_id: int) -> IncidentTraits | None: ...
    def matches(self, incident_id: int) -> list[Resemblance] | None:
        """The matches stored at its triage, best first; None when none were stored."""
        ...

    def candidates(self, traits: IncidentTraits, limit_per_key: int) -> list[IncidentTraits]:
        """Earlier incidents sharing its model, namespace, node or top hypothesis that had ended
        by the time it triggered: at most `limit_per_key` per key, the most recent."""
        ...

    def outcomes(self, incident_ids: Sequence[int]) -> dict[int, PastIncident]:
        """What became of each: lifecycle, the run that acted, a recurrence on its scope."""
        ...


class SilenceRecords(Protocol):
    """The Alertmanager silences covering each incident, as last made or synced."""

    def save(self, incident_id: int, silence: Silence, at: datetime) -> None:
        """Record or update one; a silence Firebreak made stays marked as Firebreak's."""

    def for_incident(self, incident_id: int) -> list[Silence]: ...
    def expire(self, incident_id: int, silence_id: str, at: datetime) -> None: ...


class UnitOfWork(Protocol):
    """One database transaction across every repository; commits when the block exits cleanly."""

    @property
    def incidents(self) -> IncidentRepository: ...
    @property
    def alerts(self) -> AlertRepository: ...
    @property
    def timeline(self) -> TimelineRepository: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def rejections(self) -> RejectionLog: ...
    @property
    def memory(self) -> IncidentMemory: ...
    @property
    def silences(self) -> SilenceRecords: ...
    @property
    def changes(self) -> ChangeLog: ...
    @property
    def freezes(self) -> DeployFreezes: ...
    @property
    def deploy_exceptions(self) -> DeployExceptions: ...
    @property
    def scope_watch(self) -> ScopeWatch: ...

    @property
    def deliveries(self) -> DeliveryQueue: ...
    @property
    def openings(self) -> IncidentOpenings: ...

    def record_delivery(self, digest: str) -> bool:
        """Record a delivery normalised in this transaction; False for a duplicate."""

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested transaction: an exception inside undoes only its own writes."""


# The change gate (bot/services/record_change.py, check_gate.py, freeze_deploys.py).


class ChangeLog(Protocol):
    """Changes to models and services, as pipelines, people and Firebreak announce them."""

    def add(self, change: Change, recorded_at: datetime) -> Change: ...
    def on_scope(
        self, scope: str, start: datetime, end: datetime, limit: int = 100
    ) -> list[Change]:
        """Changes to `scope` (`model_name=…` or `service=…`) from `start` to `end`, oldest
        first."""
        ...


class DeployFreezes(Protocol):
    """One freeze per scope (a model, or every model); freezing a scope again replaces it."""

    def put(self, freeze: Freeze) -> None: ...
    def lift(self, scope: str) -> Freeze | None:
        """Remove the scope's freeze; answer it (None when there was none)."""
        ...

    def covering(self, model: str, now: datetime) -> list[Freeze]:
        """Freezes in force for `model`: its own and every model's."""
        ...


class DeployExceptions(Protocol):
    """Approvers' single-use exceptions; granting one replaces the model's unused one."""

    def grant(self, exception: DeployException) -> DeployException: ...
    def usable(self, model: str, now: datetime) -> DeployException | None: ...
    def use(self, exception_id: int, now: datetime) -> bool:
        """Mark the exception used, only if it is unused and unexpired: True for the one caller
        that did (two transactions racing for it cannot both)."""
        ...


class ScopeWatch(Protocol):
    """What is going on on a scope: its incidents and its firing alerts."""

    def incident_ids(self, label: str, value: str, resolved_since: datetime | None) -> list[int]:
        """Incidents whose `label` is `value`: open ones, and with `resolved_since` those
        resolved since then; newest first."""
        ...

    def firing_for_model(self, model: str) -> list[FiringAlert]: ...


class ChangeGate(Protocol):
    """The gate as a pipeline sees it, over the API or on the local database. Raises
    UpstreamUnavailableError when it cannot be asked, RefusedError when refused."""

    def check(self, model: str) -> GateAnswer: ...
    def record(self, change: Change) -> GateAnswer: ...


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[UnitOfWork]: ...
    def ping(self) -> None: ...


class DeliveryIntake(Protocol):
    """Where the webhook stores a delivery: one durable write, shared commits, async."""

    async def accept(self, delivery: RawDelivery) -> bool:
        """Durably store `delivery`; False for a duplicate body. Raises
        StoreUnavailableError when the database cannot take it."""

    async def close(self) -> None: ...


class TaskQueue(Protocol):
    """Hands a task to the workers; raises BrokerUnavailableError when it cannot."""

    def enqueue(self, task: str, args: list[Any]) -> None: ...
    def ping(self) -> None: ...


class ChatClient(Protocol):
    """One root message per incident, edited in place; details in its thread."""

    def post_incident(self, card: IncidentCard) -> MessageRef: ...
    def update_incident(self, ref: MessageRef, card: IncidentCard) -> None: ...
    def post_thread(
        self, ref: MessageRef, text: str, *, incident_id: int | None = None
    ) -> MessageRef:
        """Reply in `ref`'s thread; with `incident_id`, the reply is marked as that incident's
        (so `find_thread_reply` finds it again)."""
        ...

    def find_incident(self, incident_id: int) -> MessageRef | None:
        """The root message already posted for this incident, if the chat can tell."""
        ...

    def find_thread_reply(self, ref: MessageRef, incident_id: int) -> MessageRef | None:
        """The reply in `ref`'s thread marked as this incident's, if the chat can tell."""
        ...


class MetricsSource(Protocol):
    """Range and instant PromQL queries; raises UpstreamUnavailableError when it cannot answer."""

    def query_range(
        self, promql: str, start: datetime, end: datetime, step_s: float
    ) -> list[Series]: ...
    def query(self, promql: str, at: datetime | None = None) -> list[Series]: ...


class AlertSource(Protocol):
    """What Alertmanager currently holds active, for reconciliation."""

    def active_fingerprints(self) -> set[str]: ...


class SilenceManager(Protocol):
    """Alertmanager's silences (API v2). NotConfiguredError without an Alertmanager URL,
    UpstreamUnavailableError when it cannot be reached, RefusedError when it refuses."""

    def create(self, silence: Silence) -> str:
        """Create `silence` (its id is ignored); answer the id Alertmanager gave it."""
        ...

    def expire(self, silence_id: str) -> None:
        """Expire a silence now; one already expired or unknown is left as it is."""

    def silences(self) -> list[Silence]:
        """Every silence Alertmanager holds, expired ones included."""
        ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...


# Runbook engine ports: targets acted on, shared guards, resumable runs.


class Target(Protocol):
    """A serving fleet a runbook acts on; raises UpstreamUnavailableError when it cannot."""

    def get_state(self, model: str) -> TargetState: ...
    def set_replicas(self, model: str, pool: str, replicas: int) -> None: ...
    def set_traffic(self, model: str, weights: dict[str, int]) -> None: ...
    def set_version(self, model: str, version: str) -> None: ...


@runtime_checkable
class ClusterTarget(Protocol):
    """The cluster under a target: its nodes and the model's workloads. A refusal (4xx) is a
    TargetError, an outage UpstreamUnavailableError."""

    def node_state(self, node: str) -> NodeState: ...
    def set_unschedulable(self, node: str, unschedulable: bool) -> None:
        """Cordon (True) or uncordon (False) a node, marking or clearing it as Firebreak's."""
        ...

    def drain(self, node: str, timeout_s: float) -> DrainResult:
        """Cordon, then evict every pod but DaemonSet and mirror pods through the Eviction API,
        retrying those a PodDisruptionBudget refuses until `timeout_s`."""
        ...

    def restarted_at(self, model: str, pool: str) -> str:
        """The pool's last rollout restart stamp (`kubectl.kubernetes.io/restartedAt`), or ''."""
        ...

    def restart(self, model: str, pool: str, restarted_at: str) -> None: ...


class GuardStore(Protocol):
    """Guards shared by every process: pause flag, per-target lock, cooldown, hourly limit."""

    def usage(self, target: str, now_s: float) -> GuardUsage: ...
    def admit(
        self,
        target: str,
        token: str,
        now_s: float,
        cooldown_s: float,
        max_runs_per_hour: int,
        lock_ttl_s: float,
    ) -> GuardDecision: ...
    def release(self, target: str, token: str) -> bool: ...
    def set_paused(self, paused: bool) -> None: ...


class RunStore(Protocol):
    """Runbook runs and their step ledger: a step is claimed before it acts, never done twice."""

    def add(self, run: Run) -> Run: ...
    def save(self, run: Run) -> None: ...
    def load(self, run_id: int) -> Run | None: ...
    def claim_step(self, run_id: int, key: str, now: datetime, lease_s: float) -> StepClaim: ...
    def complete_step(self, run_id: int, key: str, result: dict[str, Any]) -> None: ...


class RunIndex(RunStore, Protocol):
    """The run store, plus the queries remediation needs (SqlRunStore implements it)."""

    def for_incident(self, incident_id: int) -> list[Run]: ...
    def active_on(self, target: str) -> Run | None: ...
    def due(self, now: datetime, stale_before: datetime, limit: int = 100) -> list[int]: ...
    def lease_tick(self, run_id: int, holder: str, now: datetime, lease_s: float) -> TickLease: ...
    def release_tick(self, run_id: int, holder: str) -> None: ...


class RunJournal(Protocol):
    """Where a run's decisions and messages go: the audit log, the timeline, the chat thread."""

    def record(self, run: Run, event: str, detail: dict[str, Any]) -> None: ...
    def announce(self, run: Run, text: str) -> None: ...


# Summaries (bot/summary): a model only ever summarises a dossier; it never decides an action.


class Summariser(Protocol):
    """Summarises one incident dossier; always answers (offline when the model cannot)."""

    def summarise(self, dossier: IncidentDossier) -> Summary: ...


# Chat files, channel pacing and Slack interactivity (bot/adapters/slack.py, redis_rate.py).


@runtime_checkable
class FileUploader(Protocol):
    """Attaches a file (a chart, a postmortem) to a message's thread; answers the file's id."""

    def upload_file(self, ref: MessageRef, path: Path, title: str) -> str: ...
    def delete_file(self, file_id: str) -> None: ...


class UserGroups(Protocol):
    """Chat user groups (Slack's `S…` ids, usergroups.users.list). UpstreamUnavailableError
    when the chat cannot say who belongs to one."""

    def members_of(self, group_id: str) -> frozenset[str]: ...
    def groups_of(self, user: str, principals: Sequence[str]) -> frozenset[str]:
        """The user groups among `principals` that `user` belongs to (user ids are skipped)."""
        ...


class ChannelPacer(Protocol):
    """Paces posts per channel across processes: 0 when a post may go now, else seconds to wait."""

    def acquire(self, channel: str) -> float: ...


class OnceGuard(Protocol):
    """Claims a key for ttl_s: True the first time, False on a repeat (a retry, a double click)."""

    def claim(self, key: str, ttl_s: float) -> bool: ...
    def release(self, key: str) -> None: ...


class RunbookPreview(Protocol):
    """What chat needs of the runbook engine: the catalogue, and a dry-run plan as lines.

    `dry_run` raises NotFoundError for an unknown runbook or incident and
    UpstreamUnavailableError when the target's state cannot be read.
    """

    def catalogue(self) -> list[tuple[str, str]]: ...
    def dry_run(self, incident_id: int, runbook: str) -> list[str]: ...


class RetentionStore(Protocol):
    """Deletes old records in batches: each call deletes at most `limit` rows, answers how many."""

    def prune_deliveries(self, before: datetime, limit: int) -> int: ...
    def prune_dispatched_outbox(self, before: datetime, limit: int) -> int: ...
    def prune_resolved_timelines(self, before: datetime, limit: int) -> int: ...


class AlertHistory(Protocol):
    """Past alerts as the metrics backend recorded them (Prometheus's `ALERTS` series); raises
    UpstreamUnavailableError when it cannot answer."""

    def evaluation_interval_s(self) -> float:
        """The resolution alerts were recorded at (the rule evaluation interval)."""
        ...

    def firing(self, start: datetime, end: datetime) -> list[FiringInterval]:
        """Every alert's firings between `start` and `end`, earliest first."""
        ...


# Firebreak's own metrics (bot/domain/telemetry.py names every family).


class Telemetry(Protocol):
    """Counts and timings of Firebreak's own stages, kept where every process's reach
    `/metrics`. Never raises for an outage: a lost sample must not stop the stage it measures."""

    def count(
        self, metric: MetricSpec, labels: Mapping[str, str] | None = None, value: float = 1.0
    ) -> None: ...
    def observe(
        self, metric: MetricSpec, value: float, labels: Mapping[str, str] | None = None
    ) -> None:
        """One observation of a histogram family (seconds, for the `_seconds` ones)."""


class TelemetryReader(Protocol):
    """What `/metrics` reads from Redis at scrape time; raises UpstreamUnavailableError."""

    def recorded(self) -> dict[str, list[RecordedSeries]]:
        """Every recorded family's series, by family name."""
        ...

    def queue_depths(self, queues: Sequence[str]) -> dict[str, int]:
        """Messages waiting in each broker queue."""
        ...


class BacklogReader(Protocol):
    """The stages' state in the database at scrape time; raises StoreUnavailableError."""

    def backlog(self, now: datetime) -> Backlog: ...
