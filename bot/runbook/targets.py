"""Targets runbooks act on, configured in a YAML file (`deploy/targets.yml`): each names a
model on either a control API over HTTP or a Kubernetes cluster. Loading checks the file and
reports file:line like runbooks; the registry binds each name to a Target port."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.ports import ClusterTarget, Target
from bot.runbook.document import parse
from bot.runbook.errors import RunbookError

_K8S_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpPaths(_Strict):
    """Path templates of a control API; `{model}` is filled in (URL-quoted)."""

    state: str = "/control/models/{model}"
    replicas: str = "/control/models/{model}/replicas"
    traffic: str = "/control/models/{model}/traffic"
    version: str = "/control/models/{model}/version"


class HttpTargetConfig(_Strict):
    kind: Literal["http"]
    name: str = Field(min_length=1)
    model: str = ""
    base_url: str = Field(pattern=r"^https?://")
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    headers: dict[str, str] = Field(default_factory=dict)
    paths: HttpPaths = Field(default_factory=HttpPaths)


class KubernetesPool(_Strict):
    """One pool: a Deployment, and its Service as the HTTPRoute backendRef."""

    deployment: str = Field(pattern=_K8S_NAME)
    backend: str = Field(default="", pattern=r"^$|" + _K8S_NAME)


class KubernetesTargetConfig(_Strict):
    kind: Literal["kubernetes"]
    name: str = Field(min_length=1)
    model: str = ""
    host: str = ""
    namespace: str = Field(default="default", pattern=_K8S_NAME)
    pools: dict[str, KubernetesPool] = Field(min_length=1)
    route: str = Field(default="", pattern=r"^$|" + _K8S_NAME)
    rollback: Literal["deployment", "kserve"] = "deployment"
    rollback_pool: str = "primary"
    inference_service: str = Field(default="", pattern=r"^$|" + _K8S_NAME)
    version_label: str = "app.kubernetes.io/version"
    known_good_annotation: str = "firebreak.dev/known-good-version"
    verify_ssl: bool = True
    token_path: str = ""
    # Node actions: at most this many nodes cordoned by Firebreak at once in the cluster; a
    # GPU node's pool is this node label's value (GPU feature discovery sets it).
    max_cordoned_nodes: int = Field(default=1, ge=0, le=100)
    node_pool_label: str = "nvidia.com/gpu.product"
    gpu_resource: str = "nvidia.com/gpu"
    drain_retry_interval_s: float = Field(default=5.0, gt=0, le=60)

    @model_validator(mode="after")
    def _consistent(self) -> KubernetesTargetConfig:
        if self.rollback == "kserve" and not self.inference_service:
            raise ValueError("rollback: kserve needs inference_service")
        if self.rollback == "deployment" and self.rollback_pool not in self.pools:
            raise ValueError(f"rollback_pool {self.rollback_pool!r} is not one of the pools")
        return self


TargetConfig = Annotated[HttpTargetConfig | KubernetesTargetConfig, Field(discriminator="kind")]


class TargetsFile(_Strict):
    targets: list[TargetConfig] = Field(default_factory=list)


def model_of(config: HttpTargetConfig | KubernetesTargetConfig) -> str:
    """The model name the Target port is called with: `model`, else the target's name."""
    return config.model or config.name


def load_targets(path: Path) -> list[HttpTargetConfig | KubernetesTargetConfig]:
    """Read a targets file; raises RunbookError with file:line on any problem."""
    try:
        doc = parse(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunbookError(path, 0, f"cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise RunbookError(path, 0, f"not valid YAML: {exc}") from exc
    try:
        parsed = TargetsFile.model_validate(doc.data or {})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        reason = str(first["msg"]).removeprefix("Value error, ")
        raise RunbookError(path, doc.line_of(first["loc"]), f"{where}: {reason}") from exc
    names = [t.name for t in parsed.targets]
    for index, name in enumerate(names):
        if name in names[:index]:
            line = doc.line_of(("targets", index, "name"))
            raise RunbookError(path, line, f"target name {name!r} is used twice")
    return list(parsed.targets)


@dataclass(frozen=True)
class BoundTarget:
    """A configured target name, the model it acts on, the Target that reaches it and, on a
    Kubernetes target, the cluster its node and restart actions act on."""

    name: str
    model: str
    target: Target
    cluster: ClusterTarget | None = None


class TargetRegistry:
    """Targets by name, as runbooks' `target` templates resolve them."""

    def __init__(self, bound: Iterable[BoundTarget]) -> None:
        self._by_name = {b.name: b for b in bound}

    def get(self, name: str) -> BoundTarget | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    @classmethod
    def build(
        cls,
        configs: Iterable[HttpTargetConfig | KubernetesTargetConfig],
        factory: Callable[[HttpTargetConfig | KubernetesTargetConfig], Target],
    ) -> TargetRegistry:
        """Bind each configured target through `factory` (the composition root picks adapters)."""
        bound = []
        for config in configs:
            target = factory(config)
            cluster = target if isinstance(target, ClusterTarget) else None
            bound.append(BoundTarget(config.name, model_of(config), target, cluster))
        return cls(bound)
