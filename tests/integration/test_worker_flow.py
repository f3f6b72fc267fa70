"""Webhook → outbox → real Redis → real Celery worker → chat, including broker and worker faults."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bot.domain.storms import LOUD_MEMBERS
from bot.settings import Settings
from tests.integration.conftest import API_TOKEN, WEBHOOK_TOKEN
from tests.payloads import alert, body, group
from tests.processes import ApiServer, free_port, start_api, start_firebreak, start_worker, wait_for
from tests.redis_server import RedisServer

HOOK = {"Content-Type": "application/json", "Authorization": f"Bearer {WEBHOOK_TOKEN}"}
API = {"Authorization": f"Bearer {API_TOKEN}"}


def chat_lines(settings: Settings, verb: str) -> list[str]:
    log = settings.chat_log_path
    if not log.exists() or log.is_fifo():
        return []
    return [line for line in log.read_text().splitlines() if line.startswith(f"--- {verb} ")]


def post_alert(api: ApiServer, fingerprint: str) -> httpx.Response:
    payload = group(alert(fingerprint=fingerprint), group_key=f"group-{fingerprint}")
    return httpx.post(
        f"{api.url}/webhooks/alertmanager", content=body(payload), headers=HOOK, timeout=10
    )


@pytest.fixture
def running(api_settings: Settings, api: ApiServer, tmp_path: Path) -> Iterator[ApiServer]:
    worker = start_worker(api_settings, tmp_path / "logs")
    yield api
    worker.stop()


def test_alert_reaches_chat_once_and_ack_edits_in_place(
    running: ApiServer, api_settings: Settings
) -> None:
    """One root message per incident; acknowledging edits it rather than posting again."""
    assert post_alert(running, "a1").status_code == 200
    running.normalise()
    wait_for(lambda: chat_lines(api_settings, "post"), timeout_s=20)
    httpx.post(f"{running.url}/api/v1/incidents/1/ack", headers=API, json={"actor": "alice"})
    # The root message is edited (the diagnosis may edit it first), never posted again.
    wait_for(lambda: "status=acknowledged" in api_settings.chat_log_path.read_text(), timeout_s=20)
    assert chat_lines(api_settings, "update")
    assert len(chat_lines(api_settings, "post")) == 1
    wait_for(lambda: pending_outbox(running) == 0, timeout_s=20)
    with running.container.store.transaction() as tx:
        assert tx.chat_states.get(1).ref is not None


def test_duplicate_tasks_post_one_root_message(running: ApiServer, api_settings: Settings) -> None:
    """The same process task delivered five times (at-least-once) posts one root message."""
    post_alert(running, "dup")
    running.normalise()
    for _ in range(5):
        running.container.tasks.enqueue("firebreak.incidents.process", [1])
    wait_for(lambda: chat_lines(api_settings, "post"), timeout_s=20)
    wait_for(lambda: running.container.redis.llen("ingest") == 0, timeout_s=20)
    assert len(chat_lines(api_settings, "post")) == 1


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own that it can stop and start again on one port."""
    server = RedisServer(tmp_path / "redis", appendonly=True)
    yield server
    server.stop()


def test_broker_outage_loses_nothing(
    make_settings: Callable[..., Settings],
    database_url: str,
    private_redis: RedisServer,
    tmp_path: Path,
) -> None:
    """Alerts posted while Redis is down are accepted (200) and processed once it returns."""
    redis_url = private_redis.start()
    settings = make_settings(
        database_url=database_url,
        redis_url=redis_url,
        webhook_token=WEBHOOK_TOKEN,
        outbox_relay_interval_s=1.0,
    )
    api = start_api(settings)
    worker = start_worker(settings, tmp_path / "logs")
    beat = start_firebreak(["beat"], settings, tmp_path / "logs")
    try:
        private_redis.stop()
        answers = [post_alert(api, f"outage-{i}").status_code for i in range(5)]
        assert answers == [200] * 5
        api.normalise()
        with api.container.store.transaction() as tx:
            assert tx.outbox.count_pending() == 10  # process + triage per incident
        ready = httpx.get(f"{api.url}/readyz")  # still ready: the webhook needs no broker
        assert ready.status_code == 200
        assert ready.json()["checks"]["broker"].startswith("unavailable")
        private_redis.start()
        # One model's five incidents are a storm: LOUD_MEMBERS root posts, the rest one line
        # each in the lead's thread.
        wait_for(
            lambda: (
                len(chat_lines(settings, "post")) == LOUD_MEMBERS
                and settings.chat_log_path.read_text().count("joined the storm") == 5 - LOUD_MEMBERS
            ),
            timeout_s=60,
        )
        # Triages still settling queue their chat updates after the lines are out; every row
        # the outage held, and every one queued since, is relayed.
        wait_for(lambda: pending_outbox(api) == 0, timeout_s=30)
    finally:
        beat.stop()
        worker.stop()
        api.stop()


def pending_outbox(api: ApiServer) -> int:
    with api.container.store.transaction() as tx:
        return tx.outbox.count_pending()


def test_database_down_answers_503(make_settings: Callable[..., Settings], redis_url: str) -> None:
    """With the database unreachable the webhook answers 503 so Alertmanager retries."""
    closed = free_port()
    settings = make_settings(
        database_url=f"postgresql://postgres@127.0.0.1:{closed}/firebreak", redis_url=redis_url
    )
    api = start_api(settings)
    try:
        response = post_alert(api, "db-down")
        assert response.status_code == 503
        assert "database unavailable" in response.text
        assert httpx.get(f"{api.url}/readyz").json()["checks"]["database"].startswith("unavailable")
    finally:
        api.stop()


def test_worker_killed_mid_post_never_posts_twice(
    make_settings: Callable[..., Settings], database_url: str, redis_url: str, tmp_path: Path
) -> None:
    """A worker process SIGKILLed while posting is replaced and the task redelivered; the
    ledger claim made before the post keeps the redelivered task from posting a second time."""
    settings = make_settings(
        database_url=database_url, redis_url=redis_url, webhook_token=WEBHOOK_TOKEN
    )
    settings.home.mkdir(parents=True, exist_ok=True)
    os.mkfifo(settings.chat_log_path)  # opening it blocks: the post is caught half-way
    api = start_api(settings)
    worker = start_worker(settings, tmp_path / "logs")
    try:
        post_alert(api, "killed")
        api.normalise()

        def root_post_state() -> str | None:
            with api.container.store.transaction() as tx:
                return tx.ledger.state(1, "chat:root")

        wait_for(lambda: root_post_state() == "claimed", timeout_s=20)
        children = subprocess.run(
            ["pgrep", "-P", str(worker.process.pid)], capture_output=True, text=True, check=True
        ).stdout.split()
        for pid in children:
            os.kill(int(pid), signal.SIGKILL)
        wait_for(lambda: "WorkerLostError" in worker.log(), timeout_s=20)
        wait_for(lambda: worker.log().count("Task firebreak.incidents.process") >= 2, timeout_s=30)
        wait_for(lambda: "succeeded" in worker.log(), timeout_s=30)
        assert root_post_state() == "claimed"
        assert settings.chat_log_path.is_fifo()  # nothing ever opened it to write a post
    finally:
        worker.stop()
        api.stop()
