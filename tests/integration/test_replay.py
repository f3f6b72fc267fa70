"""`firebreak replay` over a known history, through a real Prometheus backfilled with promtool.

One simulated fleet history of 56 minutes, scraped every 30 s (simulator/timeline.py), holds
four faults on the simulator's real exporter names and labels, and the `ALERTS` series the
shipped rules would have written for them at a 15 s evaluation interval:

    18:00  reranker-v2 KV-cache saturation, cleared after 3 min   -> a blip that recovers
    18:00  llama-3-70b-instruct KV-cache saturation for 18 min    -> ends, too late to count
    40:00  reranker-v2 bad deploy (2.4.0), never rolled back      -> still firing
    48:00  llama-3-70b-instruct GPU XID 79 on its first node      -> still firing

Both files are backfilled with `promtool tsdb create-blocks-from openmetrics` and served by one
`prometheus` (no scrape jobs, `--query.lookback-delta=1m`, `evaluation_interval: 15s`). The
replay runs through `firebreak replay` in this process, against a migrated database it must not
touch unless `--into-db` is given. Needs the `prometheus` and `promtool` binaries (no skip).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import logs
from bot.adapters.sql_store import SqlStore
from bot.cli import main
from bot.demo.monitoring import ALERTMANAGER_CONFIG, backfill_openmetrics, serve_tsdb
from bot.domain.incidents import IncidentStatus
from simulator.timeline import AlertSpan, Episode, record_timeline

LLAMA, RERANKER = "llama-3-70b-instruct", "reranker-v2"
MINUTE = 60.0
EPISODES = (
    Episode("saturation", RERANKER, at_s=18 * MINUTE, clear_after_s=3 * MINUTE, alert_delay_s=60),
    Episode("saturation", LLAMA, at_s=18 * MINUTE, clear_after_s=18 * MINUTE),
    Episode("bad_deploy", RERANKER, at_s=40 * MINUTE, alert_delay_s=120),
    Episode("gpu_xid", LLAMA, at_s=48 * MINUTE, xid=79, alert_delay_s=30),
)
DURATION_S = 56 * MINUTE
SCRAPE_INTERVAL_S = 30.0

# (first alert, model) -> (cause ranked first, runbook, its decision, recovered on its own)
EXPECTED = {
    ("LLMKVCacheSaturated", RERANKER): ("capacity_saturation", "scale-out", "would_run", True),
    ("LLMTTFTErrorBudgetBurn", RERANKER): (
        "capacity_saturation",
        "scale-out",
        "blocked_by_guard",
        True,
    ),
    ("LLMKVCacheSaturated", LLAMA): ("capacity_saturation", "scale-out", "would_run", False),
    ("LLMTTFTErrorBudgetBurn", LLAMA): (
        "capacity_saturation",
        "scale-out",
        "blocked_by_guard",
        False,
    ),
    ("LLMErrorRatioAfterDeploy", RERANKER): ("bad_deploy", "rollback", "awaiting_approval", False),
    ("LLMModelDrift", RERANKER): ("bad_deploy", "rollback", "awaiting_approval", False),
    ("GPUXidError", LLAMA): ("gpu_fault", "gpu-node-drain", "awaiting_approval", False),
}


@dataclass(frozen=True)
class History:
    url: str
    start_ts: float
    end_ts: float
    spans: list[AlertSpan]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    """The timeline recorded, backfilled and served by one real Prometheus."""
    folder = tmp_path_factory.mktemp("replay-history")
    now = datetime.now(UTC).timestamp()
    start_ts = now - now % 7200 - 4 * 3600  # whole 2 h blocks, safely in the past
    spans = record_timeline(
        EPISODES,
        start_ts,
        DURATION_S,
        folder / "fleet.om",
        folder / "alerts.om",
        scrape_interval_s=SCRAPE_INTERVAL_S,
    )
    for name in ("fleet.om", "alerts.om"):
        backfill_openmetrics(folder / name, folder / "data")
    with serve_tsdb(
        folder, folder / "data", lookback_delta="1m", evaluation_interval="15s"
    ) as prometheus:
        yield History(prometheus.url, start_ts, start_ts + DURATION_S, spans)


@pytest.fixture(autouse=True)
def quiet_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """`firebreak replay` runs in this process: logging stays the test session's (the command
    would bind its loggers to this test's captured stderr for every later test)."""
    monkeypatch.setattr(logs, "configure_logging", lambda **_: None)


def use_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str) -> SqlStore:
    """`firebreak` reads this migrated database and no Prometheus of its own."""
    monkeypatch.setenv("FIREBREAK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FIREBREAK_DATABASE_URL", url)
    monkeypatch.delenv("FIREBREAK_PROMETHEUS_URL", raising=False)
    return SqlStore.from_url(url)


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_store: SqlStore, sqlite_url: str
) -> SqlStore:
    """A migrated SQLite database the replay must leave alone."""
    return use_database(monkeypatch, tmp_path, sqlite_url)


def replay(history: History, *extra: str) -> int:
    return main(
        [
            "replay",
            "--from",
            datetime.fromtimestamp(history.start_ts, UTC).isoformat().replace("+00:00", "Z"),
            "--to",
            f"{history.end_ts:.0f}",
            "--prometheus",
            history.url,
            *extra,
        ]
    )


def by_alert(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (i["alert_names"][0], i["labels"].get("model_name", "")): i for i in document["incidents"]
    }


def store_counts(store: SqlStore) -> tuple[int, int]:
    with store.transaction() as tx:
        return len(tx.incidents.list(limit=1000)), tx.outbox.count_pending()


def test_replay_names_each_incident_its_cause_runbook_and_recovery(
    history: History, environment: SqlStore, tmp_path: Path
) -> None:
    """Every rebuilt notification is triaged at its time: the injected cause ranks first, the
    runbook verdict is what planning would have said, and only the blip recovered on its own;
    the database is left untouched."""
    report = tmp_path / "replay.json"
    assert replay(history, "-o", str(report)) == 0

    document = json.loads(report.read_text())
    assert document["evaluation_interval_s"] == 15.0
    for incident in document["incidents"]:  # triage saw nothing after the notification
        assert incident["triaged_until"] == incident["notified_at"]
    found = by_alert(document)
    assert set(found) == set(EXPECTED)
    for key, (cause, runbook, decision, recovered) in EXPECTED.items():
        incident = found[key]
        verdict = incident["runbooks"][0]
        assert incident["hypotheses"][0]["kind"] == cause, (key, incident["hypotheses"][:2])
        assert (verdict["runbook"], verdict["decision"]) == (runbook, decision), (key, verdict)
        on_its_own = incident["recovery"]["verdict"] == "recovered"
        assert on_its_own is recovered, (key, incident["recovery"])

    blip = found[("LLMKVCacheSaturated", RERANKER)]
    assert "scale pool=primary, replicas=8" in " ".join(blip["runbooks"][0]["steps"])
    assert blip["ended_at"] is not None
    xid = found[("GPUXidError", LLAMA)]
    assert xid["scope"]["node"] == xid["labels"]["Hostname"]
    assert xid["ended_at"] is None
    assert [v["runbook"] for v in xid["runbooks"]] == ["gpu-node-drain", "failover"]
    cooldown = found[("LLMTTFTErrorBudgetBurn", RERANKER)]["runbooks"][0]["reason"]
    assert cooldown.startswith("cooldown"), cooldown
    slow = found[("LLMKVCacheSaturated", LLAMA)]["recovery"]["reason"]
    assert "after the notification" in slow, slow

    first = min(s.firing_ts for s in history.spans)
    notified = min(datetime.fromisoformat(i["notified_at"]) for i in document["incidents"])
    assert notified.timestamp() == pytest.approx(first + 30, abs=15)  # default group_wait 30 s
    assert store_counts(environment) == (0, 0)


def test_shipped_alertmanager_routing_groups_and_the_table_prints(
    history: History, environment: SqlStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the shipped alertmanager.yml (group by alertname and model, 10 s group wait) the
    same incidents come out, as a table on stdout with progress on stderr."""
    assert replay(history, "--alertmanager-config", str(ALERTMANAGER_CONFIG)) == 0
    out, err = capsys.readouterr()
    assert "7 incident(s)" in out
    table = out.split("\n\n")[1].splitlines()
    assert table[0].split()[:3] == ["#", "notified", "(UTC)"]
    rows = table[1:]
    assert len(rows) == len(EXPECTED)
    for (alert, model), (cause, runbook, _, _) in EXPECTED.items():
        row = next(r for r in rows if f"  {alert}  " in r and model in r)
        assert cause in row, row
        assert runbook in row, row
    assert "replay: 7/7 incidents" in err
    assert store_counts(environment) == (0, 0)

    # From 48:00 on, the bad deploy's two groups were already firing (notified before): only
    # the GPU XID, which fired at 48:30, is replayed.
    later = datetime.fromtimestamp(history.start_ts + 48 * MINUTE, UTC).isoformat()
    assert main(["replay", "--from", later, "--to", f"{history.end_ts:.0f}",
                 "--prometheus", history.url]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "1 incident(s)" in out
    assert "2 already firing at the start" in out
    assert "GPUXidError" in out


def test_into_db_records_replayed_incidents_once_and_sends_nothing(
    history: History, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    """With --into-db each rebuilt notification is ingested as Alertmanager would have sent it,
    marked as replayed, its queued tasks never dispatched; a second run records nothing more
    (SQLite and PostgreSQL)."""
    environment = use_database(monkeypatch, tmp_path, database_url)
    page = tmp_path / "replay.html"
    assert replay(history, "--into-db", "-o", str(page)) == 0
    incidents, pending = store_counts(environment)
    assert (incidents, pending) == (len(EXPECTED), 0)
    with environment.transaction() as tx:
        stored = tx.incidents.list(limit=100)
        for incident in stored:
            assert incident.receiver == "replay:firebreak"
            assert tx.triages.get(incident.id)["replayed"] is True
            notes = [e for e in tx.timeline.for_incident(incident.id) if e.actor == "replay"]
            assert len(notes) == 1
            assert [a["action"] for a in tx.audit.for_incident(incident.id)][-1] == (
                "incident_replayed"
            )
        statuses = {(i.labels["alertname"], i.labels["model_name"]): i.status for i in stored}
    assert statuses[("GPUXidError", LLAMA)] is IncidentStatus.TRIGGERED
    assert statuses[("LLMKVCacheSaturated", LLAMA)] is IncidentStatus.RESOLVED
    assert statuses[("LLMKVCacheSaturated", RERANKER)] is IncidentStatus.RESOLVED
    html = page.read_text()
    assert ">INC-1<" in html
    assert "{}:{alertname=&#34;GPUXidError&#34;" in html  # label text is escaped
    assert "<script" not in html

    assert replay(history, "--into-db") == 0
    assert store_counts(environment) == (len(EXPECTED), 0)
