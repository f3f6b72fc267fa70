"""The signal catalogue as data: the shipped `catalogue.yml`, a user's overrides merged on top,
validated once at start so a bad entry fails with its name and reason, never mid-incident.

A user whose labels or exporters differ (`model` instead of `model_name`, recording rules,
TGI / SGLang / Triton names) overrides entries in their own file: labels, topology queries and
causes merge key by key; signals merge by name, field by field; `enabled: false` drops one.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.correlation.templates import Evaluator, Scope, Signal, Support
from bot.domain.findings import Direction, HypothesisKind

DEFAULT_FILE = Path(__file__).with_name("catalogue.yml")
_SUPPORT = re.compile(
    r"^(?P<kind>[a-z_]+)\s+(?P<direction>up|down)\s+(?P<weight>-?\d+(\.\d+)?)(?P<localized>\s+localized)?$"
)
_SIGNAL_SCOPES = {Scope.MODEL, Scope.PODS, Scope.GPUS, Scope.NODES, Scope.HOSTS}
BACKENDS = ("vllm", "http", "dcgm", "kube", "drift", "rollout")


class CatalogueError(ValueError):
    """The catalogue (shipped or overridden) is invalid; the message names the entry."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LabelNames(_Strict):
    """The label names the topology reads from query answers."""

    model: str = "model_name"
    namespace: str = "namespace"
    pod: str = "pod"
    node: str = "node"
    replicaset: str = "created_by_name"
    image: str = "image"
    gpu_host: str = "Hostname"
    gpu: str = "gpu"
    gpu_uuid: str = "UUID"


class TopologyQueries(_Strict):
    """The queries that resolve model → pods → nodes → GPUs → images."""

    pods: str
    models: str
    pod_info: str
    pods_on_nodes: str
    pod_images: str
    gpus: str
    gpus_of_pods: str
    not_ready: str
    restarts: str


class SignalEntry(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    backend: str
    query: str = Field(min_length=1)
    expected: Literal["up", "down"]
    unit: str = ""
    floor: float = Field(default=1e-3, gt=0)
    symptom: bool = False
    evaluator: Literal["robust", "xid"] = "robust"
    supports: list[str] = Field(default_factory=list)
    description: str = ""
    enabled: bool = True

    @field_validator("supports")
    @classmethod
    def _supports_parse(cls, value: list[str]) -> list[str]:
        for text in value:
            _support(text)
        return value

    @field_validator("query")
    @classmethod
    def _query_scoped(cls, value: str) -> str:
        probe = Signal("probe", "", value, Direction.UP)
        if not probe.scopes & _SIGNAL_SCOPES:
            raise ValueError("query has no $model, $pods, $gpus, $nodes or $hosts scope")
        return value


class CatalogueFile(_Strict):
    labels: LabelNames = Field(default_factory=LabelNames)
    topology: TopologyQueries
    causes: dict[HypothesisKind, list[str]]
    signals: list[SignalEntry]


def _support(text: str) -> Support:
    match = _SUPPORT.match(text.strip())
    if match is None:
        raise ValueError(f"support {text!r} is not '<cause> <up|down> <weight> [localized]'")
    try:
        kind = HypothesisKind(match["kind"])
    except ValueError:
        kinds = ", ".join(k.value for k in HypothesisKind if k is not HypothesisKind.UNKNOWN)
        raise ValueError(f"support {text!r}: unknown cause (one of {kinds})") from None
    return Support(
        kind, Direction(match["direction"]), float(match["weight"]), bool(match["localized"])
    )


@dataclass(frozen=True)
class Catalogue:
    """The validated catalogue triage runs with."""

    labels: LabelNames
    topology: TopologyQueries
    causes: dict[HypothesisKind, tuple[str, ...]]
    signals: tuple[Signal, ...]

    def signal(self, name: str) -> Signal:
        for signal in self.signals:
            if signal.name == name:
                return signal
        raise KeyError(name)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CatalogueError(f"{path}: expected a mapping at the top")
    return data


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Overrides on top of the base: mappings key by key, signals by name, field by field."""
    merged = dict(base)
    for key in ("labels", "topology", "causes"):
        if key in override:
            merged[key] = {**base.get(key, {}), **(override[key] or {})}
    by_name = {entry.get("name"): dict(entry) for entry in base.get("signals", [])}
    for entry in override.get("signals") or []:
        if not isinstance(entry, dict) or "name" not in entry:
            raise CatalogueError(f"every overriding signal needs a name: {entry!r}")
        by_name[entry["name"]] = {**by_name.get(entry["name"], {}), **entry}
    merged["signals"] = list(by_name.values())
    unknown = sorted(set(override) - {"labels", "topology", "causes", "signals"})
    if unknown:
        raise CatalogueError(f"unknown top-level key(s): {', '.join(unknown)}")
    return merged


def _build(data: dict[str, Any], origin: str) -> Catalogue:
    try:
        parsed = CatalogueFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            if error["loc"][:1] == ("signals",) and len(error["loc"]) > 1:
                index = error["loc"][1]
                name = data["signals"][index].get("name", index) if isinstance(index, int) else ""
                where = f"signal {name}: " + ".".join(str(p) for p in error["loc"][2:])
            problems.append(f"{where}: {error['msg']}")
        raise CatalogueError(f"{origin}: " + "; ".join(problems)) from None
    signals = tuple(
        Signal(
            name=entry.name,
            backend=entry.backend,
            template=" ".join(entry.query.split()),
            expected=Direction(entry.expected),
            supports=tuple(_support(s) for s in entry.supports),
            unit=entry.unit,
            floor_abs=entry.floor,
            evaluator=Evaluator(entry.evaluator),
            symptom=entry.symptom,
            description=entry.description,
        )
        for entry in parsed.signals
        if entry.enabled
    )
    return Catalogue(
        labels=parsed.labels,
        topology=TopologyQueries(
            **{k: " ".join(v.split()) for k, v in parsed.topology.model_dump().items()}
        ),
        causes={kind: tuple(backends) for kind, backends in parsed.causes.items()},
        signals=signals,
    )


def load_catalogue(override: Path | None = None) -> Catalogue:
    """The shipped catalogue with `override` merged on top; CatalogueError says what is wrong."""
    data = _read(DEFAULT_FILE)
    origin = str(DEFAULT_FILE)
    if override is not None:
        data = merge(data, _read(override))
        origin = f"{override} (over the shipped catalogue)"
    return _build(data, origin)


@functools.cache
def default_catalogue() -> Catalogue:
    """The shipped catalogue, loaded once."""
    return load_catalogue()
