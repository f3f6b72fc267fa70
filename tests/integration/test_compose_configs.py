"""The compose stack without Docker: its configs pass promtool / amtool, its flags exist, and its
Firebreak commands, run outside containers with the compose environment, come up healthy.

Compose hostnames become 127.0.0.1 with real local ports (PostgreSQL: a fresh database; Redis:
database 13), container paths become the repository paths mounted or copied there, and every
healthcheck compose runs is run as is, with only the port changed where a test needs a free one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import yaml

from tests.processes import free_port, wait_for
from tests.unit.test_compose import (
    COMPOSE_DIR,
    bind_mounts,
    dockerfile_env,
    image_paths,
    interpolate,
    load_compose,
    named_volume_mounts,
)

REDIS_TEST_URL = "redis://127.0.0.1:6379/13"


def run(command: list[str], **kwargs: Any) -> str:
    completed = subprocess.run(command, capture_output=True, text=True, timeout=60, **kwargs)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    return output


def binary(*names: str) -> str:
    """The first of `names` on PATH (Debian: prometheus, prometheus-alertmanager)."""
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    raise AssertionError(f"none of {names} is installed")


def binary_flags(*names: str) -> set[str]:
    """The --flags a locally installed binary accepts, read from its --help."""
    completed = subprocess.run(
        [binary(*names), "--help"], capture_output=True, text=True, timeout=30
    )
    return set(re.findall(r"(--[a-z0-9][a-z0-9.-]*)", completed.stdout + completed.stderr))


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    loaded: dict[str, Any] = load_compose()["services"]
    return loaded


# -- promtool / amtool -----------------------------------------------------------------------


def test_promtool_accepts_compose_prometheus_with_the_mounted_rules(
    services: dict[str, Any], tmp_path: Path
) -> None:
    """promtool checks the compose prometheus.yml and finds the shipped rules at the mount."""
    config = yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text())
    mounts = bind_mounts(services["prometheus"])
    rewritten = []
    for rule_glob in config["rule_files"]:
        container_dir, _, pattern = rule_glob.rpartition("/")
        rewritten.append(str(mounts[container_dir] / pattern))
    config["rule_files"] = rewritten
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    output = run([binary("promtool"), "check", "config", str(config_path)])
    found = re.search(r"SUCCESS: (\d+) rules found", output)
    assert found, output
    assert int(found.group(1)) > 0


def test_amtool_accepts_compose_alertmanager() -> None:
    """amtool checks the compose alertmanager.yml: one receiver posting to Firebreak, one for
    Firebreak's own alerts."""
    output = run([binary("amtool"), "check-config", str(COMPOSE_DIR / "alertmanager.yml")])
    assert "SUCCESS" in output
    assert "- 2 receivers" in output


@pytest.mark.parametrize(
    ("service", "binaries"),
    [
        ("prometheus", ("prometheus",)),
        ("alertmanager", ("prometheus-alertmanager", "alertmanager")),
    ],
)
def test_monitoring_flags_exist(
    services: dict[str, Any], service: str, binaries: tuple[str, ...]
) -> None:
    """Every flag compose passes to Prometheus and Alertmanager is one the binary knows."""
    known = binary_flags(*binaries)
    flags = {item.split("=")[0] for item in services[service]["command"]}
    assert flags <= known


# -- the Firebreak processes, outside containers ---------------------------------------------


def firebreak_executable() -> list[str]:
    """The installed `firebreak` entry point (the image's ENTRYPOINT)."""
    script = Path(sys.executable).with_name("firebreak")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def local_environment(
    service: dict[str, Any], postgres_url: str, volumes_dir: Path
) -> dict[str, str]:
    """The image's and the service's environment, with compose addresses and paths made local."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREBREAK_")}
    container_paths: dict[str, Path] = {**image_paths(), **bind_mounts(service)}
    for target, volume in named_volume_mounts(service).items():
        container_paths[target] = volumes_dir / volume
        container_paths[target].mkdir(parents=True, exist_ok=True)
    compose_env = {k: interpolate(v) for k, v in service.get("environment", {}).items()}
    for key, value in {**dockerfile_env(), **compose_env}.items():
        if value in container_paths:
            value = str(container_paths[value])
        elif key == "FIREBREAK_DATABASE_URL":
            url = urlsplit(value)
            assert (url.hostname, url.port, url.path) == ("postgres", 5432, "/firebreak")
            value = postgres_url
        elif key == "FIREBREAK_REDIS_URL":
            assert urlsplit(value).netloc == "redis:6379"
            value = REDIS_TEST_URL
        elif value.startswith("http://"):
            value = f"http://127.0.0.1:{free_port()}"  # Prometheus / Alertmanager: not needed
        env[key] = value
    return env


def local_command(command: list[str], port: int | None = None) -> list[str]:
    """A compose command bound to loopback, on `port` instead of its container port."""
    local = [("127.0.0.1" if item == "0.0.0.0" else item) for item in command]
    if port is not None:
        local[local.index("--port") + 1] = str(port)
    return local


def healthcheck(service: dict[str, Any], port: int | None = None) -> list[str]:
    """The service's healthcheck command, run with this interpreter, on `port` if given."""
    kind, program, *args = service["healthcheck"]["test"]
    assert (kind, program) == ("CMD", "python")
    if port is not None:
        container_port = service["command"][service["command"].index("--port") + 1]
        args = [arg.replace(f":{container_port}/", f":{port}/") for arg in args]
    return [sys.executable, *args]


def passes(command: list[str], env: dict[str, str], cwd: Path) -> bool:
    completed = subprocess.run(command, env=env, cwd=cwd, capture_output=True, timeout=30)
    return completed.returncode == 0


@pytest.fixture
def test_redis() -> Iterator[None]:
    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    yield
    client.flushdb()
    client.close()


def test_compose_commands_run_outside_containers_and_pass_their_healthchecks(
    services: dict[str, Any], postgres_url: str, test_redis: None, tmp_path: Path
) -> None:
    """migrate succeeds on a fresh database; then simulator, api, worker and beat come up,
    /readyz answers 200 and every compose healthcheck passes."""
    workdir = tmp_path / "app"  # not the repository: every path must come from the env
    workdir.mkdir()
    volumes = tmp_path / "volumes"
    entry = firebreak_executable()

    migrate_env = local_environment(services["migrate"], postgres_url, volumes)
    output = run([*entry, *services["migrate"]["command"]], env=migrate_env, cwd=workdir)
    assert "database at head" in output

    ports = {"api": free_port(), "simulator": free_port()}
    children: dict[str, subprocess.Popen[bytes]] = {}
    envs: dict[str, dict[str, str]] = {}
    try:
        for name in ("simulator", "api", "worker", "beat"):
            envs[name] = local_environment(services[name], postgres_url, volumes)
            command = local_command(services[name]["command"], ports.get(name))
            with (tmp_path / f"{name}.log").open("wb") as log:
                children[name] = subprocess.Popen(
                    [*entry, *command],
                    env=envs[name],
                    cwd=workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )

        def ready() -> bool:
            for name, child in children.items():
                assert child.poll() is None, f"{name} exited:\n{logs(tmp_path)}"
            readyz = f"http://127.0.0.1:{ports['api']}/readyz"
            probe = f"import urllib.request; urllib.request.urlopen('{readyz}', timeout=2)"
            return passes([sys.executable, "-c", probe], envs["api"], workdir)

        wait_for(ready, timeout_s=30, interval_s=0.5)
        deadline = time.monotonic() + 30
        for name in ("simulator", "api", "worker", "beat"):
            command = healthcheck(services[name], ports.get(name))
            remaining = max(deadline - time.monotonic(), 1.0)
            try:
                wait_for(lambda c=command, n=name: passes(c, envs[n], workdir), remaining, 0.5)
            except AssertionError as exc:
                raise AssertionError(f"{name} healthcheck failed\n{logs(tmp_path)}") from exc
    finally:
        for child in children.values():
            child.terminate()
        for child in children.values():
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=5)


def logs(tmp_path: Path) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text(errors='replace')}" for p in tmp_path.glob("*.log")
    )
