"""deploy/kubernetes (the kustomize base) and its external-services overlay agree with the code.

Both are rendered with the real `kubectl kustomize` and every object is validated offline against
the Kubernetes OpenAPI schemas (kubernetes-validate). Commands go through the real `firebreak`
argument parser, probes are checked against the real routes, settings through Settings, the image
and commands against docker-compose.yml, and the RBAC rules are derived from the client calls
bot/adapters/kubernetes*.py (KubernetesTarget and the node actions) make.
"""

from __future__ import annotations

import ast
import inspect
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes.client
import kubernetes_validate
import pytest
import yaml

from bot.adapters.kubernetes_target import GATEWAY, KSERVE
from bot.cli import build_parser
from bot.runbook.targets import KubernetesTargetConfig, load_targets
from bot.settings import Settings
from bot.web.routes.health import router as health_router
from tests.unit.test_compose import dockerfile_env, final_stage, load_compose

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE_ROOT = ROOT / "deploy" / "kubernetes"
OVERLAY = KUSTOMIZE_ROOT / "overlays" / "external-services"
ADAPTERS = ROOT / "bot" / "adapters"  # its kubernetes*.py are the only Kubernetes clients
NAMESPACE = "firebreak"
SERVICE_ACCOUNT = "firebreak"
SECRET = "firebreak-secrets"
SCHEMA_VERSIONS = ("1.29.0", "1.33.0")  # oldest and newest Kubernetes minors we claim to run on

# Firebreak's processes: workload name -> the docker-compose service running the same command.
PROCESSES = {
    ("Deployment", "firebreak-api"): "api",
    ("Deployment", "firebreak-worker"): "worker",
    ("Deployment", "firebreak-beat"): "beat",
    ("Job", "firebreak-db-upgrade"): "migrate",
}
STORES = {("StatefulSet", "postgres"): "postgres", ("StatefulSet", "redis"): "redis"}
CALLS_KUBERNETES = {"firebreak-api", "firebreak-worker"}  # build runbook targets at start

# Every Kubernetes client call the adapters may make -> the RBAC it needs: (role, (apiGroup,
# resource, verb)). A call an adapter makes that is missing here fails the tests, so the RBAC
# is reviewed whenever the adapters grow.
TARGETS_ROLE = "firebreak-runbook-targets"
NODES_ROLE = "firebreak-node-actions"
_CUSTOM = (GATEWAY, KSERVE)
CLIENT_CALLS: dict[str, list[tuple[str, tuple[str, str, str]]]] = {
    "read_namespaced_deployment_scale": [(TARGETS_ROLE, ("apps", "deployments/scale", "get"))],
    "patch_namespaced_deployment_scale": [(TARGETS_ROLE, ("apps", "deployments/scale", "patch"))],
    "read_namespaced_deployment": [(TARGETS_ROLE, ("apps", "deployments", "get"))],
    "patch_namespaced_deployment": [(TARGETS_ROLE, ("apps", "deployments", "patch"))],
    "list_namespaced_replica_set": [(TARGETS_ROLE, ("apps", "replicasets", "list"))],
    "get_namespaced_custom_object": [
        (TARGETS_ROLE, (g, plural, "get")) for g, _, plural in _CUSTOM
    ],
    "patch_namespaced_custom_object": [
        (TARGETS_ROLE, (g, plural, "patch")) for g, _, plural in _CUSTOM
    ],
    # node actions (cordon, taint, drain a GPU node)
    "read_node": [(NODES_ROLE, ("", "nodes", "get"))],
    "list_node": [(NODES_ROLE, ("", "nodes", "list"))],
    "patch_node": [(NODES_ROLE, ("", "nodes", "patch"))],
    "list_pod_for_all_namespaces": [(NODES_ROLE, ("", "pods", "list"))],
    "create_namespaced_pod_eviction": [(NODES_ROLE, ("", "pods/eviction", "create"))],
}
# The node actions (cordon, drain) need exactly these, and are granted never more.
NODE_ACTIONS = {
    ("", "nodes", "get"),
    ("", "nodes", "list"),
    ("", "nodes", "patch"),
    ("", "pods", "list"),
    ("", "pods/eviction", "create"),
}
SECRET_WORDS = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY|_KEY$", re.IGNORECASE)
# The Secret as the README tells the operator to create it, for the base and for the overlay.
BASE_SECRET = {
    "FIREBREAK_WEBHOOK_TOKEN": "wh-1a2b",
    "FIREBREAK_API_TOKEN": "api-3c4d",
    "POSTGRES_PASSWORD": "pg-5e6f",
}
OVERLAY_SECRET = {
    "FIREBREAK_WEBHOOK_TOKEN": "wh-1a2b",
    "FIREBREAK_API_TOKEN": "api-3c4d",
    "FIREBREAK_DATABASE_URL": "postgresql://fb:pg-7a8b@db.example.internal:5432/firebreak",
    "FIREBREAK_REDIS_URL": "redis://:rd-9c0d@redis.example.internal:6379/0",
}


# -- rendering and lookups ------------------------------------------------------------------------


def render(path: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize` builds from `path`."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to render deploy/kubernetes (.ci/run installs it)"
    built = subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, check=False, timeout=120
    )
    assert built.returncode == 0, built.stderr  # kustomize v5 (kubectl 1.27+) is needed
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def named(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def generated(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The ConfigMap a configMapGenerator made from `name` (kustomize appends a hash)."""
    (found,) = [
        o
        for o in objects
        if o["kind"] == "ConfigMap"
        and re.fullmatch(rf"{name}-[a-z0-9]{{10}}", o["metadata"]["name"])
    ]
    return found


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(workload name, pod spec) for every Deployment, StatefulSet and Job."""
    for obj in objects:
        if obj["kind"] in {"Deployment", "StatefulSet", "Job"}:
            yield obj["metadata"]["name"], obj["spec"]["template"]["spec"]


def firebreak_container(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (container,) = find(objects, kind, name)["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def container_env(
    objects: list[dict[str, Any]], container: dict[str, Any], secret: dict[str, str]
) -> dict[str, str]:
    """The environment the kubelet gives `container`: envFrom first, then env with $(VAR)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(find(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
        else:
            assert source["secretRef"]["name"] == SECRET
            env.update(secret)
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m[1]], item["value"])
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            assert ref["name"] == SECRET
            env[item["name"]] = secret[ref["key"]]
    return env


def rbac_rules(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    """A Role's rules as (apiGroup, resource, verb) triples."""
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def client_api_methods() -> set[str]:
    """Every API call of the Kubernetes client's *Api classes (CoreV1Api, AppsV1Api, ...).

    A method is a call to the API server when it has a `_with_http_info` twin.
    """
    methods: set[str] = set()
    for name, cls in inspect.getmembers(kubernetes.client, inspect.isclass):
        if name.endswith("Api"):
            names = {method for method, _ in inspect.getmembers(cls, inspect.isfunction)}
            methods |= {m for m in names if f"{m}_with_http_info" in names}
    return methods


def adapter_calls() -> set[str]:
    """The Kubernetes client methods that bot/adapters/kubernetes*.py name."""
    methods = client_api_methods()
    calls: set[str] = set()
    for path in sorted(ADAPTERS.glob("kubernetes*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls |= {
            node.attr.removesuffix("_with_http_info")
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in methods
        }
    return calls


def kubernetes_target_namespaces(objects: list[dict[str, Any]], tmp_path: Path) -> set[str]:
    """The namespaces of the kubernetes targets in the targets file the base mounts."""
    path = tmp_path / "targets.yml"
    path.write_text(generated(objects, "firebreak-targets")["data"]["targets.yml"])
    return {t.namespace for t in load_targets(path) if isinstance(t, KubernetesTargetConfig)}


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return render(KUSTOMIZE_ROOT)


@pytest.fixture(scope="module")
def overlay() -> list[dict[str, Any]]:
    return render(OVERLAY)


@pytest.fixture(scope="module", params=["base", "overlay"])
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """Each test using it runs on the base and on the external-services overlay."""
    objects: list[dict[str, Any]] = request.getfixturevalue(request.param)
    return objects


@pytest.fixture(scope="module")
def compose_services() -> dict[str, Any]:
    services: dict[str, Any] = load_compose()["services"]
    return services


# -- what is rendered -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_every_object_validates_against_the_kubernetes_schemas(
    rendered: list[dict[str, Any]], version: str
) -> None:
    """Every rendered object is valid, with no unknown field, for the Kubernetes versions named."""
    assert len(rendered) > 10
    for obj in rendered:
        kubernetes_validate.validate(obj, version, strict=True)


def test_base_renders_the_processes_the_stores_and_their_plumbing(
    base: list[dict[str, Any]],
) -> None:
    """The base holds Firebreak's processes, PostgreSQL and Redis, and what they need to run."""
    kinds = {(o["kind"], o["metadata"]["name"]) for o in base if o["kind"] != "ConfigMap"}
    assert kinds == {
        *PROCESSES,
        *STORES,
        ("Namespace", NAMESPACE),
        ("ServiceAccount", SERVICE_ACCOUNT),
        ("ClusterRole", TARGETS_ROLE),
        ("RoleBinding", TARGETS_ROLE),
        ("ClusterRole", NODES_ROLE),
        ("ClusterRoleBinding", NODES_ROLE),
        ("Service", "firebreak-api"),
        ("Service", "postgres"),
        ("Service", "redis"),
        ("PodDisruptionBudget", "firebreak-api"),
        ("NetworkPolicy", "default-deny"),
        ("NetworkPolicy", "firebreak-api-ingress"),
        ("NetworkPolicy", "firebreak-egress"),
        ("NetworkPolicy", "postgres-ingress"),
        ("NetworkPolicy", "redis-ingress"),
    }
    assert generated(base, "firebreak-settings")
    assert generated(base, "firebreak-targets")


def test_overlay_drops_the_stores_and_nothing_else(
    base: list[dict[str, Any]], overlay: list[dict[str, Any]]
) -> None:
    """external-services removes PostgreSQL and Redis with their Services and policies only."""
    ids = {(o["kind"], o["metadata"]["name"].rsplit("-", 1)[0]) for o in base}
    kept = {(o["kind"], o["metadata"]["name"].rsplit("-", 1)[0]) for o in overlay}
    removed = {(o["kind"], o["metadata"]["name"]) for o in base} - {
        (o["kind"], o["metadata"]["name"]) for o in overlay
    }
    assert {r for r in removed if r[0] != "ConfigMap"} == {
        *STORES,
        ("Service", "postgres"),
        ("Service", "redis"),
        ("NetworkPolicy", "postgres-ingress"),
        ("NetworkPolicy", "redis-ingress"),
    }
    assert kept <= ids


def test_objects_live_in_firebreaks_namespace(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    """Everything namespaced is in `firebreak`, but the target RoleBindings in the models' own."""
    namespace = find(rendered, "Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    elsewhere = {
        (o["kind"], o["metadata"]["namespace"])
        for o in rendered
        if o["kind"] not in cluster_scoped and o["metadata"]["namespace"] != NAMESPACE
    }
    targets = kubernetes_target_namespaces(rendered, tmp_path)
    assert elsewhere == {("RoleBinding", ns) for ns in targets}
    assert NAMESPACE not in targets


def test_references_resolve(rendered: list[dict[str, Any]]) -> None:
    """ConfigMaps and ServiceAccounts that pods name are rendered; Secrets are the operator's."""
    config_maps = set(named(rendered, "ConfigMap"))
    accounts = set(named(rendered, "ServiceAccount"))
    for _, spec in pod_specs(rendered):
        assert spec.get("serviceAccountName", SERVICE_ACCOUNT) in accounts
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps
        for container in spec["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps
                else:
                    assert source["secretRef"]["name"] == SECRET
                    assert not source["secretRef"].get("optional", False)


# -- RBAC -------------------------------------------------------------------------------------


def test_client_calls_table_covers_every_call_the_adapter_makes() -> None:
    """Each Kubernetes client method the adapter names has its RBAC in CLIENT_CALLS."""
    calls = adapter_calls()
    assert {"patch_namespaced_deployment_scale", "get_namespaced_custom_object"} <= calls
    assert calls <= set(CLIENT_CALLS), sorted(calls - set(CLIENT_CALLS))
    assert set(CLIENT_CALLS) <= client_api_methods()


def test_rbac_grants_exactly_what_the_adapter_calls(rendered: list[dict[str, Any]]) -> None:
    """The target ClusterRole is the adapter's calls; the node role is the planned node actions."""
    needed: dict[str, set[tuple[str, str, str]]] = {TARGETS_ROLE: set(), NODES_ROLE: set()}
    for call in adapter_calls():
        for role, rule in CLIENT_CALLS[call]:
            needed[role].add(rule)
    assert needed[NODES_ROLE] <= NODE_ACTIONS
    roles = named(rendered, "ClusterRole")
    assert set(roles) == {TARGETS_ROLE, NODES_ROLE}
    assert not named(rendered, "Role")
    assert rbac_rules(roles[TARGETS_ROLE]) == needed[TARGETS_ROLE]
    assert rbac_rules(roles[NODES_ROLE]) == NODE_ACTIONS


def test_rbac_has_no_wildcards_and_nothing_beyond_plain_rules(
    rendered: list[dict[str, Any]],
) -> None:
    """No `*` anywhere in a rule, no resourceNames or URLs, no aggregation."""
    for role in [o for o in rendered if o["kind"] in {"Role", "ClusterRole"}]:
        assert "aggregationRule" not in role
        for rule in role["rules"]:
            assert set(rule) == {"apiGroups", "resources", "verbs"}
            for field in ("apiGroups", "resources", "verbs"):
                assert all("*" not in item for item in rule[field]), rule
            assert not {"escalate", "bind", "impersonate", "delete", "deletecollection"} & set(
                rule["verbs"]
            )


def test_bindings_give_firebreaks_roles_to_its_service_account_only(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    """No cluster-admin (or any role not shipped here); targets bound per model namespace."""
    subject = {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}
    bindings = [o for o in rendered if o["kind"] in {"RoleBinding", "ClusterRoleBinding"}]
    for binding in bindings:
        assert binding["subjects"] == [subject]
        assert binding["roleRef"]["kind"] == "ClusterRole"
        assert binding["roleRef"]["name"] in {TARGETS_ROLE, NODES_ROLE}
        assert binding["roleRef"]["name"] not in {"cluster-admin", "admin", "edit"}
    cluster_wide = {b["roleRef"]["name"] for b in bindings if b["kind"] == "ClusterRoleBinding"}
    assert cluster_wide == {NODES_ROLE}
    per_namespace = {
        b["metadata"]["namespace"]
        for b in bindings
        if b["kind"] == "RoleBinding" and b["roleRef"]["name"] == TARGETS_ROLE
    }
    assert per_namespace == kubernetes_target_namespaces(rendered, tmp_path)


def test_only_pods_that_call_kubernetes_mount_a_token(rendered: list[dict[str, Any]]) -> None:
    """The API and worker run as the ServiceAccount; beat, migration and stores get no token."""
    for name, spec in pod_specs(rendered):
        if name in CALLS_KUBERNETES:
            assert spec["serviceAccountName"] == SERVICE_ACCOUNT
            assert spec.get("automountServiceAccountToken", True)
        else:
            assert "serviceAccountName" not in spec
            assert spec["automountServiceAccountToken"] is False


# -- processes: commands, image, probes ---------------------------------------------------------


def test_processes_run_the_compose_commands_in_the_compose_image(
    rendered: list[dict[str, Any]], compose_services: dict[str, Any]
) -> None:
    """Each process runs compose's image, with the Dockerfile entrypoint and compose's command."""
    entrypoint = yaml.safe_load(dict(final_stage())["ENTRYPOINT"])
    for (kind, name), service in PROCESSES.items():
        container = firebreak_container(rendered, kind, name)
        assert container["image"] == compose_services[service]["image"] == "firebreak:latest"
        assert container["command"] == entrypoint
        assert container["args"] == compose_services[service]["command"]
        args = build_parser().parse_args(container["args"])
        assert callable(args.handler)
    stores = [
        (o, STORES[o["kind"], o["metadata"]["name"]])
        for o in rendered
        if o["kind"] == "StatefulSet"
    ]
    for store, service in stores:
        (container,) = store["spec"]["template"]["spec"]["containers"]
        assert container["image"] == compose_services[service]["image"]


def test_api_probes_ask_real_routes_on_the_port_it_listens_on(
    rendered: list[dict[str, Any]],
) -> None:
    """Readiness is /readyz, liveness and startup /healthz, on the port named in `--port`."""
    container = firebreak_container(rendered, "Deployment", "firebreak-api")
    routes = {route.path for route in health_router.routes}  # type: ignore[attr-defined]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    args = build_parser().parse_args(container["args"])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert args.host == "0.0.0.0"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] in routes
        assert ports[container[probe]["httpGet"]["port"]] == args.port
    service = find(rendered, "Service", "firebreak-api")
    (port,) = service["spec"]["ports"]
    assert ports[port["targetPort"]] == args.port


def test_worker_liveness_is_the_heartbeat_check(rendered: list[dict[str, Any]]) -> None:
    """The worker's startup and liveness probes run `firebreak worker --check`."""
    container = firebreak_container(rendered, "Deployment", "firebreak-worker")
    for probe in ("startupProbe", "livenessProbe"):
        command = container[probe]["exec"]["command"]
        assert command[0] == "firebreak"
        args = build_parser().parse_args(command[1:])
        assert (args.command, args.check) == ("worker", True)
        assert container[probe]["timeoutSeconds"] >= 5
    grace = find(rendered, "Deployment", "firebreak-worker")["spec"]["template"]["spec"]
    assert grace["terminationGracePeriodSeconds"] >= 60


def test_beat_is_a_single_replica_replaced_not_rolled(
    rendered: list[dict[str, Any]], compose_services: dict[str, Any]
) -> None:
    """One beat, Recreate strategy, and compose's schedule-file liveness check."""
    beat = find(rendered, "Deployment", "firebreak-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    (container,) = beat["spec"]["template"]["spec"]["containers"]
    test = compose_services["beat"]["healthcheck"]["test"]
    assert container["livenessProbe"]["exec"]["command"] == test[1:]


def test_migration_job_retries_and_never_runs_as_a_service(
    rendered: list[dict[str, Any]],
) -> None:
    """The db upgrade Job restarts on failure (PostgreSQL may still be starting), with a limit."""
    job = find(rendered, "Job", "firebreak-db-upgrade")
    assert job["spec"]["template"]["spec"]["restartPolicy"] in {"OnFailure", "Never"}
    assert 0 < job["spec"]["backoffLimit"] <= 20


def test_api_disruption_budget_and_service_select_the_api_pods(
    rendered: list[dict[str, Any]],
) -> None:
    """The Service and PodDisruptionBudget select the API's pods, and the budget can be met."""
    api = find(rendered, "Deployment", "firebreak-api")
    labels = api["spec"]["template"]["metadata"]["labels"]
    service = find(rendered, "Service", "firebreak-api")
    budget = find(rendered, "PodDisruptionBudget", "firebreak-api")
    assert service["spec"]["selector"].items() <= labels.items()
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert api["spec"]["selector"]["matchLabels"] == budget["spec"]["selector"]["matchLabels"]
    assert 1 <= budget["spec"]["minAvailable"] < api["spec"]["replicas"]
    assert api["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


# -- settings and secrets -----------------------------------------------------------------------


def test_processes_share_one_configuration(rendered: list[dict[str, Any]]) -> None:
    """migrate, api, worker and beat get the same env, settings, mounts and security context."""
    shared = ("env", "envFrom", "volumeMounts", "securityContext", "image")
    containers = [firebreak_container(rendered, kind, name) for kind, name in PROCESSES]
    reference = {key: containers[0][key] for key in shared}
    for container in containers[1:]:
        assert {key: container[key] for key in shared} == reference
    specs = [find(rendered, kind, name)["spec"]["template"]["spec"] for kind, name in PROCESSES]
    assert all(spec["volumes"] == specs[0]["volumes"] for spec in specs)
    assert all(spec["securityContext"] == specs[0]["securityContext"] for spec in specs)


def test_settings_config_map_names_settings_and_holds_no_secret(
    rendered: list[dict[str, Any]],
) -> None:
    """Every key of the settings ConfigMap is a Settings field and none of them is a secret."""
    data = generated(rendered, "firebreak-settings")["data"]
    assert data
    for key, value in data.items():
        assert key.startswith("FIREBREAK_")
        assert key.removeprefix("FIREBREAK_").lower() in Settings.model_fields, key
        assert not SECRET_WORDS.search(key), key
        assert urlsplit(value).password is None, key
    for name, field in Settings.model_fields.items():
        if "SecretStr" in str(field.annotation):
            assert f"FIREBREAK_{name.upper()}" not in data


def test_no_secret_value_is_embedded(rendered: list[dict[str, Any]]) -> None:
    """No Secret object is shipped; secret-named variables come from the operator's Secret."""
    assert not [o for o in rendered if o["kind"] == "Secret"]
    for _, spec in pod_specs(rendered):
        for container in spec["containers"]:
            for item in container.get("env", []):
                if "value" in item:
                    assert not SECRET_WORDS.search(item["name"]), item
                    password = urlsplit(item["value"]).password
                    assert password is None or re.fullmatch(r"\$\(\w+\)", password), item
                else:
                    ref = item["valueFrom"]["secretKeyRef"]
                    assert ref["name"] == SECRET
                    assert not ref.get("optional", False)
    text = yaml.safe_dump_all(rendered)
    for value in {**BASE_SECRET, **OVERLAY_SECRET}.values():
        assert value not in text


def test_required_tokens_come_from_the_secret(rendered: list[dict[str, Any]]) -> None:
    """Both tokens are required keys of the Secret, so a missing one stops the pod from starting."""
    for kind, name in PROCESSES:
        env = {e["name"]: e for e in firebreak_container(rendered, kind, name)["env"]}
        for key in ("FIREBREAK_WEBHOOK_TOKEN", "FIREBREAK_API_TOKEN"):
            assert env[key]["valueFrom"]["secretKeyRef"] == {"name": SECRET, "key": key}


def test_base_settings_reach_its_own_postgres_and_redis(base: list[dict[str, Any]]) -> None:
    """With the Secret's values, Settings connect to the base's PostgreSQL and Redis Services."""
    container = firebreak_container(base, "Deployment", "firebreak-api")
    settings = Settings(**settings_kwargs(container_env(base, container, BASE_SECRET)))
    database = urlsplit(settings.database_url)
    (postgres,) = find(base, "StatefulSet", "postgres")["spec"]["template"]["spec"]["containers"]
    postgres_env = container_env(base, postgres, BASE_SECRET)
    assert database.scheme == "postgresql"
    assert (database.hostname, database.port) == ("postgres", service_port(base, "postgres"))
    assert database.username == postgres_env["POSTGRES_USER"]
    assert (
        database.password == postgres_env["POSTGRES_PASSWORD"] == BASE_SECRET["POSTGRES_PASSWORD"]
    )
    assert database.path == "/" + postgres_env["POSTGRES_DB"]
    redis = urlsplit(settings.redis_url)
    assert (redis.hostname, redis.port) == ("redis", service_port(base, "redis"))
    assert settings.webhook_token is not None
    assert settings.webhook_token.get_secret_value() == BASE_SECRET["FIREBREAK_WEBHOOK_TOKEN"]
    assert settings.missing_tokens == []


def test_overlay_settings_take_both_urls_from_the_secret(overlay: list[dict[str, Any]]) -> None:
    """Under external-services the database and Redis URLs are the Secret's, nothing else."""
    for kind, name in PROCESSES:
        container = firebreak_container(overlay, kind, name)
        env = container_env(overlay, container, OVERLAY_SECRET)
        settings = Settings(**settings_kwargs(env))
        assert settings.database_url == OVERLAY_SECRET["FIREBREAK_DATABASE_URL"]
        assert settings.redis_url == OVERLAY_SECRET["FIREBREAK_REDIS_URL"]
        assert "POSTGRES_PASSWORD" not in {e["name"] for e in container["env"]}
    assert "FIREBREAK_REDIS_URL" not in generated(overlay, "firebreak-settings")["data"]


def settings_kwargs(env: dict[str, str]) -> dict[str, Any]:
    """Settings field values from an environment, as pydantic-settings would read them."""
    return {
        key.removeprefix("FIREBREAK_").lower(): value
        for key, value in env.items()
        if key.startswith("FIREBREAK_") and key.removeprefix("FIREBREAK_").lower() != "log_json"
    }


def service_port(objects: list[dict[str, Any]], name: str) -> int:
    (port,) = find(objects, "Service", name)["spec"]["ports"]
    return int(port["port"])


def test_targets_file_is_mounted_where_settings_point(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The targets ConfigMap is mounted at FIREBREAK_TARGETS_FILE and loads as a targets file."""
    data = generated(rendered, "firebreak-settings")["data"]
    targets = Path(data["FIREBREAK_TARGETS_FILE"])
    assert kubernetes_target_namespaces(rendered, tmp_path)
    container = firebreak_container(rendered, "Deployment", "firebreak-worker")
    spec = find(rendered, "Deployment", "firebreak-worker")["spec"]["template"]["spec"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(targets.parent)]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert (
        volume["configMap"]["name"] == generated(rendered, "firebreak-targets")["metadata"]["name"]
    )
    assert targets.name in generated(rendered, "firebreak-targets")["data"]


# -- security ----------------------------------------------------------------------------------


def test_every_container_has_requests_and_limits(rendered: list[dict[str, Any]]) -> None:
    """CPU and memory requests and limits on every container, requests within limits."""
    for name, spec in pod_specs(rendered):
        for container in spec["containers"] + spec.get("initContainers", []):
            resources = container["resources"]
            for key in ("cpu", "memory"):
                request = quantity(resources["requests"][key])
                limit = quantity(resources["limits"][key])
                assert 0 < request <= limit, (name, key)


def quantity(value: str | int) -> float:
    """A Kubernetes quantity (250m, 512Mi, 2) as a number."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "": 1}
    match = re.fullmatch(r"([0-9.]+)(m|Ki|Mi|Gi|)", str(value))
    assert match, value
    return float(match[1]) * units[match[2]]


def test_every_pod_runs_non_root_read_only_without_capabilities(
    rendered: list[dict[str, Any]],
) -> None:
    """Non-root, RuntimeDefault seccomp, read-only root, no privilege escalation, ALL dropped."""
    for name, spec in pod_specs(rendered):
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] > 0, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert not spec.get("hostNetwork"), name
        assert not spec.get("hostPID"), name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert not context.get("privileged"), name


def test_firebreak_runs_as_the_images_user_with_writable_home_and_tmp(
    rendered: list[dict[str, Any]],
) -> None:
    """The pod user is the Dockerfile's; FIREBREAK_HOME and /tmp (matplotlib) are emptyDirs."""
    uid = re.search(r"--uid (\d+)", " ".join(rest for _, rest in final_stage()))
    assert uid
    home = generated(rendered, "firebreak-settings")["data"]["FIREBREAK_HOME"]
    assert home == dockerfile_env()["FIREBREAK_HOME"]
    assert dockerfile_env()["MPLCONFIGDIR"].startswith("/tmp/")
    for kind, name in PROCESSES:
        spec = find(rendered, kind, name)["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsUser"] == int(uid[1])
        volumes = {v["name"]: v for v in spec["volumes"]}
        (container,) = spec["containers"]
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
        assert "emptyDir" in mounts[home]
        assert "emptyDir" in mounts["/tmp"]


# -- network ------------------------------------------------------------------------------------


def egress_rules(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = find(objects, "NetworkPolicy", "firebreak-egress")["spec"][
        "egress"
    ]
    return rules


def rule_for(rules: list[dict[str, Any]], port: int, protocol: str = "TCP") -> dict[str, Any]:
    (found,) = [r for r in rules if {"protocol": protocol, "port": port} in r["ports"]]
    return found


def test_network_is_denied_by_default_and_the_api_port_is_open(
    rendered: list[dict[str, Any]],
) -> None:
    """A default-deny policy covers every pod; the API accepts on its container port only."""
    deny = find(rendered, "NetworkPolicy", "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    api = find(rendered, "NetworkPolicy", "firebreak-api-ingress")["spec"]
    container = firebreak_container(rendered, "Deployment", "firebreak-api")
    (port,) = container["ports"]
    assert api["ingress"] == [{"ports": [{"protocol": "TCP", "port": port["containerPort"]}]}]
    labels = find(rendered, "Deployment", "firebreak-api")["spec"]["template"]["metadata"]
    assert api["podSelector"]["matchLabels"].items() <= labels["labels"].items()


def test_egress_reaches_what_settings_name(rendered: list[dict[str, Any]]) -> None:
    """DNS, HTTPS (Slack, LLM, the API server) and Prometheus/Alertmanager where settings say."""
    rules = egress_rules(rendered)
    dns = rule_for(rules, 53, "UDP")
    assert {"protocol": "TCP", "port": 53} in dns["ports"]
    assert "to" not in rule_for(rules, 443)
    data = generated(rendered, "firebreak-settings")["data"]
    for key in ("FIREBREAK_PROMETHEUS_URL", "FIREBREAK_ALERTMANAGER_URL"):
        url = urlsplit(data[key])
        assert url.port
        assert url.hostname
        namespace = url.hostname.split(".")[1]
        rule = rule_for(rules, url.port)
        selector = {"kubernetes.io/metadata.name": namespace}
        assert rule["to"] == [{"namespaceSelector": {"matchLabels": selector}}]
    policy = find(rendered, "NetworkPolicy", "firebreak-egress")["spec"]["podSelector"]
    for kind, name in PROCESSES:
        labels = find(rendered, kind, name)["spec"]["template"]["metadata"]["labels"]
        assert policy["matchLabels"].items() <= labels.items()


def test_base_stores_talk_only_to_firebreak(base: list[dict[str, Any]]) -> None:
    """Egress to PostgreSQL and Redis names their pods; their ingress admits Firebreak's only."""
    rules = egress_rules(base)
    firebreak = find(base, "NetworkPolicy", "firebreak-egress")["spec"]["podSelector"]
    for (kind, name), policy in zip(STORES, ("postgres-ingress", "redis-ingress"), strict=True):
        template = find(base, kind, name)["spec"]["template"]
        port = service_port(base, name)
        (to,) = rule_for(rules, port)["to"]
        assert to["podSelector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
        ingress = find(base, "NetworkPolicy", policy)["spec"]
        assert (
            ingress["podSelector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
        )
        assert ingress["ingress"] == [
            {"from": [{"podSelector": firebreak}], "ports": [{"protocol": "TCP", "port": port}]}
        ]


def test_overlay_egress_reaches_external_stores_by_port(overlay: list[dict[str, Any]]) -> None:
    """Without in-cluster stores, egress allows the PostgreSQL and Redis ports to any address."""
    rules = egress_rules(overlay)
    for port in (5432, 6379):
        assert rule_for(rules, port) == {"ports": [{"protocol": "TCP", "port": port}]}
    assert not [r for r in rules if any("podSelector" in t for t in r.get("to", []))]


# -- documentation and CI -----------------------------------------------------------------------


def test_readme_and_ci_describe_the_same_deployment() -> None:
    """The README applies both kustomizations and names the Secret; .ci/run installs kubectl."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "kubectl apply -k deploy/kubernetes\n" in readme
    assert "kubectl apply -k deploy/kubernetes/overlays/external-services" in readme
    assert f"create secret generic {SECRET}" in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "command -v kubectl >/dev/null || need_apt+=(kubernetes-client)" in ci
