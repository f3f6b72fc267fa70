"""Firebreak's own metrics: what any process records reaches the API's /metrics through Redis,
what the database and broker hold is read at scrape time, and every stage shows after one
pass through the whole stack (a real Celery worker, the loopback Slack and OpenAI servers, the
simulator's control API)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot.adapters.redis_telemetry import PRIORITY_SEPARATOR, RedisTelemetry
from bot.adapters.sql_backlog import SqlBacklog
from bot.adapters.sql_intake import SqlDeliveryIntake
from bot.adapters.sql_migrations import upgrade
from bot.adapters.sql_runs import SqlRunStore
from bot.adapters.sql_store import SqlStore
from bot.demo.fast_runbooks import write_fast_runbooks, write_targets
from bot.domain.deliveries import RawDelivery
from bot.domain.errors import UpstreamUnavailableError
from bot.domain.incidents import Incident, IncidentStatus, Severity
from bot.domain.runbooks import Run, RunState
from bot.domain.telemetry import (
    CATALOGUE,
    CHAT_CALLS,
    STAGES,
    TASK_SECONDS,
    TRIAGE_NO_DATA,
    MetricKind,
)
from bot.settings import Settings
from bot.web.app import create_app
from simulator.server import RunningSimulator, start_in_thread
from tests.integration.conftest import API_TOKEN, WEBHOOK_TOKEN
from tests.payloads import alert, body, group
from tests.processes import ApiServer, start_api, start_worker, wait_for
from tests.servers.openai import OpenAIServer, reply_json, reply_status
from tests.servers.slack import BOT_TOKEN, SlackServer
from workers.routes import QUEUES

HOOK = {"Content-Type": "application/json", "Authorization": f"Bearer {WEBHOOK_TOKEN}"}
API = {"Authorization": f"Bearer {API_TOKEN}"}
MODEL = "llama-3-70b-instruct"
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(text: str) -> tuple[set[str], Samples]:
    """The families a /metrics page declares, and every sample by name and sorted labels."""
    families, samples = set(), {}
    for family in text_string_to_metric_families(text):
        families.add(family.name)
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return families, samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels`."""
    return sum(
        value
        for (sample, held), value in samples.items()
        if sample == name and labels.items() <= dict(held).items()
    )


# ---- the adapters ---------------------------------------------------------------------------


def test_what_one_process_records_another_reads(redis_url: str) -> None:
    """Counts and observations made through one client are read back through another, with a
    histogram's buckets cumulated and its +Inf count, sum and labels intact."""
    worker = RedisTelemetry(redis.Redis.from_url(redis_url))
    api = RedisTelemetry(redis.Redis.from_url(redis_url))
    chat = {"chat": "slack", "method": "chat.postMessage"}
    worker.count(CHAT_CALLS, {**chat, "result": "ok"})
    worker.count(CHAT_CALLS, {**chat, "result": "ok"}, 2)
    worker.count(CHAT_CALLS, {**chat, "result": "rate_limited"})
    task = {"task": "firebreak.triage.incident", "queue": "triage"}
    for duration_s in (0.03, 0.2, 0.2, 99.0):
        worker.observe(TASK_SECONDS, duration_s, task)
    recorded = api.recorded()
    calls = {s.labels: s.value for s in recorded[CHAT_CALLS.name]}
    assert calls == {
        ("slack", "chat.postMessage", "ok"): 3.0,
        ("slack", "chat.postMessage", "rate_limited"): 1.0,
    }
    [series] = recorded[TASK_SECONDS.name]
    assert series.labels == ("firebreak.triage.incident", "triage")
    assert series.value == 4.0
    assert series.sum == pytest.approx(99.43)
    by_bound = dict(zip(TASK_SECONDS.buckets, series.buckets, strict=True))
    assert (by_bound[0.01], by_bound[0.05], by_bound[0.25], by_bound[30.0]) == (0, 1, 3, 3)
    assert recorded[TRIAGE_NO_DATA.name] == []


def test_wrong_labels_are_refused() -> None:
    """A call with another family's labels is a bug and fails loudly, before any I/O."""
    telemetry = RedisTelemetry(redis.Redis(host="127.0.0.1", port=9))
    with pytest.raises(ValueError, match="takes labels"):
        telemetry.count(CHAT_CALLS, {"method": "chat.update"})
    with pytest.raises(ValueError, match="not a counter"):
        telemetry.count(TASK_SECONDS, {"task": "t", "queue": "q"})


def test_recording_without_redis_never_raises_and_pauses() -> None:
    """With Redis unreachable a stage is never stopped by its metrics: the sample is dropped
    and recording pauses, so later samples cost nothing; reading says it is unavailable."""
    telemetry = RedisTelemetry.from_url("redis://127.0.0.1:9/0")
    labels = {"chat": "console", "method": "chat.update", "result": "ok"}
    telemetry.count(CHAT_CALLS, labels)
    started = time.perf_counter()
    for _ in range(100):
        telemetry.count(CHAT_CALLS, labels)
        telemetry.observe(TASK_SECONDS, 0.1, {"task": "t", "queue": "q"})
    assert time.perf_counter() - started < 0.1
    with pytest.raises(UpstreamUnavailableError):
        telemetry.recorded()
    with pytest.raises(UpstreamUnavailableError):
        telemetry.queue_depths(QUEUES)


def test_queue_depth_counts_every_priority_list(redis_url: str) -> None:
    """A queue's depth is its messages at every priority kombu keeps, and 0 for an empty one."""
    client = redis.Redis.from_url(redis_url)
    client.rpush("triage", "a", "b")
    client.rpush(f"triage{PRIORITY_SEPARATOR}6", "c")
    client.rpush("llm", "d")
    depths = RedisTelemetry(client).queue_depths(QUEUES)
    assert depths == {queue: 0 for queue in QUEUES} | {"triage": 3, "llm": 1}


def _incident(status: IncidentStatus, key: str) -> Incident:
    return Incident(0, "firebreak", key, "t", Severity.WARNING, status, NOW)


def test_backlog_reads_each_stage_from_the_database(database_url: str) -> None:
    """Incidents by status, pending deliveries and due outbox rows with their oldest age (work
    delayed into the future is not late), and runs by runbook and state."""
    store = SqlStore.from_url(database_url)
    with store.transaction() as tx:
        for n, status in enumerate([IncidentStatus.TRIGGERED] * 2 + [IncidentStatus.RESOLVED]):
            incident_id = tx.incidents.add(_incident(status, f"g{n}")).id
        tx.outbox.add("firebreak.incidents.process", [1])
        tx.outbox.add("firebreak.triage.incident", [1], delay_s=3600)
    intake = SqlDeliveryIntake(store)

    async def accept() -> None:
        received = datetime.now(UTC) - timedelta(seconds=30)
        await intake.accept(RawDelivery("d1", "firebreak", "g", b"{}", received))
        await intake.close()

    asyncio.run(accept())
    runs = SqlRunStore.on(store)
    run = Run(
        incident_id=incident_id,
        runbook="rollback",
        target=MODEL,
        model=MODEL,
        steps=[],
        approval_required=True,
        cooldown_s=60,
        max_runs_per_hour=1,
        lock_ttl_s=60,
        created_at=NOW,
        state=RunState.SUCCEEDED,
    )
    runs.add(run)
    later = datetime.now(UTC) + timedelta(seconds=90)
    reader = SqlBacklog(store)
    backlog = reader.backlog(later)
    assert backlog.incidents == {"triggered": 2, "resolved": 1}
    assert backlog.deliveries_pending == 1
    assert 119 < backlog.deliveries_oldest_age_s < 150
    assert backlog.outbox_pending == 1
    assert 89 < backlog.outbox_oldest_age_s < 120
    assert backlog.runs == {("rollback", "succeeded"): 1}
    with store.transaction() as tx:
        tx.outbox.mark_dispatched([row for row, _, _ in tx.outbox.pending()])
        tx.deliveries.mark_normalised([1], NOW)
    drained = reader.backlog(later)
    store.dispose()
    assert (drained.outbox_pending, drained.deliveries_pending) == (0, 0)
    assert (drained.outbox_oldest_age_s, drained.deliveries_oldest_age_s) == (0.0, 0.0)


def test_metrics_answer_with_redis_down(
    make_settings: Callable[..., Settings], sqlite_url: str
) -> None:
    """With Redis unreachable /metrics still answers 200 with what the database holds and the
    webhook's own counts, and leaves out only what Redis keeps."""
    upgrade(sqlite_url)
    settings = make_settings(database_url=sqlite_url, redis_url="redis://127.0.0.1:9/0")
    with TestClient(create_app(settings)) as client:
        client.post("/webhooks/alertmanager", content=b"[", headers=HOOK)
        answer = client.get("/metrics")
    assert answer.status_code == 200
    families, samples = scrape(answer.text)
    assert total(samples, "firebreak_incidents", status="triggered") == 0
    assert total(samples, "firebreak_webhook_deliveries_total", outcome="refused") == 1
    assert total(samples, "firebreak_webhook_duration_seconds_count") == 1
    assert "firebreak_celery_queue_depth" not in families
    assert "firebreak_tasks" not in families


# ---- every stage, through the whole stack ---------------------------------------------------


@pytest.fixture
def simulator() -> Iterator[RunningSimulator]:
    running = start_in_thread(seed=5, speed=1.0)
    yield running
    running.stop()


@pytest.fixture
def llm() -> Iterator[OpenAIServer]:
    with OpenAIServer(default=reply_json(_summary_answer(), model="m")) as server:
        yield server


def _summary_answer() -> dict[str, Any]:
    return {
        "what_happened": "LLMModelDrift fired on llama-3-70b-instruct.",
        "impact": "Answers of llama-3-70b-instruct drifted.",
        "suspected_cause": {"text": "A bad deploy.", "kind": "bad_deploy", "confidence": None},
        "actions_taken": ["The model was rolled back."],
        "current_state": "Resolved.",
        "next_steps": ["Review the deploy."],
    }


@pytest.fixture
def stack(
    make_settings: Callable[..., Settings],
    sqlite_url: str,
    redis_url: str,
    simulator: RunningSimulator,
    slack: SlackServer,
    llm: OpenAIServer,
    tmp_path: Path,
) -> Iterator[ApiServer]:
    """The API and one real worker: runbooks on the simulator, Slack and an LLM on loopback."""
    upgrade(sqlite_url)
    settings = make_settings(
        database_url=sqlite_url,
        redis_url=redis_url,
        webhook_token=WEBHOOK_TOKEN,
        api_token=API_TOKEN,
        runbooks_dir=write_fast_runbooks(tmp_path / "runbooks", without_verify=["rollback"]),
        targets_file=write_targets(tmp_path / "targets.yml", simulator.url),
        slack_bot_token=BOT_TOKEN,
        slack_api_url=slack.api_url,
        slack_channel="C0INCIDENTS",
        llm_base_url=llm.base_url,
        llm_model="m",
        llm_prices={"m": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}},
    )
    api = start_api(settings)
    worker = start_worker(settings, tmp_path / "logs")
    yield api
    worker.stop()
    api.stop()


def _runs(api: ApiServer, incident_id: int) -> list[dict[str, Any]]:
    url = f"{api.url}/api/v1/incidents/{incident_id}/runbook-runs"
    runs: list[dict[str, Any]] = httpx.get(url, headers=API).json()
    return runs


def _metrics(api: ApiServer) -> tuple[set[str], Samples]:
    return scrape(httpx.get(f"{api.url}/metrics").text)


def test_every_stage_shows_on_metrics(
    stack: ApiServer,
    simulator: RunningSimulator,
    slack: SlackServer,
    llm: OpenAIServer,
) -> None:
    """Two drift incidents on one model, the first rolled back after approval and resolved:
    the API's /metrics shows the webhook's own counts, the worker's triage, runbook, guard,
    Slack (a 429 and its Retry-After), LLM and task counts, and the database's and broker's
    state, every catalogued family declared and every stage non-zero."""
    api = stack.url
    slack.rate_limit(1, retry_after_s=1)  # Slack's first answer is a 429
    llm.script(reply_status(429, "slow down", retry_after_s=0.1))  # so is the LLM's
    httpx.post(f"{simulator.url}/faults", json={"kind": "bad_deploy", "model": MODEL})
    first = body(group(alert("LLMModelDrift"), group_key="drift-1"))
    for _ in range(2):  # Alertmanager's retry of the same body is a duplicate
        httpx.post(f"{api}/webhooks/alertmanager", content=first, headers=HOOK)
    stack.normalise()
    wait_for(lambda: [r for r in _runs(stack, 1) if r["state"] == "awaiting_approval"], 30)
    run_id = _runs(stack, 1)[0]["id"]
    decide = f"{api}/api/v1/incidents/1/runbook-runs/{run_id}/approve"
    httpx.post(decide, json={"actor": "alice"}, headers=API).raise_for_status()
    wait_for(lambda: _runs(stack, 1)[0]["state"] == "succeeded", 30)
    second = group(alert("LLMModelDrift", fingerprint="f2"), group_key="drift-2")
    httpx.post(f"{api}/webhooks/alertmanager", content=body(second), headers=HOOK)
    stack.normalise()
    httpx.post(f"{api}/api/v1/incidents/1/resolve", json={"actor": "bob"}, headers=API)

    def settled() -> Samples | None:
        _, samples = _metrics(stack)
        done = (
            total(samples, "firebreak_guard_refusals_total", guard="cooldown") >= 1
            and total(samples, "firebreak_llm_tokens_total") > 0
            and total(samples, "firebreak_triage_duration_seconds_count") >= 2
        )
        return samples if done else None

    wait_for(settled, timeout_s=40, interval_s=0.5)
    families, samples = _metrics(stack)

    assert {spec.name for spec in CATALOGUE} <= families
    for stage in STAGES:
        names = [n for spec in CATALOGUE if spec.stage == stage for n in spec.sample_names()]
        assert any(total(samples, name) > 0 for name in names), f"stage {stage} is all zero"

    deliveries = "firebreak_webhook_deliveries_total"
    assert total(samples, deliveries, outcome="accepted") == 2
    assert total(samples, deliveries, outcome="duplicate") == 1
    assert total(samples, "firebreak_webhook_duration_seconds_count") == 3
    assert total(samples, "firebreak_deliveries_normalised_total", result="normalised") == 2
    assert total(samples, "firebreak_incidents", status="resolved") == 1
    assert total(samples, "firebreak_incidents_open") == 1
    # No Prometheus is configured: triage says so (degraded) and counts the signals it lacked.
    assert total(samples, "firebreak_triage_duration_seconds_count", result="degraded") >= 2
    assert total(samples, "firebreak_triage_signal_no_data_total", status="unavailable") > 0
    assert total(samples, "firebreak_runbook_runs", runbook="rollback", state="succeeded") == 1
    rollback = {"runbook": "rollback", "action": "rollback"}
    assert total(samples, "firebreak_runbook_actions_total", **rollback, result="applied") == 1
    assert total(samples, "firebreak_guard_refusals_total", runbook="rollback") >= 1
    assert total(samples, "firebreak_chat_calls_total", chat="slack", result="rate_limited") == 1
    assert total(samples, "firebreak_chat_calls_total", chat="slack", result="ok") >= 2
    assert total(samples, "firebreak_chat_retry_after_seconds_count") == 1
    assert total(samples, "firebreak_chat_retry_after_seconds_sum") == 1.0
    assert total(samples, "firebreak_llm_calls_total", model="m", result="rate_limited") == 1
    ok = total(samples, "firebreak_llm_calls_total", model="m", result="ok")
    assert ok >= 1
    assert total(samples, "firebreak_llm_tokens_total", kind="prompt") == 1200 * ok
    assert total(samples, "firebreak_llm_tokens_total", kind="completion") == 180 * ok
    cost_usd = (1200 * 1.0 + 180 * 2.0) / 1e6
    assert total(samples, "firebreak_llm_cost_usd_total", model="m") == pytest.approx(cost_usd * ok)
    assert total(samples, "firebreak_llm_call_duration_seconds_count", model="m") == ok + 1
    assert total(samples, "firebreak_tasks_total", queue="triage", state="SUCCESS") >= 2
    assert total(samples, "firebreak_tasks_total", state="RETRY") >= 1  # after the Slack 429
    assert total(samples, "firebreak_task_duration_seconds_count", queue="actions") >= 1
    assert total(samples, "firebreak_tasks_sent_total", result="sent") > 0
    depths = {dict(labels)["queue"] for name, labels in samples if name.endswith("queue_depth")}
    assert depths == set(QUEUES)
    assert ("firebreak_outbox_oldest_pending_age_seconds", ()) in samples
    assert ("firebreak_deliveries_pending_oldest_age_seconds", ()) in samples
    kinds = {spec.kind for spec in CATALOGUE}
    assert kinds == set(MetricKind)
