"""What a signal is (a PromQL template plus what its movement means) and how it is scoped.

A template carries a `{scope}` placeholder where the label matchers go; `{rate}` is the rate
window. Scoping turns the incident's labels into matchers the signal's series actually carry
(`model_name`, `Hostname`, `namespace`, `pod`, ...); labels a signal cannot match are dropped,
so a vLLM signal on a GPU incident falls back to the model scope. Values are escaped as PromQL
double-quoted strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from bot.domain.findings import Direction, HypothesisKind

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

# Incident label names that mean the same thing in different exporters.
LABEL_ALIASES: dict[str, tuple[str, ...]] = {
    "Hostname": ("Hostname", "hostname"),
    "hostname": ("hostname", "Hostname"),
}

MODEL_SCOPE: tuple[tuple[str, str], ...] = (("model_name", "model_name"),)
POD_SCOPE: tuple[tuple[str, str], ...] = (
    ("model_name", "model_name"),
    ("namespace", "namespace"),
    ("pod", "pod"),
)


class Evaluator(StrEnum):
    """How a signal's series become a finding."""

    ROBUST = "robust"  # median / IQR baseline, robust z, onset
    XID = "xid"  # hard rule: XID codes seen in the window
    VERSION = "version"  # hard rule: a model version appeared in the window


@dataclass(frozen=True)
class Support:
    """Movement in `direction` adds `weight` to `kind`; a negative weight argues against it.

    A `localized` support counts only to the extent few of the signal's series moved that way:
    one GPU dropping is a GPU fault, every GPU dropping together is a change in load.
    """

    kind: HypothesisKind
    direction: Direction
    weight: float
    localized: bool = False


@dataclass(frozen=True)
class Signal:
    """One catalogue entry: a scoped PromQL template and what its movement supports."""

    name: str
    backend: str
    template: str
    expected: Direction
    supports: tuple[Support, ...] = ()
    scope_labels: tuple[tuple[str, str], ...] = MODEL_SCOPE
    fixed_matchers: tuple[tuple[str, str], ...] = ()
    unit: str = ""
    floor_abs: float = 1e-3
    evaluator: Evaluator = Evaluator.ROBUST
    symptom: bool = False
    requires_scope: bool = False
    description: str = field(default="", compare=False)


class ScopeError(ValueError):
    """The incident's labels cannot scope this signal (it would match the whole fleet)."""


def escape_label_value(value: str) -> str:
    """Escape a label value for a PromQL double-quoted string (backslash, quote, newline)."""
    return (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )


def matcher(name: str, value: str) -> str:
    """One equality matcher, `name="value"`, refusing label names PromQL cannot parse."""
    if not _LABEL_NAME.match(name):
        raise ScopeError(f"not a label name: {name!r}")
    return f'{name}="{escape_label_value(value)}"'


def _incident_value(labels: dict[str, str], key: str) -> str | None:
    for alias in LABEL_ALIASES.get(key, (key,)):
        value = labels.get(alias)
        if value:
            return value
    return None


def scope_matchers(signal: Signal, labels: dict[str, str]) -> list[str]:
    """The matchers that scope `signal` to the incident, in the signal's own label names."""
    matchers = [matcher(name, value) for name, value in signal.fixed_matchers]
    scoped = 0
    for incident_key, series_key in signal.scope_labels:
        value = _incident_value(labels, incident_key)
        if value is not None:
            matchers.append(matcher(series_key, value))
            scoped += 1
    if signal.requires_scope and scoped == 0:
        wanted = ", ".join(k for k, _ in signal.scope_labels)
        raise ScopeError(f"no incident label among {wanted} to scope {signal.name}")
    return matchers


def render(signal: Signal, labels: dict[str, str], *, rate_window_s: float = 60.0) -> str:
    """The signal's PromQL for this incident: `{scope}` filled, `{rate}` set to the window."""
    matchers = scope_matchers(signal, labels)
    scope = "{" + ",".join(matchers) + "}" if matchers else ""
    rate = f"{max(1, round(rate_window_s))}s"
    return signal.template.replace("{scope}", scope).replace("{rate}", rate)
