"""docker-compose.yml, the Dockerfile and deploy/compose/ agree with the code and shipped configs.

No Docker engine is needed: the files are parsed, every Firebreak command goes through the real
argument parser, every environment key through Settings, and every address and mount is checked
against the service that should answer it.
"""

from __future__ import annotations

import os
import re
import shlex
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bot.cli import build_parser
from bot.settings import Settings
from bot.web.routes.webhooks import router as webhook_router

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_DIR = ROOT / "deploy" / "compose"
SHIPPED_PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
SHIPPED_ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
SHIPPED_TARGETS = ROOT / "deploy" / "targets.yml"

SERVICES = {
    "redis",
    "postgres",
    "prometheus",
    "alertmanager",
    "simulator",
    "migrate",
    "api",
    "worker",
    "beat",
}
FIREBREAK_SERVICES = {"simulator", "migrate", "api", "worker", "beat"}
ONE_SHOT = {"migrate"}
ENV_PREFIX = "FIREBREAK_"
REQUIRED_VARIABLE = re.compile(r"\$\{(?P<name>\w+):\?set (?P=name)\}")
VARIABLES = {
    "POSTGRES_PASSWORD": "pg-5e6f",
    "FIREBREAK_WEBHOOK_TOKEN": "wh-1a2b",
    "FIREBREAK_API_TOKEN": "api-3c4d",
}


# -- parsing helpers (the integration tests reuse them) ---------------------------------------


def load_compose() -> dict[str, Any]:
    """docker-compose.yml with its YAML anchors and merge keys resolved."""
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return loaded


def interpolate(value: object, variables: dict[str, str] = VARIABLES) -> str:
    """A compose value with its `${VAR:?...}` references replaced, as `docker compose` does."""
    return REQUIRED_VARIABLE.sub(lambda match: variables[match["name"]], str(value))


def load_yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def dockerfile_instructions(text: str | None = None) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    if text is None:
        text = DOCKERFILE.read_text(encoding="utf-8")
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    pairs = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        pairs.append((keyword.upper(), rest.strip()))
    return pairs


def dockerfile_env() -> dict[str, str]:
    """Every ENV key=value of the final image."""
    env: dict[str, str] = {}
    for keyword, rest in final_stage():
        if keyword == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def final_stage() -> list[tuple[str, str]]:
    """The instructions after the last FROM."""
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def image_paths() -> dict[str, Path]:
    """Container path -> repository path for what the final stage COPYs from the context."""
    workdir = PurePosixPath("/")
    paths: dict[str, Path] = {}
    for keyword, rest in final_stage():
        if keyword == "WORKDIR":
            workdir = workdir / rest
        elif keyword == "COPY" and not rest.startswith("--from"):
            source, destination = shlex.split(rest)
            paths[str(workdir / destination)] = ROOT / source
    return paths


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> repository path for a service's bind mounts (short syntax)."""
    mounts: dict[str, Path] = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts[target] = (ROOT / source).resolve()
    return mounts


def named_volume_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> named volume for a service."""
    mounts: dict[str, str] = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if not source.startswith((".", "/")):
            mounts[target] = source
    return mounts


def flag_value(command: list[str], flag: str) -> str:
    """The value of `--flag=value` or `--flag value` in a command list."""
    for i, item in enumerate(command):
        if item.startswith(flag + "="):
            return item.split("=", 1)[1]
        if item == flag:
            return command[i + 1]
    raise AssertionError(f"{flag} not in {command}")


def healthcheck_url(service: dict[str, Any]) -> str:
    """The http:// URL a healthcheck command fetches."""
    match = re.search(r"http://[^'\" ]+", " ".join(service["healthcheck"]["test"]))
    assert match, service["healthcheck"]
    return match.group(0)


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = compose["services"]
    return loaded


# -- docker-compose.yml ----------------------------------------------------------------------


def test_compose_runs_exactly_the_stack(services: dict[str, Any]) -> None:
    """The compose file defines the stores, monitoring, the simulator and Firebreak's processes."""
    assert set(services) == SERVICES


def test_firebreak_services_build_this_repository(services: dict[str, Any]) -> None:
    """Exactly the Firebreak processes are built from the Dockerfile here, as one image."""
    built = {name for name, service in services.items() if "build" in service}
    assert built == FIREBREAK_SERVICES
    assert {services[name]["image"] for name in built} == {"firebreak:latest"}
    for name in built:
        assert (ROOT / services[name]["build"]["context"] / "Dockerfile").resolve() == DOCKERFILE


@pytest.mark.parametrize("name", sorted(FIREBREAK_SERVICES))
def test_firebreak_command_is_a_real_subcommand(services: dict[str, Any], name: str) -> None:
    """Each Firebreak service's command parses with the real `firebreak` argument parser."""
    command = services[name]["command"]
    args = build_parser().parse_args(command)
    assert args.command == command[0]
    assert callable(args.handler)


def test_image_default_command_is_the_api_service(services: dict[str, Any]) -> None:
    """The Dockerfile's CMD is the api service's command, on the port the image exposes."""
    instructions = dict(final_stage())
    cmd = yaml.safe_load(instructions["CMD"])
    assert cmd == services["api"]["command"]
    assert flag_value(cmd, "--port") == instructions["EXPOSE"]


def test_processes_listen_where_healthchecks_and_ports_look(services: dict[str, Any]) -> None:
    """The api and simulator bind every interface on the port their healthcheck and mapping use."""
    for name in ("api", "simulator"):
        command = services[name]["command"]
        port = flag_value(command, "--port")
        assert flag_value(command, "--host") == "0.0.0.0"
        url = urlsplit(healthcheck_url(services[name]))
        assert (url.port, url.path) == (int(port), "/healthz")
        assert any(mapping.endswith(f":{port}") for mapping in services[name]["ports"])


def test_bind_mounted_host_paths_exist(services: dict[str, Any]) -> None:
    """Every file or folder compose bind-mounts is in the repository."""
    mounts = [path for service in services.values() for path in bind_mounts(service).values()]
    assert mounts
    missing = [path for path in mounts if not path.exists()]
    assert not missing


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    """Every named volume a service mounts is declared at the top level."""
    used = {v for s in compose["services"].values() for v in named_volume_mounts(s).values()}
    assert used <= set(compose["volumes"])


def test_depends_on_names_services_in_a_state_they_reach(services: dict[str, Any]) -> None:
    """Waited-for services exist; healthy ones have a healthcheck, completed ones run once."""
    for service in services.values():
        for target, spec in service.get("depends_on", {}).items():
            assert target in services
            if spec["condition"] == "service_healthy":
                assert "test" in services[target]["healthcheck"]
            else:
                assert spec["condition"] == "service_completed_successfully"
                assert services[target]["restart"] == "no"


def test_firebreak_processes_wait_for_a_migrated_database(services: dict[str, Any]) -> None:
    """api, worker and beat start after migrate succeeded and PostgreSQL and Redis are healthy."""
    for name in ("api", "worker", "beat"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_long_running_services_have_healthchecks_and_restart(services: dict[str, Any]) -> None:
    """Every service but the one-shot migration has a healthcheck and restarts unless stopped."""
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service["restart"] == "no"
            continue
        assert service["healthcheck"]["test"][0] in {"CMD", "CMD-SHELL"}, name
        assert not service["healthcheck"].get("disable", False), name
        assert service["restart"] == "unless-stopped", name


def test_firebreak_processes_share_one_configuration(services: dict[str, Any]) -> None:
    """migrate, api, worker and beat get the same settings, mounts and optional env file."""
    shared = ("environment", "volumes", "env_file", "image")
    reference = {key: services["api"][key] for key in shared}
    for name in ("migrate", "worker", "beat"):
        assert {key: services[name][key] for key in shared} == reference
    assert "x-firebreak" in load_compose()


def test_environment_keys_are_settings_fields(services: dict[str, Any]) -> None:
    """Every FIREBREAK_ variable in compose and the image names a real Settings field."""
    keys = {key for name in FIREBREAK_SERVICES for key in services[name].get("environment", {})}
    keys |= set(dockerfile_env())
    firebreak_keys = {key for key in keys if key.startswith(ENV_PREFIX)}
    assert "FIREBREAK_DATABASE_URL" in firebreak_keys
    cli_source = (ROOT / "bot" / "cli.py").read_text(encoding="utf-8")
    unknown = {
        key
        for key in firebreak_keys
        if key.removeprefix(ENV_PREFIX).lower() not in Settings.model_fields
        and f'"{key}"' not in cli_source  # read by the command itself (FIREBREAK_LOG_JSON)
    }
    assert not unknown


def test_secrets_come_from_required_variables(services: dict[str, Any]) -> None:
    """Tokens and the database password are `${VAR:?set VAR}` variables, never literals."""
    env = services["api"]["environment"]
    for key in ("FIREBREAK_WEBHOOK_TOKEN", "FIREBREAK_API_TOKEN"):
        match = REQUIRED_VARIABLE.fullmatch(env[key])
        assert match
        assert match["name"] == key
    assert REQUIRED_VARIABLE.search(env["FIREBREAK_DATABASE_URL"])
    password = services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert REQUIRED_VARIABLE.fullmatch(password)


def test_compose_environment_builds_settings_for_the_stack(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the variables set, the compose environment yields Settings pointing at the services."""
    for key in [key for key in os.environ if key.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(key)
    for key, value in {**dockerfile_env(), **services["api"]["environment"]}.items():
        monkeypatch.setenv(key, interpolate(value))
    settings = Settings()
    assert settings.database_url == "postgresql://firebreak:pg-5e6f@postgres:5432/firebreak"
    assert urlsplit(settings.redis_url).netloc == "redis:6379"
    assert urlsplit(settings.prometheus_url).netloc == "prometheus:9090"
    assert urlsplit(settings.alertmanager_url).netloc == "alertmanager:9093"
    assert settings.webhook_token
    assert settings.webhook_token.get_secret_value() == VARIABLES["FIREBREAK_WEBHOOK_TOKEN"]
    assert str(settings.targets_file) in bind_mounts(services["api"])
    assert str(settings.home) in named_volume_mounts(services["api"])


def test_database_url_matches_the_postgres_service(services: dict[str, Any]) -> None:
    """Firebreak connects as the user, to the database, that the postgres service creates."""
    url = urlsplit(interpolate(services["api"]["environment"]["FIREBREAK_DATABASE_URL"]))
    postgres = {k: interpolate(v) for k, v in services["postgres"]["environment"].items()}
    assert url.scheme == "postgresql"
    assert (url.hostname, url.port) == ("postgres", 5432)
    assert url.username == postgres["POSTGRES_USER"]
    assert url.path == "/" + postgres["POSTGRES_DB"]
    assert url.password == postgres["POSTGRES_PASSWORD"]


# -- deploy/compose configs ------------------------------------------------------------------


def test_compose_prometheus_is_the_shipped_one_with_compose_addresses() -> None:
    """Only the scrape target, Alertmanager address and rule path differ from the shipped file."""
    shipped = load_yaml(SHIPPED_PROMETHEUS)
    composed = load_yaml(COMPOSE_DIR / "prometheus.yml")
    assert composed["scrape_configs"][0]["static_configs"] == [{"targets": ["simulator:9400"]}]
    alerting = composed["alerting"]["alertmanagers"][0]["static_configs"]
    assert alerting == [{"targets": ["alertmanager:9093"]}]
    firebreak = next(job for job in composed["scrape_configs"] if job["job_name"] == "firebreak")
    assert firebreak["static_configs"] == [{"targets": ["api:8080"]}]
    for config in (shipped, composed):
        for job in config["scrape_configs"]:
            job["static_configs"] = []
        config["alerting"]["alertmanagers"][0]["static_configs"] = []
        config["rule_files"] = [PurePosixPath(path).name for path in config["rule_files"]]
    assert composed == shipped


def test_prometheus_evaluates_the_mounted_shipped_rules(services: dict[str, Any]) -> None:
    """The rule glob is the mount of deploy/prometheus/rules, and the config is the one mounted."""
    prometheus = services["prometheus"]
    mounts = bind_mounts(prometheus)
    config_path = flag_value(prometheus["command"], "--config.file")
    assert mounts[config_path] == COMPOSE_DIR / "prometheus.yml"
    (rule_glob,) = load_yaml(COMPOSE_DIR / "prometheus.yml")["rule_files"]
    rule_dir = str(PurePosixPath(rule_glob).parent)
    assert mounts[rule_dir] == ROOT / "deploy" / "prometheus" / "rules"
    assert list(mounts[rule_dir].glob(PurePosixPath(rule_glob).name))
    assert flag_value(prometheus["command"], "--rules.alert.resend-delay")


def test_prometheus_scrapes_the_simulator_service(services: dict[str, Any]) -> None:
    """The scrape target is the simulator's compose name and the port it listens on."""
    port = flag_value(services["simulator"]["command"], "--port")
    config = load_yaml(COMPOSE_DIR / "prometheus.yml")
    assert config["scrape_configs"][0]["static_configs"][0]["targets"] == [f"simulator:{port}"]


def test_compose_alertmanager_is_the_shipped_one_posting_to_the_api(
    services: dict[str, Any],
) -> None:
    """Routing is the shipped file's; the receiver posts to the api service's webhook route."""
    shipped = load_yaml(SHIPPED_ALERTMANAGER)
    composed = load_yaml(COMPOSE_DIR / "alertmanager.yml")
    (webhook,) = composed["receivers"][0]["webhook_configs"]
    url = urlsplit(webhook["url"])
    api_port = int(flag_value(services["api"]["command"], "--port"))
    assert (url.hostname, url.port) == ("api", api_port)
    assert url.path in {route.path for route in webhook_router.routes}
    for config in (shipped, composed):
        receiver = config["receivers"][0]["webhook_configs"][0]
        receiver["url"] = urlsplit(receiver["url"]).path
        receiver["http_config"]["authorization"].pop("credentials_file")
    assert composed == shipped


def test_alertmanager_reads_the_webhook_token_from_its_secret(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    """The bearer credentials file is the secret made from FIREBREAK_WEBHOOK_TOKEN."""
    alertmanager = services["alertmanager"]
    config_path = flag_value(alertmanager["command"], "--config.file")
    assert bind_mounts(alertmanager)[config_path] == COMPOSE_DIR / "alertmanager.yml"
    (grant,) = alertmanager["secrets"]
    secret = grant["source"]
    assert "target" not in grant  # so it is /run/secrets/<source>
    assert grant["uid"] == "65534"  # nobody, the user prom/alertmanager runs as
    assert compose["secrets"][secret] == {"environment": "FIREBREAK_WEBHOOK_TOKEN"}
    composed = load_yaml(COMPOSE_DIR / "alertmanager.yml")
    authorization = composed["receivers"][0]["webhook_configs"][0]["http_config"]["authorization"]
    assert authorization == {"type": "Bearer", "credentials_file": f"/run/secrets/{secret}"}


def test_compose_targets_reach_the_shipped_models_through_the_simulator(
    services: dict[str, Any],
) -> None:
    """The compose targets file names the shipped targets, each at the simulator service."""
    shipped = load_yaml(SHIPPED_TARGETS)["targets"]
    composed = load_yaml(COMPOSE_DIR / "targets.yml")["targets"]
    port = flag_value(services["simulator"]["command"], "--port")
    assert [t["name"] for t in composed] == [t["name"] for t in shipped]
    for target in composed:
        assert target["kind"] == "http"
        assert target["base_url"] == f"http://simulator:{port}"
    targets_path = services["api"]["environment"]["FIREBREAK_TARGETS_FILE"]
    assert bind_mounts(services["api"])[targets_path] == COMPOSE_DIR / "targets.yml"


# -- Dockerfile and .dockerignore ------------------------------------------------------------


def test_dockerfile_builds_wheels_then_installs_on_slim_python() -> None:
    """Two stages on python:3.11-slim: wheels are built first, the final stage installs them."""
    instructions = dockerfile_instructions()
    base = next(rest for keyword, rest in instructions if keyword == "ARG")
    assert base == "PYTHON_IMAGE=python:3.11-slim"
    froms = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    assert any("pip wheel" in run and run.endswith(" .") for run in runs)
    assert any("pip install" in run and "--no-index" in run for run in runs)


def test_dockerfile_runs_as_an_unprivileged_user() -> None:
    """The final stage switches to a named user that is not root."""
    users = [rest for keyword, rest in final_stage() if keyword == "USER"]
    assert users
    user = users[-1].split(":")[0]
    assert user not in {"root", "0", ""}


def test_dockerfile_entrypoint_and_healthcheck() -> None:
    """The entrypoint is `firebreak`, and the healthcheck asks /healthz with Python."""
    instructions = dict(final_stage())
    assert yaml.safe_load(instructions["ENTRYPOINT"]) == ["firebreak"]
    healthcheck = instructions["HEALTHCHECK"]
    assert '"python"' in healthcheck
    assert f"127.0.0.1:{instructions['EXPOSE']}/healthz" in healthcheck


def test_image_ships_runbooks_and_targets_where_settings_point() -> None:
    """Runbooks and targets.yml are copied to the paths the image's settings name."""
    env = dockerfile_env()
    copied = image_paths()
    assert copied[env["FIREBREAK_RUNBOOKS_DIR"]] == ROOT / "runbooks"
    assert copied[env["FIREBREAK_TARGETS_FILE"]] == SHIPPED_TARGETS


def test_firebreak_home_is_a_volume_in_the_image_and_in_compose(services: dict[str, Any]) -> None:
    """FIREBREAK_HOME is a declared image volume and a named volume for the stateful processes."""
    home = dockerfile_env()["FIREBREAK_HOME"]
    volumes = [yaml.safe_load(rest) for keyword, rest in final_stage() if keyword == "VOLUME"]
    assert [home] in volumes
    for name in ("api", "worker", "beat"):
        assert home in named_volume_mounts(services[name])
        assert services[name]["environment"]["FIREBREAK_HOME"] == home


def test_dockerignore_keeps_what_the_image_copies() -> None:
    """Local state and secrets stay out of the build context; copied sources stay in it."""
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for excluded in (".git", ".venv", ".env", "firebreak.env", ".firebreak"):
        assert any(fnmatch(excluded, pattern) for pattern in patterns), excluded
    sources = [
        source
        for keyword, rest in dockerfile_instructions()
        if keyword == "COPY" and not rest.startswith("--from")
        for source in shlex.split(rest)[:-1]
    ]
    assert "pyproject.toml" in sources
    for source in sources:
        top = source.rstrip("/").split("/")[0]
        assert not any(fnmatch(top, pattern) for pattern in patterns), source
        assert (ROOT / source).exists(), source
