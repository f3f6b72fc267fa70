"""One Settings object (env prefix FIREBREAK_), built once at process start and passed down."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.summary.pricing import ModelPrice

DEFAULT_HOME = Path(".firebreak")
PROJECT_ROOT = Path(__file__).resolve().parents[1]  # the shipped runbooks and targets live here
_PLACEHOLDERS = {"changeme", "change-me", "changethis", "secret", "token", "xxx"}
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}


def mask_url(url: str) -> str:
    """`url` with any password replaced by `***`, for printing and logging."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def is_loopback(host: str) -> bool:
    """Whether `host` (a --host value) only listens on this machine."""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


class Settings(BaseSettings):
    """Every knob Firebreak reads; empty means 'use the embedded default'."""

    model_config = SettingsConfigDict(
        env_prefix="FIREBREAK_", extra="ignore", env_ignore_empty=True
    )

    home: Path = DEFAULT_HOME
    database_url: str = ""
    redis_url: str = ""
    webhook_token: SecretStr | None = None
    api_token: SecretStr | None = None
    api_url: str = ""  # where `gate check` and `changes record` ask; else the local database
    prometheus_url: str = ""
    alertmanager_url: str = ""
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = ""
    slack_channel: str = "#incidents"
    slack_approvers: str = ""
    slack_operators: str = ""
    slack_rate_per_s: float = 1.0
    slack_burst: int = 3
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("FIREBREAK_LLM_API_KEY", "OPENAI_API_KEY")
    )
    # JSON {"model": {"input_per_mtok": x, "output_per_mtok": y}}: US dollars per 1M tokens
    llm_prices: dict[str, ModelPrice] = Field(default_factory=dict)
    triage_baseline_s: float = 1800.0
    triage_lead_s: float = 600.0
    triage_step_s: float | None = None
    triage_rate_window_s: float = 60.0
    triage_follow_up_s: float = 120.0
    signals_file: Path | None = None  # overrides merged over the shipped signal catalogue
    llm_timeout_s: float = 30.0
    llm_incident_token_budget: int = 60_000
    runbooks_dir: Path = PROJECT_ROOT / "runbooks"
    targets_file: Path = PROJECT_ROOT / "deploy" / "targets.yml"
    dry_run: bool = False
    allow_anonymous: bool = False  # serve a non-loopback address without webhook and API tokens
    retention_deliveries_days: float = 14.0  # normalised deliveries (body, hash); 0 keeps all
    retention_outbox_days: float = 7.0  # dispatched outbox rows; 0 keeps all
    retention_timeline_days: float = 0.0  # timelines of incidents resolved this long ago; 0 keeps
    retention_interval_s: float = 3600.0
    retention_batch: int = 1000
    runbook_tick_lease_s: float = 60.0
    runbook_sweep_interval_s: float = 15.0

    max_body_bytes: int = 1024 * 1024
    reopen_window_s: float = 30 * 60
    outbox_relay_interval_s: float = 5.0
    reconcile_interval_s: float = 60.0
    # How long Redis hides a delivered, unacknowledged task before handing it to another worker:
    # the delay before a SIGKILLed worker's tasks run again. Task time limits and countdowns
    # held in the broker stay below it (workers/app.py).
    broker_visibility_timeout_s: float = 300.0
    chat_claim_lease_s: float = 60.0  # an open root-post claim older than this is taken over
    # How much lower the worker's CPU priority is than the API's (a nice increment, 0 to 19):
    # on a machine they share, accepting alerts never waits for background work.
    worker_nice: int = Field(0, ge=0, le=19)

    @field_validator("webhook_token", "api_token", "slack_signing_secret")
    @classmethod
    def _refuse_placeholders(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDERS:
            raise ValueError("is a placeholder; set a real secret")
        return value

    @property
    def missing_tokens(self) -> list[str]:
        """The tokens a non-loopback listener lacks (empty when both are set)."""
        return [
            f"FIREBREAK_{name.upper()}"
            for name in ("webhook_token", "api_token")
            if getattr(self, name) is None
        ]

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'firebreak.db').resolve()}"

    @property
    def chat_log_path(self) -> Path:
        return self.home / "slack.log"

    @property
    def slack_approver_ids(self) -> list[str]:
        """Slack user or user-group ids who may approve runs (comma-separated setting)."""
        return [p.strip() for p in self.slack_approvers.split(",") if p.strip()]

    @property
    def slack_operator_ids(self) -> list[str]:
        """Slack user or user-group ids who may start runbooks and pause automation."""
        return [p.strip() for p in self.slack_operators.split(",") if p.strip()]

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None

    @property
    def postmortem_dir(self) -> Path:
        return self.home / "postmortems"

    @property
    def llm_configured(self) -> bool:
        """A model to ask, and where: FIREBREAK_LLM_BASE_URL, or an API key for the provider's
        own URL (the SDK's default; OPENAI_BASE_URL is honoured as the SDK honours it)."""
        return bool(self.llm_model and (self.llm_base_url or self.llm_api_key))

    def as_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment that makes a child process build these same Settings.

        `base` (default: this process's environment) is kept, less its FIREBREAK_ variables.
        """
        env = {k: v for k, v in (base or os.environ).items() if not k.startswith("FIREBREAK_")}
        for name, value in self.model_dump().items():
            if value is None or value == "":
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if isinstance(value, dict | list):
                value = json.dumps(value) if value else ""
            if value != "":
                env[f"FIREBREAK_{name.upper()}"] = str(value)
        return env
