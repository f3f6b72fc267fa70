"""Real Prometheus and Alertmanager for the demo and tests, on free loopback ports in a folder.

Configs are derived from the shipped ones in deploy/ (same job name, same routing), with the
caller's targets, rule files, intervals and webhook filled in. Time is compressed as one: rules
keep their expressions, and their `for:` shrinks by the ratio of the evaluation intervals, so
"two consecutive evaluations" stays two. Each process logs to a file in its folder; a failed
start raises with the log's tail. `backfill_openmetrics` writes a recorded history into TSDB
blocks with promtool, and `serve_tsdb` serves such blocks from a Prometheus with no scrape jobs.

    prometheus = start_prometheus(tmp_path, ["127.0.0.1:9400"], [RULES], alertmanager_url=...)
    ...
    prometheus.stop()

or use either as a context manager.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import yaml

from bot.domain.durations import parse_duration_s
from bot.supervision import die_with_parent

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
PROMETHEUS_RULES = ROOT / "deploy" / "prometheus" / "rules" / "genai.yml"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"

READY_TIMEOUT_S = 30.0
START_ATTEMPTS = 3


@dataclass
class RunningProcess:
    """A started binary: where it answers, its log, and how to stop it."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 10 s); safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> RunningProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def binary(*names: str) -> str:
    """The first of ``names`` found on PATH; a clear error when none is installed."""
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    raise RuntimeError(f"none of {names} is on PATH (Debian: apt-get install {names[0]})")


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_prometheus(
    tmp_path: Path,
    scrape_targets: list[str],
    rule_files: list[Path],
    alertmanager_url: str | None = None,
    interval_s: float = 1,
) -> RunningProcess:
    """Prometheus scraping ``scrape_targets`` and evaluating ``rule_files`` every ``interval_s``."""
    folder = tmp_path / "prometheus"
    folder.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    shipped_interval_s = parse_duration_s(config["global"]["evaluation_interval"])
    interval = f"{interval_s:g}s"
    config["global"].update(
        scrape_interval=interval, evaluation_interval=interval, scrape_timeout=interval
    )
    factor = interval_s / shipped_interval_s
    config["rule_files"] = [str(compress_rules(path, folder, factor)) for path in rule_files]
    fleet = config["scrape_configs"][0]  # the fleet's job; Firebreak's own is not scraped here
    config["scrape_configs"] = [{**fleet, "static_configs": [{"targets": scrape_targets}]}]
    if alertmanager_url is None:
        config.pop("alerting", None)
    else:
        address = alertmanager_url.removeprefix("http://").rstrip("/")
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [address]}]}]}
    config_path = folder / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def command(port: int) -> list[str]:
        return [
            binary("prometheus"),
            f"--config.file={config_path}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--rules.alert.resend-delay=1s",
            "--web.enable-lifecycle",
        ]

    return _start("prometheus", folder, command)


def serve_tsdb(
    tmp_path: Path,
    data_dir: Path,
    lookback_delta: str = "5m",
    retention: str = "10y",
    evaluation_interval: str = "1m",
) -> RunningProcess:
    """Prometheus with no scrape jobs serving the blocks in ``data_dir`` (e.g. backfilled).

    Backfilled blocks carry no staleness markers: a short ``lookback_delta`` ends a series that
    stopped (a deleted pod) about when a live Prometheus would have marked it stale.
    ``evaluation_interval`` is the one the history's rules ran at (its `ALERTS` resolution).
    """
    folder = tmp_path / "prometheus"
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / "empty.yml"
    config_path.write_text(
        f"global:\n  evaluation_interval: {evaluation_interval}\nscrape_configs: []\n"
    )

    def command(port: int) -> list[str]:
        return [
            binary("prometheus"),
            f"--config.file={config_path}",
            f"--storage.tsdb.path={data_dir}",
            f"--storage.tsdb.retention.time={retention}",
            f"--query.lookback-delta={lookback_delta}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]

    return _start("prometheus", folder, command)


def backfill_openmetrics(history: Path, data_dir: Path) -> None:
    """TSDB blocks in ``data_dir`` from an OpenMetrics file with timestamps (promtool)."""
    command = [binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", "--quiet"]
    completed = subprocess.run(
        [*command, str(history), str(data_dir)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-20:])
        raise RuntimeError(f"promtool could not backfill {history}:\n{tail}")


def compress_rules(source: Path, folder: Path, factor: float) -> Path:
    """A copy of the rule file `source` in `folder` with every `for:` multiplied by `factor`."""
    document: dict[str, Any] = yaml.safe_load(source.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = f"{parse_duration_s(rule['for']) * factor:g}s"
    target = folder / source.name
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return target.resolve()


def start_alertmanager(
    tmp_path: Path,
    webhook_url: str,
    token: str,
    group_wait: str = "1s",
    group_interval: str = "1s",
) -> RunningProcess:
    """Alertmanager with the shipped routing, posting to ``webhook_url`` with a bearer token."""
    folder = tmp_path / "alertmanager"
    folder.mkdir(parents=True, exist_ok=True)
    token_path = folder / "webhook-token"
    token_path.write_text(token)
    token_path.chmod(0o600)
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    config["route"].update(group_wait=group_wait, group_interval=group_interval)
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = webhook_url
            webhook["http_config"]["authorization"]["credentials_file"] = str(token_path.resolve())
    config_path = folder / "alertmanager.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def command(port: int) -> list[str]:
        return [
            binary("prometheus-alertmanager", "alertmanager"),
            f"--config.file={config_path}",
            f"--storage.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ]

    return _start("alertmanager", folder, command)


def _start(name: str, folder: Path, command: Callable[[int], list[str]]) -> RunningProcess:
    """Start on a free port and wait for /-/ready; retry if another process took the port."""
    failure = ""
    for attempt in range(START_ATTEMPTS):
        port = free_loopback_port()
        log_path = folder / f"{name}.{attempt}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command(port), stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
            )
        running = RunningProcess(name, f"http://127.0.0.1:{port}", process, log_path)
        if _wait_ready(running):
            return running
        running.stop()
        failure = running.log_tail()
        if "address already in use" not in failure:
            break
    raise RuntimeError(f"{name} did not become ready:\n{failure}")


def _wait_ready(running: RunningProcess) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            return False
        try:
            if httpx.get(f"{running.url}/-/ready", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass  # not listening yet: poll again
        time.sleep(0.1)
    return False
