"""Chaos fixtures: Firebreak's real processes (API, Celery worker, beat) on SQLite or on a
PostgreSQL server of the test's own, and a persistent redis-server of the test's own, chatting to
the loopback Slack server, with a loopback Prometheus that can hold a query (a window to kill a
worker in mid-triage).

Timings are shrunk so a fault heals within seconds: the broker hides an unacknowledged task for
12 s (a SIGKILLed worker's tasks run again after that) and a root-post claim expires after 8 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.adapters.sql_migrations import upgrade
from bot.adapters.sql_store import SqlStore
from bot.domain.timeline import EventKind
from bot.settings import Settings
from tests.payloads import alert, body, group
from tests.postgres_server import PostgresServer
from tests.processes import ApiServer, ChildProcess, start_api, start_firebreak, start_worker
from tests.redis_server import RedisServer
from tests.servers.empty_prometheus import EmptyPrometheus
from tests.servers.slack import BOT_TOKEN, SlackServer

WEBHOOK_TOKEN = "chaos-webhook-token"
CHANNEL = "C0CHAOS"


class _HoldingPrometheus(EmptyPrometheus):
    """Answers every Prometheus API query with no data; holds the next armed query a while."""

    server: _PrometheusServer

    def before_answer(self) -> None:
        self.server.held_query()


class _PrometheusServer(ThreadingHTTPServer):
    daemon_threads = True
    hold_s = 0.0
    holding = threading.Event()

    def held_query(self) -> None:
        if self.hold_s > 0:
            hold_s, self.hold_s = self.hold_s, 0.0
            self.holding.set()
            time.sleep(hold_s)


@dataclass
class Chaos:
    """A running stack under test, and the means to hurt it."""

    settings: Settings
    api: ApiServer
    redis: RedisServer
    slack: SlackServer
    prometheus: _PrometheusServer
    log_dir: Path
    workers: list[ChildProcess] = field(default_factory=list)
    beat: ChildProcess | None = None
    postgres: PostgresServer | None = None

    @property
    def store(self) -> SqlStore:
        return self.api.container.store

    def post_alert(self, name: str, base_url: str = "", timeout_s: float = 10) -> int:
        """Deliver one group with one alert on a model of its own (incidents on one model form
        a storm, which chat summarises); a refused or cut connection answers 0."""
        payload = group(alert(fingerprint=name, model_name=name), group_key=f"group-{name}")
        for labels in (payload["groupLabels"], payload["commonLabels"]):
            labels["model_name"] = name
        return self.post_group(payload, base_url, timeout_s)

    def post_group(self, payload: dict[str, Any], base_url: str = "", timeout_s: float = 10) -> int:
        """Deliver one Alertmanager group; a refused or cut connection answers 0."""
        try:
            response = httpx.post(
                f"{base_url or self.api.url}/webhooks/alertmanager",
                content=body(payload),
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {WEBHOOK_TOKEN}",
                },
                timeout=timeout_s,
            )
        except httpx.TransportError:
            return 0
        return response.status_code

    def start_worker(self) -> ChildProcess:
        worker = start_worker(self.settings, self.log_dir)
        self.workers.append(worker)
        return worker

    def kill_worker(self, worker: ChildProcess) -> None:
        """SIGKILL a worker and its pool processes at once, as the OOM killer takes a container."""
        children = subprocess.run(
            ["pgrep", "-P", str(worker.process.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        for pid in [worker.process.pid, *map(int, children)]:
            os.kill(pid, signal.SIGKILL)
        worker.process.wait(timeout=15)

    def hold_next_query(self, hold_s: float) -> threading.Event:
        """Hold the next Prometheus query `hold_s`; the event is set once one is held."""
        self.prometheus.holding.clear()
        self.prometheus.hold_s = hold_s
        return self.prometheus.holding

    def root_posts(self) -> dict[int, int]:
        """How many root messages Slack posted for each incident."""
        counts: dict[int, int] = {}
        for call in self.slack.calls_to("chat.postMessage"):
            payload = (call.body.get("metadata") or {}).get("event_payload") or {}
            if not call.body.get("thread_ts") and "incident_id" in payload:
                incident_id = int(payload["incident_id"])
                counts[incident_id] = counts.get(incident_id, 0) + 1
        return counts

    def settled(self, incidents: int) -> bool:
        """Every incident is triaged and its root message saved."""
        with self.store.transaction() as tx:
            found = tx.incidents.list()
            if len(found) < incidents:
                return False
            return all(
                tx.triages.get(i.id) is not None and tx.chat_states.get(i.id).ref
                for i in found
                if i.id is not None
            )

    def assert_exactly_once(self, alerts: int) -> None:
        """Every accepted alert stored once, one incident each, each triaged and posted once,
        and the message the incident points at is the one posted. A triage that finished while
        the broker was away could not be acknowledged and runs again, but its copy finds its
        token spent and writes nothing: once means once."""
        posts = self.root_posts()
        with self.store.transaction() as tx:
            incidents = tx.incidents.list()
            assert len(incidents) == alerts
            for incident in incidents:
                assert incident.id is not None
                assert len(tx.alerts.for_incident(incident.id)) == 1
                triaged = [
                    e for e in tx.timeline.for_incident(incident.id) if e.kind == EventKind.TRIAGED
                ]
                assert len(triaged) == 1, f"INC-{incident.id} triaged {len(triaged)} times"
                assert posts.get(incident.id) == 1, f"INC-{incident.id} posted {posts}"
                ref = tx.chat_states.get(incident.id).ref
                assert ref is not None
                assert self.slack.message(ref.channel, ref.ts)


@contextmanager
def running_stack(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    database_url: str,
    postgres: PostgresServer | None = None,
    **overrides: Any,
) -> Iterator[Chaos]:
    """API, one worker and beat on `database_url` and a persistent private Redis, with any
    further settings in `overrides`; everything stopped afterwards."""
    slack = SlackServer.start()
    prometheus = _PrometheusServer(("127.0.0.1", 0), _HoldingPrometheus)
    threading.Thread(target=prometheus.serve_forever, kwargs={"poll_interval": 0.05}).start()
    redis = RedisServer(tmp_path / "redis", appendonly=True)
    upgrade(database_url)
    host, port = prometheus.server_address[:2]
    settings = make_settings(
        database_url=database_url,
        redis_url=redis.start(),
        webhook_token=WEBHOOK_TOKEN,
        slack_bot_token=BOT_TOKEN,
        slack_api_url=slack.api_url,
        slack_channel=CHANNEL,
        prometheus_url=f"http://{host!s}:{port}",
        triage_follow_up_s=0,
        outbox_relay_interval_s=1.0,
        broker_visibility_timeout_s=12.0,
        chat_claim_lease_s=8.0,
        slack_rate_per_s=20.0,
        slack_burst=20,
        **overrides,
    )
    api = start_api(settings)
    stack = Chaos(settings, api, redis, slack, prometheus, tmp_path / "logs", postgres=postgres)
    try:
        stack.start_worker()
        stack.beat = start_firebreak(["beat"], settings, stack.log_dir)
        yield stack
    finally:
        for child in [*stack.workers, *([stack.beat] if stack.beat else [])]:
            child.stop()
        api.stop()
        redis.stop()
        prometheus.shutdown()
        prometheus.server_close()
        slack.stop()


@pytest.fixture
def chaos(make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[Chaos]:
    """The stack on SQLite."""
    with running_stack(make_settings, tmp_path, f"sqlite:///{tmp_path / 'firebreak.db'}") as stack:
        yield stack


@pytest.fixture
def chaos_on_postgres(make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[Chaos]:
    """The stack on a PostgreSQL server of the test's own, which the test may stop and start."""
    postgres = PostgresServer()
    try:
        with running_stack(make_settings, tmp_path, postgres.start(), postgres) as stack:
            yield stack
    finally:
        postgres.remove()
