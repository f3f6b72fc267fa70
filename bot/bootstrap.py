"""The composition root: the one place that builds adapters from Settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import structlog

from bot.adapters.alertmanager import AlertmanagerAlertSource, AlertmanagerSilences
from bot.adapters.celery_queue import CeleryTaskQueue
from bot.adapters.console_chat import ConsoleChatClient
from bot.adapters.openai_summariser import OpenAISummariser
from bot.adapters.prometheus import PrometheusMetricsSource
from bot.adapters.redis_broker import RedisBrokerProbe
from bot.adapters.redis_client import RedisClient, redis_client
from bot.adapters.redis_rate import RedisOnceGuard, RedisTokenBucket
from bot.adapters.redis_telemetry import RedisTelemetry
from bot.adapters.slack import SlackChatClient, SlackUserGroups
from bot.adapters.slack_web import SlackRequestVerifier, SlackWebClient, slack_web_client
from bot.adapters.sql_runs import SqlRunStore
from bot.adapters.sql_store import SqlStore
from bot.adapters.unconfigured_metrics import UnconfiguredMetricsSource
from bot.adapters.unconfigured_silences import UnconfiguredSilences
from bot.correlation.catalogue import Catalogue, load_catalogue
from bot.domain.redaction import redact
from bot.ports import (
    AlertSource,
    BacklogReader,
    ChannelPacer,
    ChatClient,
    DeliveryIntake,
    MetricsSource,
    RetentionStore,
    SilenceManager,
    Summariser,
    Target,
    TaskQueue,
    UserGroups,
)
from bot.runbook.executor import RunbookExecutor
from bot.runbook.guards import Guards
from bot.runbook.loader import RunbookCatalog
from bot.runbook.planner import Planner
from bot.runbook.targets import KubernetesTargetConfig, TargetRegistry
from bot.services.normalise_deliveries import DeliveryNormaliser
from bot.services.preview_runbooks import RunbookPreviews
from bot.services.remediate import Remediation
from bot.services.run_views import card_state, run_story
from bot.settings import Settings
from bot.slack_app.authorisation import SlackAuthoriser
from bot.slack_app.deps import SlackDeps
from bot.summary.offline import OfflineSummariser


def utc_now() -> datetime:
    return datetime.now(UTC)


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def build_targets(path: Path) -> TargetRegistry:
    """Bind each target in a targets file to its adapter; raises RunbookError (file:line)."""
    from bot.adapters.http_target import HttpTarget
    from bot.adapters.kubernetes_target import KubernetesTarget
    from bot.runbook.targets import HttpTargetConfig, load_targets

    def adapter(config: HttpTargetConfig | KubernetesTargetConfig) -> Target:
        if isinstance(config, HttpTargetConfig):
            return HttpTarget.from_config(config)
        return KubernetesTarget.from_config(config)

    if not path.exists():
        structlog.get_logger(__name__).warning("runbook_targets_missing", path=str(path))
        return TargetRegistry([])
    return TargetRegistry.build(load_targets(path), adapter)


@dataclass
class Container:
    """Adapters built lazily, once per process, from one Settings."""

    settings: Settings

    @property
    def redis_url(self) -> str:
        return self.settings.redis_url or DEFAULT_REDIS_URL

    @cached_property
    def store(self) -> SqlStore:
        return SqlStore.from_url(self.settings.effective_database_url)

    @cached_property
    def intake(self) -> DeliveryIntake:
        from bot.adapters.sql_intake import SqlDeliveryIntake

        return SqlDeliveryIntake(self.store)

    def normaliser(self) -> DeliveryNormaliser:
        """A delivery normaliser thread on this process's store and broker (not started)."""
        window = timedelta(seconds=self.settings.reopen_window_s)
        return DeliveryNormaliser(
            self.store, self.tasks, self.clock, window, telemetry=self.telemetry
        )

    @cached_property
    def retention(self) -> RetentionStore:
        from bot.adapters.sql_retention import SqlRetention

        return SqlRetention(self.store)

    @cached_property
    def tasks(self) -> TaskQueue:
        """Publishes tasks through this process's own Celery app (workers/app.py)."""
        from workers.app import create_celery

        return CeleryTaskQueue(create_celery(self.settings), telemetry=self.telemetry)

    @cached_property
    def redis(self) -> RedisClient:
        """The Redis client this process's Redis adapters share."""
        return redis_client(self.redis_url)

    @cached_property
    def broker_probe(self) -> RedisBrokerProbe:
        """Whether the broker answers (the worker's heartbeat)."""
        return RedisBrokerProbe(self.redis)

    @cached_property
    def telemetry(self) -> RedisTelemetry:
        """Firebreak's own metrics, recorded by every process into Redis, read by /metrics."""
        return RedisTelemetry.from_url(self.redis_url)

    @cached_property
    def backlog(self) -> BacklogReader:
        from bot.adapters.sql_backlog import SqlBacklog

        return SqlBacklog(self.store)

    @property
    def broker_queues(self) -> tuple[str, ...]:
        from workers.routes import QUEUES

        return QUEUES

    @cached_property
    def chat(self) -> ChatClient:
        if self.settings.slack_enabled:
            return SlackChatClient.from_settings(
                self.settings, redact=redact, telemetry=self.telemetry
            )
        return ConsoleChatClient(
            self.settings.chat_log_path, self.settings.slack_channel, telemetry=self.telemetry
        )

    @cached_property
    def pacer(self) -> ChannelPacer | None:
        """Per-channel posting pace shared in Redis; the console needs none."""
        if not self.settings.slack_enabled:
            return None
        return RedisTokenBucket(
            self.redis, rate_per_s=self.settings.slack_rate_per_s, burst=self.settings.slack_burst
        )

    def slack_deps(self) -> SlackDeps:
        """What the bolt app's listeners need."""
        settings = self.settings
        groups = self.user_groups
        return SlackDeps(
            store=self.store,
            tasks=self.tasks,
            authoriser=SlackAuthoriser(
                settings.slack_approver_ids,
                settings.slack_operator_ids,
                groups.members_of if groups is not None else None,
            ),
            clock=self.clock,
            claims=RedisOnceGuard(self.redis),
            runbooks=self.runbook_previews,
            redact=redact,
            silences=self.silences,
            api_url=settings.api_url,
        )

    @cached_property
    def slack_web(self) -> SlackWebClient | None:
        """The bot token's Slack Web API client (at FIREBREAK_SLACK_API_URL when set), for the
        bolt app and the user-group reader; None without a token."""
        token = self.settings.slack_bot_token
        if token is None or not token.get_secret_value().strip():
            return None
        return slack_web_client(token.get_secret_value(), self.settings.slack_api_url)

    @cached_property
    def slack_signatures(self) -> SlackRequestVerifier | None:
        """Checks that a request to /slack/events was signed by Slack; None without a secret."""
        secret = self.settings.slack_signing_secret
        if secret is None or not secret.get_secret_value().strip():
            return None
        return SlackRequestVerifier(secret.get_secret_value())

    @cached_property
    def user_groups(self) -> UserGroups | None:
        """Slack user groups (cached members), for approvers named by group; None without Slack."""
        client = self.slack_web
        return None if client is None else SlackUserGroups(client, telemetry=self.telemetry)

    @cached_property
    def metrics(self) -> MetricsSource:
        if self.settings.prometheus_url:
            return PrometheusMetricsSource(self.settings.prometheus_url)
        return UnconfiguredMetricsSource()

    @cached_property
    def signals(self) -> Catalogue:
        """The signal catalogue with the user's overrides; a bad entry raises CatalogueError."""
        return load_catalogue(self.settings.signals_file)

    @cached_property
    def summariser(self) -> Summariser:
        if self.settings.llm_configured:
            return OpenAISummariser.from_settings(self.settings, telemetry=self.telemetry)
        return OfflineSummariser()

    @cached_property
    def alert_source(self) -> AlertSource | None:
        url = self.settings.alertmanager_url
        return AlertmanagerAlertSource(url) if url else None

    @cached_property
    def silences(self) -> SilenceManager:
        """Alertmanager's silences; without FIREBREAK_ALERTMANAGER_URL every call refuses."""
        url = self.settings.alertmanager_url
        return AlertmanagerSilences(url) if url else UnconfiguredSilences()

    @cached_property
    def runbooks(self) -> RunbookCatalog:
        """The runbook catalogue; a bad runbook raises RunbookError (file:line: reason)."""
        from bot.runbook.loader import load_directory

        return load_directory(self.settings.runbooks_dir)

    @cached_property
    def targets(self) -> TargetRegistry:
        """Targets from settings.targets_file (none when the file is absent)."""
        return build_targets(self.settings.targets_file)

    @cached_property
    def guards(self) -> Guards:
        from bot.adapters.redis_guards import RedisGuardStore

        return Guards(RedisGuardStore(self.redis), self.clock)

    @cached_property
    def runs(self) -> SqlRunStore:
        return SqlRunStore.on(self.store)

    def runbook_line(self, incident_id: int) -> tuple[str | None, int | None]:
        """The chat card's runbook line and the run awaiting approval, from the run store."""
        return card_state(self.runs.for_incident(incident_id))

    def run_stories(self, incident_id: int) -> list[dict[str, Any]]:
        """An incident's runs as summaries and postmortems read them."""
        return [run_story(run) for run in self.runs.for_incident(incident_id)]

    @cached_property
    def executor(self) -> RunbookExecutor:
        from bot.services.run_journal import StoreRunJournal

        journal = StoreRunJournal(self.store, self.clock)
        return RunbookExecutor(
            self.runs,
            self.targets,
            self.guards,
            self.metrics,
            journal,
            self.clock,
            dry_run=self.settings.dry_run,
            telemetry=self.telemetry,
        )

    @cached_property
    def remediation(self) -> Remediation:
        return Remediation(
            self.store,
            self.runs,
            self.runbooks,
            self.targets,
            self.guards,
            self.executor,
            self.tasks,
            self.clock,
            dry_run=self.settings.dry_run,
            tick_lease_s=self.settings.runbook_tick_lease_s,
            telemetry=self.telemetry,
            user_groups=self.user_groups,
        )

    @cached_property
    def runbook_previews(self) -> RunbookPreviews:
        planner = Planner(self.targets, self.guards)
        return RunbookPreviews(self.store, self.runs, self.runbooks, planner)

    def clock(self) -> datetime:
        return utc_now()
