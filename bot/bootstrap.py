"""The composition root: the one place that builds adapters from Settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

import redis
from celery import Celery

from bot.adapters.alertmanager import AlertmanagerAlertSource
from bot.adapters.celery_queue import CeleryTaskQueue
from bot.adapters.console_chat import ConsoleChatClient
from bot.adapters.openai_summariser import OpenAISummariser
from bot.adapters.redis_task_metrics import RedisTaskMetrics
from bot.adapters.sql_store import SqlStore
from bot.adapters.prometheus import PrometheusMetricsSource
from bot.adapters.unconfigured_metrics import UnconfiguredMetricsSource
from bot.ports import AlertSource, ChatClient, MetricsSource, Summariser, TaskQueue
from bot.settings import Settings
from bot.summary.offline import OfflineSummariser


def utc_now() -> datetime:
    return datetime.now(UTC)


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


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
    def celery(self) -> Celery:
        from workers.app import create_celery

        return create_celery(self.settings)

    @cached_property
    def tasks(self) -> TaskQueue:
        return CeleryTaskQueue(self.celery)

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=2)

    @cached_property
    def task_metrics(self) -> RedisTaskMetrics:
        return RedisTaskMetrics(self.redis)

    @cached_property
    def chat(self) -> ChatClient:
        return ConsoleChatClient(self.settings.chat_log_path, self.settings.slack_channel)

    @cached_property
    def metrics(self) -> MetricsSource:
        if self.settings.prometheus_url:
            return PrometheusMetricsSource(self.settings.prometheus_url)
        return UnconfiguredMetricsSource()

    @cached_property
    def summariser(self) -> Summariser:
        if self.settings.llm_configured:
            return OpenAISummariser.from_settings(self.settings)
        return OfflineSummariser()

    @cached_property
    def alert_source(self) -> AlertSource | None:
        url = self.settings.alertmanager_url
        return AlertmanagerAlertSource(url) if url else None

    def clock(self) -> datetime:
        return utc_now()
