"""NVIDIA's XID catalogue as data: `xids.yml` read and validated once, so triage and runbooks
ask one table what a code means, whether the application or the GPU is at fault, how urgent
it is and which rung of the action ladder answers it.

The ladder, least to most disruptive: none < restart_pod < drain_node < reset_gpu <
service_node. A rung above drain_node includes the drain. An application XID never climbs
past restart_pod: the program faulted, not the GPU, and the node is left alone.
"""

from __future__ import annotations

import functools
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_FILE = Path(__file__).with_name("xids.yml")


class XidClass(StrEnum):
    APPLICATION = "application"
    HARDWARE = "hardware"


class Urgency(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class XidAction(StrEnum):
    """The ladder, in order: each rung is more disruptive than the one before."""

    NONE = "none"
    RESTART_POD = "restart_pod"
    DRAIN_NODE = "drain_node"
    RESET_GPU = "reset_gpu"
    SERVICE_NODE = "service_node"

    @property
    def rung(self) -> int:
        return list(XidAction).index(self)

    @property
    def drains_node(self) -> bool:
        return self.rung >= XidAction.DRAIN_NODE.rung

    @property
    def advice(self) -> str:
        """The action as a clause: `drain the node`."""
        return _ADVICE[self]


_ADVICE = {
    XidAction.NONE: "no action on the node",
    XidAction.RESTART_POD: "restart the pod",
    XidAction.DRAIN_NODE: "drain the node",
    XidAction.RESET_GPU: "drain the node and reset the GPU",
    XidAction.SERVICE_NODE: "drain the node and send it for service",
}


class XidEntry(BaseModel):
    """One code: its meaning, who is at fault, urgency and the recommended action."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    meaning: str = Field(min_length=1)
    xid_class: XidClass = Field(alias="class")
    urgency: Urgency
    action: XidAction

    @model_validator(mode="after")
    def _application_stays_off_the_node(self) -> XidEntry:
        if self.xid_class is XidClass.APPLICATION and self.action.drains_node:
            raise ValueError(f"an application XID cannot ask to {self.action.advice}")
        return self

    @property
    def is_application(self) -> bool:
        return self.xid_class is XidClass.APPLICATION


class XidFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    unknown: XidEntry
    codes: dict[int, XidEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _codes_positive(self) -> XidFile:
        bad = sorted(code for code in self.codes if code <= 0)
        if bad:
            raise ValueError(f"XID codes are positive integers, not {bad}")
        return self


class XidCatalogueError(ValueError):
    """The XID catalogue is invalid; the message names the entry."""


class XidCatalogue:
    """Codes to entries; a code not listed answers the catalogue's `unknown` entry."""

    def __init__(self, parsed: XidFile) -> None:
        self._codes = dict(parsed.codes)
        self._unknown = parsed.unknown

    def entry(self, code: int) -> XidEntry:
        return self._codes.get(code, self._unknown)

    def known(self, code: int) -> bool:
        return code in self._codes

    def codes(self) -> list[int]:
        return sorted(self._codes)

    def is_application(self, code: int) -> bool:
        return self.entry(code).is_application

    def describe(self, code: int) -> str:
        """`XID 79 (GPU has fallen off the bus)`."""
        return f"XID {code} ({self.entry(code).meaning})"


def load_xids(path: Path = DEFAULT_FILE) -> XidCatalogue:
    """Read and validate an XID catalogue file; XidCatalogueError says what is wrong."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise XidCatalogueError(f"{path}: cannot read: {exc}") from exc
    try:
        return XidCatalogue(XidFile.model_validate(data))
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        ]
        raise XidCatalogueError(f"{path}: " + "; ".join(problems)) from None


@functools.cache
def default_xids() -> XidCatalogue:
    """The shipped catalogue, loaded once."""
    return load_xids()
