"""The change gate on the real stack: the API served over HTTP on SQLite and PostgreSQL, incidents
opened by Alertmanager webhooks, freezes and exceptions from signed Slack commands, chat on the
loopback Slack Web API, and the `firebreak` CLI against both the API and the database.

One API serves every test of a database (starting one costs a second); each test works on
models of its own, so none sees another's incidents, changes or freezes.
"""

from __future__ import annotations

import getpass
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from sqlalchemy import select

from bot.adapters.sql_migrations import upgrade
from bot.adapters.sql_store import SqlStore
from bot.adapters.sql_tables import outbox
from bot.cli import build_parser
from bot.domain.alerts import AlertGroup, delivery_hash
from bot.domain.runbooks import Run
from bot.domain.task_names import TaskName
from bot.services.ingest_alerts import ingest_alerts
from bot.services.process_incident import process_incident
from bot.services.run_journal import StoreRunJournal
from bot.settings import Settings
from tests.conftest import postgres_database
from tests.integration.conftest import API_TOKEN, WEBHOOK_TOKEN
from tests.payloads import alert, body, group
from tests.processes import ApiServer, start_api
from tests.servers.slack import BOT_TOKEN, SlackServer, signed_headers, slash_command_body

SIGNING_SECRET = "c0ffee5eed0ddba11deadbeefcafe123"
ALICE, BOB, EVE = "U0ALICE", "U0BOB", "U0EVE"  # approver, operator, neither
RERANKER = "reranker-v2"
API = {"Authorization": f"Bearer {API_TOKEN}"}
SCHEMA = Path(__file__).resolve().parents[2] / "bot" / "postmortem" / "postmortem.schema.json"


@dataclass
class Stack:
    api: ApiServer
    slack: SlackServer
    settings: Settings

    def open_incident(
        self, model: str, alertname: str = "LLMErrorRatioAfterDeploy", **labels: str
    ) -> int:
        """An Alertmanager group firing for `model`, through the webhook; answers INC-n's n."""
        payload = group(
            alert(alertname, fingerprint=uuid.uuid4().hex[:16], model_name=model, **labels),
            group_key=f'{{}}:{{alertname="{alertname}", model_name="{model}"}}',
        )
        payload["groupLabels"]["model_name"] = payload["commonLabels"]["model_name"] = model
        response = httpx.post(
            f"{self.api.url}/webhooks/alertmanager",
            content=body(payload),
            headers={
                "Authorization": f"Bearer {WEBHOOK_TOKEN}",
                "Content-Type": "application/json",
            },
        )
        assert response.status_code == 200, response.text
        self.api.normalise()
        listed = httpx.get(f"{self.api.url}/api/v1/incidents?status=open", headers=API).json()
        return next(int(i["id"]) for i in listed if i["labels"]["model_name"] == model)

    def gate(self, model: str) -> dict[str, Any]:
        response = httpx.get(f"{self.api.url}/api/v1/gate", params={"model": model}, headers=API)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def record(self, model: str, version: str, **fields: str) -> dict[str, Any]:
        sent = {"model": model, "version": version, "source": "https://ci/run/7", **fields}
        response = httpx.post(f"{self.api.url}/api/v1/changes", json=sent, headers=API)
        assert response.status_code == 201, response.text
        recorded: dict[str, Any] = response.json()
        return recorded

    def slack_command(self, text: str, user: str) -> str:
        """`/firebreak <text>` signed as Slack signs it; answers the ephemeral text."""
        sent = slash_command_body(text, user, self.slack.response_url(uuid.uuid4().hex[:8]))
        response = httpx.post(
            f"{self.api.url}/slack/events",
            content=sent,
            headers=signed_headers(SIGNING_SECRET, sent),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        answer: str = response.json()["text"]
        return answer

    def timeline(self, incident_id: int) -> list[dict[str, Any]]:
        url = f"{self.api.url}/api/v1/incidents/{incident_id}/timeline"
        events: list[dict[str, Any]] = httpx.get(url, headers=API).json()
        return events

    def run_process_tasks(self, incident_id: int) -> None:
        """Do what a worker does with the outbox's process tasks for this incident."""
        c = self.api.container
        query = select(outbox.c.args).where(outbox.c.task == TaskName.PROCESS_INCIDENT)
        with c.store.engine.connect() as conn:
            queued = [list(args) for args in conn.execute(query).scalars()]
        assert [incident_id] in queued  # relayed to the broker, or still pending
        process_incident(
            c.store, c.chat, c.tasks, incident_id, None, c.settings.slack_channel, c.runbook_line
        )

    def thread_lines(self) -> list[str]:
        posts = self.slack.calls_to("chat.postMessage")
        return [
            line for c in posts if c.body.get("thread_ts") for line in c.body["text"].split("\n")
        ]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    session_redis: str,
) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("gate")
    with ExitStack() as cleanup:
        if request.param == "sqlite":
            database_url = f"sqlite:///{home / 'firebreak.db'}"
        else:
            database_url = cleanup.enter_context(postgres_database())
        upgrade(database_url)
        slack = SlackServer.start()
        cleanup.callback(slack.stop)
        settings = _settings(home, database_url, session_redis, slack)
        api = start_api(settings)
        cleanup.callback(api.stop)
        yield Stack(api, slack, settings)


@pytest.fixture
def models() -> tuple[str, str]:
    """Two model names of this test's own: the one on fire, and another."""
    tag = uuid.uuid4().hex[:6]
    return f"reranker-{tag}", f"llama-{tag}"


def _settings(home: Path, database_url: str, redis_url: str, slack: SlackServer) -> Settings:
    return Settings(
        home=home / "home",
        database_url=database_url,
        redis_url=redis_url,
        webhook_token=WEBHOOK_TOKEN,
        api_token=API_TOKEN,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url,
        slack_channel="C0INCIDENTS",
        slack_approvers=ALICE,
        slack_operators=BOB,
    )


def test_an_open_incident_holds_its_model_until_resolved(
    stack: Stack, models: tuple[str, str]
) -> None:
    """An open incident closes its model's gate, naming the incident, and no other model's; a
    deploy recorded meanwhile is held with one line in the incident's thread however often it
    is retried; resolving opens the gate, and the next change lands on the incident's timeline
    and in its postmortem."""
    burning, other = models
    incident = stack.open_incident(burning)
    closed = stack.gate(burning)
    assert closed["allowed"] is False
    assert closed["reasons"][0].startswith(f"INC-{incident} open on {burning} (triggered)")
    assert stack.gate(other) == {"model": other, "allowed": True, "reasons": []}

    held = stack.record(burning, "2.4.1")
    assert (held["allowed"], held["held"], held["incidents"]) == (False, True, [f"INC-{incident}"])
    assert stack.record(burning, "2.4.1")["allowed"] is False  # the pipeline retries
    line = f"deploy of {burning} 2.4.1 held: INC-{incident} open"
    changes = [e for e in stack.timeline(incident) if e["kind"] == "change"]
    assert [e["message"] for e in changes] == [line]
    stack.run_process_tasks(incident)
    stack.run_process_tasks(incident)
    assert sum(posted.endswith(f" {line}") for posted in stack.thread_lines()) == 1

    resolved = httpx.post(f"{stack.api.url}/api/v1/incidents/{incident}/resolve", headers=API)
    assert resolved.status_code == 200
    assert stack.gate(burning)["allowed"] is True
    shipped = stack.record(burning, "2.4.2")
    assert (shipped["allowed"], shipped["incidents"]) == (True, [f"INC-{incident}"])
    recorded = f"{shipped['ref']}: deploy of {burning} 2.4.2 by api (https://ci/run/7)"
    assert recorded in [e["message"] for e in stack.timeline(incident)]

    postmortem = f"{stack.api.url}/api/v1/incidents/{incident}/postmortem"
    document = httpx.get(postmortem, params={"format": "json"}, headers=API).json()
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    rows = [r for r in document["timeline"] if r["kind"] == "change"]
    assert [r["message"] for r in rows] == [line, recorded]
    for fmt in ("md", "html"):
        text = httpx.get(postmortem, params={"format": fmt}, headers=API).text
        assert f"deploy of {burning} 2.4.2" in text


def test_a_paging_burn_keeps_the_gate_closed_after_its_incident_is_resolved(
    stack: Stack, models: tuple[str, str]
) -> None:
    """An incident resolved by hand while its TTFT fast burn (critical, `slo`) still fires
    leaves the gate closed, naming the alert; a warning-level burn does not close it."""
    burning, other = models
    paging = stack.open_incident(burning, "LLMTTFTErrorBudgetBurn", slo="ttft")
    ticket = stack.open_incident(other, "LLMTTFTErrorBudgetBurn", slo="ttft", severity="warning")
    for incident in (paging, ticket):
        resolved = httpx.post(f"{stack.api.url}/api/v1/incidents/{incident}/resolve", headers=API)
        assert resolved.status_code == 200
    gate = stack.gate(burning)
    assert gate["allowed"] is False
    assert gate["reasons"] == [
        f"LLMTTFTErrorBudgetBurn firing for {burning} (severity critical, SLO ttft, INC-{paging})"
    ]
    assert stack.gate(other)["allowed"] is True


def test_freeze_from_slack_blocks_and_unfreeze_lifts_it(
    stack: Stack, models: tuple[str, str]
) -> None:
    """An operator's freeze of one model closes only its gate, a freeze of all closes every
    gate; a stranger cannot lift it, the operator can."""
    burning, other = models
    frozen = stack.slack_command(f"freeze {burning} 2h release train", BOB)
    assert frozen.startswith(f"Frozen: {burning} frozen until")
    gate = stack.gate(burning)
    assert gate["allowed"] is False
    assert gate["reasons"] == [frozen.removeprefix("Frozen: ").split(". Lift")[0]]
    assert "by U0BOB: release train" in gate["reasons"][0]
    assert stack.gate(other)["allowed"] is True

    try:
        assert stack.slack_command("freeze all 1h", BOB).startswith("Frozen: every model frozen")
        assert stack.gate(other)["reasons"][0].startswith("every model frozen until")
        refused = stack.slack_command("unfreeze all", EVE)
        assert refused.startswith("Refused: only Firebreak operators may do this")
        assert stack.gate(other)["allowed"] is False
    finally:  # every other test of this database would find its gates frozen
        assert stack.slack_command("unfreeze all", BOB).startswith("Unfrozen: every model")
    assert stack.gate(other)["allowed"] is True
    assert stack.gate(burning)["allowed"] is False
    assert stack.slack_command(f"unfreeze {burning}", ALICE).startswith(f"Unfrozen: {burning}")
    assert stack.gate(burning) == {"model": burning, "allowed": True, "reasons": []}


def test_an_exception_lets_exactly_one_change_through(
    stack: Stack, models: tuple[str, str]
) -> None:
    """Only an approver grants an exception; it opens the gate for one change, and of two
    changes racing for it exactly one goes through; it is audited on the incident."""
    burning = models[0]
    incident = stack.open_incident(burning)
    refused = stack.slack_command(f"allow-deploy {burning} hotfix", BOB)
    assert refused.startswith("Refused: only Firebreak approvers may do this")
    granted = stack.slack_command(f"allow-deploy {burning} hotfix for the tokenizer", ALICE)
    assert granted.startswith(f"Exception granted: the next change to {burning} goes through")
    assert f"closed by: INC-{incident} open" in granted
    opened = stack.gate(burning)
    assert opened["allowed"] is True
    assert opened["reasons"][-1].startswith(
        f"exception for the next change to {burning} by U0ALICE"
    )

    results: list[dict[str, Any]] = []
    racers = [
        threading.Thread(target=lambda v=v: results.append(stack.record(burning, v)))
        for v in ("2.4.2", "2.4.3")
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=15)
    assert sorted(r["allowed"] for r in results) == [False, True]
    through = next(r for r in results if r["allowed"])
    assert through["exception"].endswith("hotfix for the tokenizer")
    assert stack.gate(burning)["allowed"] is False
    assert stack.record(burning, "2.4.4")["allowed"] is False

    audit = httpx.get(f"{stack.api.url}/api/v1/incidents/{incident}", headers=API).json()["audit"]
    actions = [(a["actor"], a["action"]) for a in audit]
    assert (ALICE, "deploy_exception_granted") in actions
    assert ("api", "deploy_exception_used") in actions


def firebreak(argv: list[str]) -> int:
    """Run a `firebreak` command line in this process, on settings from the environment (its
    logging setup is left out: it would rebind this process's log output)."""
    args = build_parser().parse_args(argv)
    code: int = args.handler(args, Settings())
    return code


def test_the_cli_exits_by_the_gate_over_the_api_and_on_the_database(
    stack: Stack,
    models: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`gate check` exits 0 open, 1 blocked (printing why), 2 when refused; `changes record`
    exits 1 for a held change; without a URL both read the database directly; `incidents
    show` lists the changes on the incident's timeline."""
    burning, other = models
    incident = stack.open_incident(burning)
    monkeypatch.setenv("FIREBREAK_API_TOKEN", API_TOKEN)
    monkeypatch.setenv("FIREBREAK_DATABASE_URL", stack.settings.effective_database_url)
    url = stack.api.url
    assert firebreak(["gate", "check", "--model", other, "--url", url]) == 0
    assert firebreak(["gate", "check", "--model", burning, "--url", url]) == 1
    assert f"INC-{incident} open on {burning}" in capsys.readouterr().out
    record = ["changes", "record", "--model", burning, "--version", "2.4.1"]
    assert firebreak([*record, "--url", url]) == 1
    assert firebreak(["gate", "check", "--model", burning]) == 1  # the local database
    monkeypatch.setenv("FIREBREAK_API_TOKEN", "not-the-api-token")
    assert firebreak(["gate", "check", "--model", other, "--url", url]) == 2
    assert "refused (401)" in capsys.readouterr().err
    assert firebreak([*record, "--kind", "rollback", "--source", "oncall"]) == 0
    capsys.readouterr()
    assert firebreak(["incidents", "show", f"INC-{incident}", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["timeline"]
    changes = [(e["data"]["kind"], e["message"]) for e in shown if e["kind"] == "change"]
    assert changes[0] == ("deploy", f"deploy of {burning} 2.4.1 held: INC-{incident} open")
    assert changes[1][0] == "rollback"
    assert changes[1][1].endswith(f"rollback of {burning} 2.4.1 by {getpass.getuser()} (oncall)")


def test_firebreaks_own_rollback_is_a_change_the_gate_never_holds(sqlite_store: SqlStore) -> None:
    """A rollback step a runbook run completed is recorded as a change by Firebreak, not held
    by the open incident it is remedying, and lands on that incident's timeline; a dry run is not
    a change."""
    incident_id = _open_incident(sqlite_store, RERANKER)
    run = Run(
        id=7, incident_id=incident_id, runbook="rollback", target=RERANKER, model=RERANKER,
        steps=[], approval_required=True, cooldown_s=0, max_runs_per_hour=1, lock_ttl_s=60,
        created_at=datetime.now(UTC),
    )  # fmt: skip
    journal = StoreRunJournal(sqlite_store, lambda: datetime.now(UTC))
    rollback = {"step": "run:0", "action": "rollback", "current": {"version": "2.4.0"}}
    journal.record(
        run, "step_completed", {**rollback, "dry_run": True, "desired": {"version": "2.3.0"}}
    )
    journal.record(run, "step_completed", {**rollback, "version": "2.3.0"})
    with sqlite_store.transaction() as tx:
        events = [e for e in tx.timeline.for_incident(incident_id) if e.kind == "change"]
    (event,) = events
    assert event.data["kind"] == "rollback"
    assert event.data["held"] is False
    assert (event.actor, event.data["source"]) == ("firebreak", "firebreak")
    assert event.message.startswith("CHG-1: rollback of reranker-v2 2.3.0 by firebreak")


def _open_incident(store: SqlStore, model: str) -> int:
    payload = group(alert(model_name=model), group_key=f"k-{model}")
    payload["commonLabels"]["model_name"] = model
    result = ingest_alerts(
        store,
        AlertGroup.model_validate(payload),
        delivery_hash(body(payload)),
        datetime.now(UTC),
        timedelta(minutes=30),
    )
    return result.incident_ids[0]
