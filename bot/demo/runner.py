"""Run a demo scenario: inject each fault, follow it through Firebreak, print the story live."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape

from bot.bootstrap import Container
from bot.demo.fleet import DemoWorld, start_world
from bot.demo.scenarios import SCENARIOS, Act
from bot.demo.self_metrics import save_metrics
from bot.services.export_postmortem import write_postmortem

ACT_TIMEOUT_S = 60.0
POLL_S = 0.5
ONCALL = "demo-oncall"
NO_MODEL = "summaries were written offline: set FIREBREAK_LLM_MODEL and OPENAI_API_KEY for a model"


@dataclass
class ActProgress:
    """What the demo has seen of one act so far; each milestone is printed once."""

    act: Act
    started: float = field(default_factory=time.monotonic)
    seen: set[str] = field(default_factory=set)
    incident_id: int | None = None
    since_id: int = 0  # incidents up to this one belong to earlier acts
    recalled: bool = False
    diagnosed: bool = False
    closed: bool = False
    took_s: float | None = None

    def note(self, console: Console, key: str, text: str) -> None:
        if key not in self.seen:
            self.seen.add(key)
            console.print(f"  [dim]+{time.monotonic() - self.started:5.1f}s[/dim]  {text}")


class DemoClient:
    """The demo's view of Firebreak, Alertmanager and the simulator, over their HTTP APIs."""

    def __init__(self, world: DemoWorld) -> None:
        self.world = world
        self._http = httpx.Client(timeout=5, headers={"Authorization": f"Bearer {world.api_token}"})

    def api(self, path: str) -> Any:
        response = self._http.get(f"{self.world.api_url}{path}")
        response.raise_for_status()
        return response.json()

    def approve(self, incident_id: int, run_id: int) -> None:
        url = f"{self.world.api_url}/api/v1/incidents/{incident_id}/runbook-runs/{run_id}/approve"
        self._http.post(url, json={"actor": ONCALL}).raise_for_status()

    def inject(self, act: Act) -> str | None:
        """Inject the act's fault; a bad deploy is announced to Firebreak as a change, as a
        pipeline would announce it (answers the change's ref)."""
        fault = {"kind": act.fault, "model": act.model}
        injected = httpx.post(f"{self.world.simulator.url}/faults", json=fault, timeout=5)
        injected.raise_for_status()
        version = injected.json().get("version")
        if not version:
            return None
        change = {"model": act.model, "version": version, "source": "firebreak demo pipeline"}
        recorded = self._http.post(f"{self.world.api_url}/api/v1/changes", json=change)
        recorded.raise_for_status()
        return str(recorded.json()["ref"])

    def firing(self, act: Act) -> list[str]:
        alerts = httpx.get(f"{self.world.alertmanager.url}/api/v2/alerts", timeout=5).json()
        return sorted(
            {
                a["labels"]["alertname"]
                for a in alerts
                if a["labels"].get("alertname") in act.alerts
                and a["labels"].get("model_name") == act.model
            }
        )

    def latest_incident_id(self) -> int:
        return max((int(i["id"]) for i in self.api("/api/v1/incidents?limit=1")), default=0)

    def incidents_for(self, act: Act) -> list[int]:
        return sorted(
            int(incident["id"])
            for incident in self.api("/api/v1/incidents")
            if incident["labels"].get("alertname") in act.alerts
            and incident["labels"].get("model_name") == act.model
        )


def follow(client: DemoClient, progress: ActProgress, console: Console) -> None:
    """Poll until this act's loop closes or times out, printing each milestone once."""
    deadline = progress.started + ACT_TIMEOUT_S
    while time.monotonic() < deadline and not progress.closed:
        for name in client.firing(progress.act):
            progress.note(console, f"fired:{name}", f"alert fired: [bold]{name}[/bold]")
        for incident_id in client.incidents_for(progress.act):
            if incident_id <= progress.since_id:
                continue
            step(client, progress, incident_id, console)
            if progress.closed:
                progress.incident_id = incident_id
                progress.took_s = time.monotonic() - progress.started
                break
        time.sleep(POLL_S)


def step(client: DemoClient, progress: ActProgress, incident_id: int, console: Console) -> None:
    """Print what is new about one incident; close the act once triage named the injected cause,
    its runbook verified, and the incident resolved (or, if the act need not resolve, mitigated);
    an act that recalls closes once incident memory names an earlier incident and what fixed it
    (a repeat inside the runbook's cooldown is not remediated again: its guard says so)."""
    act = progress.act
    ref = f"INC-{incident_id}"
    detail = client.api(f"/api/v1/incidents/{incident_id}")
    progress.note(
        console, f"{ref}:opened", f"incident opened: [bold]{ref}[/bold] {detail['title']}"
    )
    progress.incident_id = progress.incident_id or incident_id
    hypotheses = (detail.get("triage") or {}).get("hypotheses") or []
    if hypotheses:
        top = hypotheses[0]
        progress.diagnosed = progress.diagnosed or top["kind"] == act.hypothesis
        mark = "[green]✔[/green]" if top["kind"] == act.hypothesis else "[yellow]…[/yellow]"
        progress.note(
            console,
            f"{ref}:triage:{top['kind']}",
            f"{ref} triage: {mark} [bold]{top['kind']}[/bold] ({top['confidence']:.0%}) "
            f"{top.get('explanation', '')[:100]}",
        )
    for match in client.api(f"/api/v1/incidents/{incident_id}/similar")[:2]:
        progress.recalled = progress.recalled or match["outcome"]["runbook"] is not None
        why = "; ".join(match["reasons"])
        progress.note(
            console,
            f"{ref}:memory:{match['ref']}",
            f"{ref} seen before: [bold]{match['ref']}[/bold] ({match['score']:.0%} alike: "
            f"{escape(why)}) — {escape(match['outcome']['text'])}",
        )
    verified = False
    for run in client.api(f"/api/v1/incidents/{incident_id}/runbook-runs"):
        state = run["state"]
        why = f" ({run['reason']})" if state == "awaiting_approval" and run.get("reason") else ""
        progress.note(
            console,
            f"run:{run['id']}:{state}",
            f"{ref} runbook {run['runbook']} RUN-{run['id']}: {state}{why}",
        )
        # On-call approves the act's runbook; a run triage holds (another cause) stays waiting.
        if (
            state == "awaiting_approval"
            and act.approve
            and run["runbook"] == act.runbook
            and f"approved:{run['id']}" not in progress.seen
        ):
            client.approve(incident_id, int(run["id"]))
            progress.note(console, f"approved:{run['id']}", f"RUN-{run['id']} approved by {ONCALL}")
        verified = verified or (run["runbook"] == act.runbook and state == "succeeded")
    status = detail["status"]
    if status == "mitigated":
        progress.note(console, f"{ref}:mitigated", f"[green]{ref} mitigated[/green]")
    if status == "resolved":
        progress.note(console, f"{ref}:resolved", f"[green]{ref} resolved[/green]: alerts cleared")
    remediated = verified and (status == "resolved" or not act.must_resolve)
    progress.closed = progress.diagnosed and (progress.recalled if act.recalls else remediated)


def run_demo(scenario: str, speed: float, home: Path, console: Console | None = None) -> int:
    """Run `scenario` end to end; exit status 0 only when every act's loop closed."""
    console = console or Console()
    acts = SCENARIOS[scenario]
    console.print(
        f"[bold]Firebreak demo[/bold] — scenario [bold]{scenario}[/bold], fleet at {speed:g}x"
    )
    world = start_world(home, speed)
    try:
        console.print("\n".join(world.stack.describe()))
        console.print(
            f"  prometheus {world.prometheus.url}   alertmanager {world.alertmanager.url}"
        )
        console.print(f"  simulator {world.simulator.url}")
        console.print(f"letting the fleet build a baseline for {world.history_needed_s:.0f}s …")
        time.sleep(world.history_needed_s)
        client = DemoClient(world)
        results = []
        ended: dict[str, float] = {}  # when the last act on each model ended
        for act in acts:
            console.rule(f"{act.title} on {act.model}")
            # Triage's baseline must not hold an earlier act's fault on the same model.
            settle_s = world.history_needed_s - (time.monotonic() - ended.get(act.model, 0.0))
            if act.recalls and settle_s > 0:
                console.print(f"letting {act.model} settle for {settle_s:.0f}s …")
                time.sleep(settle_s)
            since_id = client.latest_incident_id()
            change = client.inject(act)
            progress = ActProgress(act, since_id=since_id)
            progress.note(console, "injected", f"fault injected: {act.fault} on {act.model}")
            if change:
                progress.note(console, "change", f"the deploy is announced to Firebreak: {change}")
            follow(client, progress, console)
            ended[act.model] = time.monotonic()
            results.append(progress)
        return report(world, results, console)
    finally:
        world.stop()


def report(world: DemoWorld, results: list[ActProgress], console: Console) -> int:
    """Write each act's postmortem (Markdown and HTML) and say where everything is."""
    console.rule("postmortems")
    container = Container(world.settings)
    folder = world.settings.postmortem_dir
    for progress in results:
        if progress.incident_id is None:
            continue
        for path in write_postmortem(
            container.store,
            progress.incident_id,
            folder,
            ("md", "html"),
            world.settings.prometheus_url,
            container.run_stories,
        ):
            console.print(f"  {path}")
    console.print(f"  charts: {world.settings.home / 'charts'}")
    console.print(f"  chat log: {world.settings.chat_log_path}")
    metrics_path = world.settings.home / "metrics.txt"
    console.rule(f"Firebreak's own metrics ({metrics_path})")
    idle = {} if world.settings.llm_configured else {"llm": NO_MODEL}
    for line in save_metrics(world.api_url, metrics_path, idle):
        console.print(escape(line))
    closed = all(p.closed for p in results)
    for p in results:
        verdict = (
            f"[green]closed in {p.took_s:.0f}s[/green]" if p.took_s else "[red]did not close[/red]"
        )
        console.print(f"{p.act.title}: {verdict}")
    return 0 if closed else 1
