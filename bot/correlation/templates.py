"""What a signal is (a PromQL template plus what its movement means) and how it is scoped.

A template names its scope with placeholders written inside a selector's braces, filled from
the incident's resolved topology:

- `$model`  the model label (catalogue `labels.model`);
- `$pods`   the model's pods over the window: `namespace=~"…", pod=~"…"` (per-pod series such
            as vLLM's `http_requests_total`, which carry no model label, and kube-state-metrics);
- `$gpus`   the GPUs those pods ran on: `Hostname=~"…", UUID=~"…"` (dcgm-exporter);
- `$nodes`, `$hosts` the nodes they ran on, as kube-state-metrics and dcgm-exporter name them;
- `$rate`   the rate window and `$step` the query step, as PromQL durations.

A signal whose scope is unresolved is not queried: it would match the whole fleet. Values are
escaped as PromQL strings, regex values with `re.escape` semantics PromQL (RE2) understands.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from bot.domain.findings import Direction, HypothesisKind

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_PLACEHOLDER = re.compile(r"\$(model|pods|gpus|nodes|hosts|rate|step)\b")
_REGEX_SPECIAL = re.compile(r"([.^$*+?()\[\]{}|\\])")


class Scope(StrEnum):
    """What a signal's series are keyed by, and so which placeholder scopes them."""

    MODEL = "model"
    PODS = "pods"
    GPUS = "gpus"
    NODES = "nodes"  # kube-state-metrics' `node`
    HOSTS = "hosts"  # the same nodes as dcgm-exporter's `Hostname`


class Evaluator(StrEnum):
    """How a signal's series become a finding."""

    ROBUST = "robust"  # median / IQR baseline, robust z, onset
    XID = "xid"  # hard rule: XID codes seen in the window


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
    unit: str = ""
    floor_abs: float = 1e-3
    evaluator: Evaluator = Evaluator.ROBUST
    symptom: bool = False
    description: str = field(default="", compare=False)

    @property
    def scopes(self) -> frozenset[Scope]:
        found = {m.group(1) for m in _PLACEHOLDER.finditer(self.template)}
        return frozenset(Scope(s) for s in found if s in Scope._value2member_map_)


class ScopeError(ValueError):
    """The incident's topology cannot scope this signal (it would match the whole fleet)."""


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


def regex_matcher(name: str, values: Sequence[str]) -> str:
    """`name=~"a|b"` matching exactly these values (an equality matcher for one value)."""
    unique = sorted(set(values))
    if len(unique) == 1:
        return matcher(name, unique[0])
    if not _LABEL_NAME.match(name):
        raise ScopeError(f"not a label name: {name!r}")
    pattern = "|".join(_REGEX_SPECIAL.sub(r"\\\1", v) for v in unique)
    return f'{name}=~"{escape_label_value(pattern)}"'


def duration(seconds: float) -> str:
    """A PromQL duration of whole seconds, at least 1s."""
    return f"{max(1, round(seconds))}s"


def render_query(
    template: str, scopes: Mapping[Scope, str], *, rate_window_s: float = 60.0, step_s: float = 15.0
) -> str:
    """`template` with every placeholder filled; ScopeError names the scopes not resolved."""
    wanted = {m.group(1) for m in _PLACEHOLDER.finditer(template)}
    missing = sorted(
        w for w in wanted if w in Scope._value2member_map_ and not scopes.get(Scope(w))
    )
    if missing:
        raise ScopeError(f"the incident's {', '.join(missing)} are unknown")
    values = {
        **{s.value: text for s, text in scopes.items()},
        "rate": duration(rate_window_s),
        "step": duration(step_s),
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def render(
    signal: Signal,
    scopes: Mapping[Scope, str],
    *,
    rate_window_s: float = 60.0,
    step_s: float = 15.0,
) -> str:
    """The signal's PromQL for this incident; ScopeError when a scope it needs is unresolved."""
    try:
        return render_query(signal.template, scopes, rate_window_s=rate_window_s, step_s=step_s)
    except ScopeError as exc:
        raise ScopeError(f"{signal.name}: {exc}") from None
