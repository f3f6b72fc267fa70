"""The demo's world: the simulated fleet, real Prometheus and Alertmanager, and Firebreak."""

from __future__ import annotations

import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bot.demo.fast_runbooks import write_fast_runbooks, write_targets
from bot.demo.monitoring import (
    PROMETHEUS_RULES,
    RunningProcess,
    free_loopback_port,
    start_alertmanager,
    start_prometheus,
)
from bot.settings import Settings
from bot.stack import Stack
from simulator.server import RunningSimulator, start_in_thread

READY_TIMEOUT_S = 60.0


@dataclass
class DemoWorld:
    """Everything the demo started, so it can be driven and then stopped."""

    home: Path
    simulator: RunningSimulator
    prometheus: RunningProcess
    alertmanager: RunningProcess
    stack: Stack
    settings: Settings
    api_url: str
    api_token: str

    @property
    def history_needed_s(self) -> float:
        """How long the fleet must run before a fault, so triage finds a clean baseline: it
        looks back the lead plus the baseline from the alert's start."""
        return self.settings.triage_lead_s + self.settings.triage_baseline_s

    def stop(self) -> None:
        self.stack.stop()
        self.alertmanager.stop()
        self.prometheus.stop()
        self.simulator.stop()


def start_world(home: Path, speed: float, seed: int = 7, triage_lead_s: float = 12.0) -> DemoWorld:
    """Start the fleet, Prometheus on the shipped rules, Alertmanager on the shipped routing,
    and Firebreak on embedded defaults with runbooks time-compressed like the fleet."""
    home = home.resolve()
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    webhook_token, api_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    port = free_loopback_port()
    simulator = start_in_thread(seed=seed, speed=speed)
    monitoring = home / "monitoring"
    webhook_url = f"http://127.0.0.1:{port}/webhooks/alertmanager"
    alertmanager = start_alertmanager(monitoring, webhook_url, webhook_token)
    prometheus = start_prometheus(
        monitoring, [f"127.0.0.1:{simulator.port}"], [PROMETHEUS_RULES], alertmanager.url
    )
    settings = Settings(
        home=home,
        webhook_token=webhook_token,
        api_token=api_token,
        prometheus_url=prometheus.url,
        alertmanager_url=alertmanager.url,
        runbooks_dir=write_fast_runbooks(home / "runbooks", window="5s", speed=speed),
        targets_file=write_targets(home / "targets.yml", simulator.url),
        triage_baseline_s=15.0,
        triage_lead_s=triage_lead_s,  # alerts start when they fire, `for:` after their fault
        triage_step_s=1.0,
        triage_rate_window_s=5.0,
        triage_follow_up_s=10.0,
        outbox_relay_interval_s=1.0,
        reconcile_interval_s=5.0,
        # Acts follow each other within seconds; a fault repeated hours later in production
        # opens a new incident rather than reopening the last, and so it does here.
        reopen_window_s=2.0,
    )
    stack = Stack(settings, "127.0.0.1", port)
    settings = stack.start(log_dir=home / "logs")
    api_url = f"http://127.0.0.1:{port}"
    world = DemoWorld(
        home, simulator, prometheus, alertmanager, stack, settings, api_url, api_token
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not _ready(api_url):
        if time.monotonic() > deadline:
            world.stop()
            raise RuntimeError(f"Firebreak did not become ready; see {home / 'logs'}")
        time.sleep(0.25)
    return world


def _ready(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
