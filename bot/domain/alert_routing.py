"""Alertmanager's routing tree and inhibition rules, read from its configuration, as pure rules.

`RoutingTree.from_config(document)` reads an alertmanager.yml document (already parsed YAML):
the `route` tree -- `receiver`, `group_by` (with `'...'` for every label), `matchers` (and the
older `match` / `match_re`), `continue`, `group_wait`, `group_interval`, `repeat_interval`,
child `routes` -- and `inhibit_rules`. It follows Alertmanager's own semantics:

- a child route inherits its parent's receiver, grouping and timings unless it sets them;
- an alert descends into the first child whose matchers match, and further siblings only while
  the matching child has `continue: true`; a route none of whose children match takes the alert
  itself, so every alert lands in at least the root;
- an aggregation group is (route, the alert's values of the route's `group_by` labels); its key
  is Alertmanager's `groupKey`: the route's key (`{}/{matchers}`) and the group labels;
- an alert is inhibited while a *different* alert matching an inhibit rule's source matchers
  fires with the same values of its `equal` labels (a label both lack counts as equal).

`RoutingTree.default()` is Firebreak's default when no configuration is given: one group per
alert name and model. Time intervals (`mute_time_intervals`, `active_time_intervals`) are not
applied. No I/O: the caller reads the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.domain.durations import parse_duration_s
from bot.domain.label_matchers import LabelMatcher, MatcherSyntaxError, MatchOp

GROUP_BY_ALL = "..."
DEFAULT_GROUP_WAIT_S = 30.0
DEFAULT_GROUP_INTERVAL_S = 300.0
DEFAULT_REPEAT_INTERVAL_S = 4 * 3600.0
DEFAULT_GROUP_BY = ("alertname", "model_name")
DEFAULT_RECEIVER = "firebreak"
_OP_ORDER = {MatchOp.EQUAL: 0, MatchOp.NOT_EQUAL: 1, MatchOp.REGEX: 2, MatchOp.NOT_REGEX: 3}


class RoutingConfigError(ValueError):
    """An Alertmanager configuration this module cannot read, with where and why."""


@dataclass(frozen=True)
class Route:
    """One node of the routing tree, its inherited settings resolved."""

    receiver: str
    group_by: tuple[str, ...]
    group_by_all: bool
    matchers: tuple[LabelMatcher, ...]
    continue_: bool
    group_wait_s: float
    group_interval_s: float
    repeat_interval_s: float
    key: str
    routes: tuple[Route, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        plain = dict(labels)
        return all(m.matches(plain) for m in self.matchers)

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes an alert with `labels` ends in, as Alertmanager's `Route.Match`."""
        if not self.matches(labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            matched = child.match(labels)
            found += matched
            if matched and not child.continue_:
                break
        return found or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The alert's labels this route groups by (all of them with `'...'`)."""
        if self.group_by_all:
            return dict(labels)
        return {name: labels[name] for name in self.group_by if name in labels}

    def group_key(self, labels: Mapping[str, str]) -> str:
        """Alertmanager's groupKey of the aggregation group an alert joins on this route."""
        return f"{self.key}:{label_set_text(self.group_labels(labels))}"


@dataclass(frozen=True)
class InhibitRule:
    """Target alerts are muted while a different source alert fires with equal `equal` labels."""

    source: tuple[LabelMatcher, ...]
    target: tuple[LabelMatcher, ...]
    equal: tuple[str, ...] = ()

    def is_source(self, labels: Mapping[str, str]) -> bool:
        plain = dict(labels)
        return all(m.matches(plain) for m in self.source)

    def is_target(self, labels: Mapping[str, str]) -> bool:
        plain = dict(labels)
        return all(m.matches(plain) for m in self.target)

    def mutes(self, source: Mapping[str, str], target: Mapping[str, str]) -> bool:
        """Whether a firing alert with `source` labels mutes one with `target` labels."""
        if dict(source) == dict(target):
            return False
        if not (self.is_source(source) and self.is_target(target)):
            return False
        return all(source.get(name, "") == target.get(name, "") for name in self.equal)


@dataclass(frozen=True)
class RoutingTree:
    """The root route and the inhibit rules of one Alertmanager configuration."""

    root: Route
    inhibit_rules: tuple[InhibitRule, ...] = field(default=())

    @classmethod
    def default(cls, group_wait_s: float = DEFAULT_GROUP_WAIT_S) -> RoutingTree:
        """One group per (alertname, model_name), Alertmanager's default timings."""
        root = Route(
            receiver=DEFAULT_RECEIVER,
            group_by=DEFAULT_GROUP_BY,
            group_by_all=False,
            matchers=(),
            continue_=False,
            group_wait_s=group_wait_s,
            group_interval_s=DEFAULT_GROUP_INTERVAL_S,
            repeat_interval_s=DEFAULT_REPEAT_INTERVAL_S,
            key="{}",
        )
        return cls(root)

    @classmethod
    def from_config(cls, document: Any) -> RoutingTree:
        """The tree of a parsed alertmanager.yml; raises RoutingConfigError saying where."""
        if not isinstance(document, Mapping) or not isinstance(document.get("route"), Mapping):
            raise RoutingConfigError("the configuration has no `route`")
        top = document["route"]
        if not top.get("receiver"):
            raise RoutingConfigError("route: the root route needs a receiver")
        defaults = Route(
            receiver="",
            group_by=(),
            group_by_all=False,
            matchers=(),
            continue_=False,
            group_wait_s=DEFAULT_GROUP_WAIT_S,
            group_interval_s=DEFAULT_GROUP_INTERVAL_S,
            repeat_interval_s=DEFAULT_REPEAT_INTERVAL_S,
            key="",
        )
        root = _route(top, defaults, "route", parent_key=None)
        rules = document.get("inhibit_rules") or []
        if not isinstance(rules, list):
            raise RoutingConfigError("inhibit_rules: expected a list")
        inhibit = tuple(_inhibit_rule(rule, f"inhibit_rules[{i}]") for i, rule in enumerate(rules))
        return cls(root, inhibit)

    def routes_for(self, labels: Mapping[str, str]) -> list[Route]:
        return self.root.match(labels)


def label_set_text(labels: Mapping[str, str]) -> str:
    """A label set as Alertmanager prints it: `{a="1", b="2"}`, names sorted."""
    body = ", ".join(f"{k}={_quoted(v)}" for k, v in sorted(labels.items()))
    return "{" + body + "}"


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _route(
    raw: Any, parent: Route, where: str, parent_key: str | None, *, is_root: bool = True
) -> Route:
    if not isinstance(raw, Mapping):
        raise RoutingConfigError(f"{where}: expected a mapping")
    matchers = _route_matchers(raw, where)
    if is_root and matchers:
        raise RoutingConfigError(f"{where}: the root route must not have matchers")
    group_by_raw = raw.get("group_by")
    if group_by_raw is None:
        group_by, group_by_all = parent.group_by, parent.group_by_all
    else:
        if not isinstance(group_by_raw, list) or not all(isinstance(g, str) for g in group_by_raw):
            raise RoutingConfigError(f"{where}.group_by: expected a list of label names")
        group_by_all = GROUP_BY_ALL in group_by_raw
        if group_by_all and len(group_by_raw) > 1:
            raise RoutingConfigError(f"{where}.group_by: '...' must be the only entry")
        group_by = () if group_by_all else tuple(dict.fromkeys(group_by_raw))
    text = "{" + ",".join(str(m) for m in matchers) + "}"
    key = text if parent_key is None else f"{parent_key}/{text}"
    continue_ = bool(raw.get("continue", False))
    if is_root and continue_:
        raise RoutingConfigError(f"{where}: the root route cannot have `continue`")
    route = Route(
        receiver=str(raw.get("receiver") or parent.receiver),
        group_by=group_by,
        group_by_all=group_by_all,
        matchers=matchers,
        continue_=continue_,
        group_wait_s=_duration(raw, "group_wait", parent.group_wait_s, where),
        group_interval_s=_duration(raw, "group_interval", parent.group_interval_s, where),
        repeat_interval_s=_duration(raw, "repeat_interval", parent.repeat_interval_s, where),
        key=key,
    )
    children = raw.get("routes") or []
    if not isinstance(children, list):
        raise RoutingConfigError(f"{where}.routes: expected a list")
    built = tuple(
        _route(child, route, f"{where}.routes[{i}]", key, is_root=False)
        for i, child in enumerate(children)
    )
    return replace(route, routes=built)


def _duration(raw: Mapping[str, Any], name: str, inherited: float, where: str) -> float:
    value = raw.get(name)
    if value is None:
        return inherited
    try:
        return parse_duration_s(str(value))
    except ValueError as exc:
        raise RoutingConfigError(f"{where}.{name}: {exc}") from exc


def _route_matchers(raw: Mapping[str, Any], where: str) -> tuple[LabelMatcher, ...]:
    """`match`, `match_re` and `matchers` as one list, sorted as Alertmanager sorts them."""
    found: list[LabelMatcher] = []
    found += _equal_matchers(raw.get("match"), MatchOp.EQUAL, f"{where}.match")
    found += _equal_matchers(raw.get("match_re"), MatchOp.REGEX, f"{where}.match_re")
    found += _text_matchers(raw.get("matchers"), f"{where}.matchers")
    return tuple(sorted(found, key=lambda m: (m.name, m.value, _OP_ORDER[m.op])))


def _equal_matchers(raw: Any, op: MatchOp, where: str) -> list[LabelMatcher]:
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        raise RoutingConfigError(f"{where}: expected a mapping of label to value")
    out = []
    for name, value in raw.items():
        escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        out.append(_parse(f'{name}{op.value}"{escaped}"', where))
    return out


def _text_matchers(raw: Any, where: str) -> list[LabelMatcher]:
    """Matchers written as text; one entry may hold several (`{a="1", b=~"2"}`)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RoutingConfigError(f"{where}: expected a list of matchers")
    out = []
    for entry in raw:
        text = str(entry).strip()
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1]
        out += [_parse(part, where) for part in _split_matchers(text)]
    return out


def _split_matchers(text: str) -> Iterable[str]:
    """Split `a="1", b=~"x,y"` on the commas outside quotes."""
    part: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            yield "".join(part)
            part = []
            continue
        part.append(char)
    if "".join(part).strip():
        yield "".join(part)


def _parse(text: str, where: str) -> LabelMatcher:
    try:
        return LabelMatcher.parse(text)
    except MatcherSyntaxError as exc:
        raise RoutingConfigError(f"{where}: {exc}") from exc


def _inhibit_rule(raw: Any, where: str) -> InhibitRule:
    if not isinstance(raw, Mapping):
        raise RoutingConfigError(f"{where}: expected a mapping")
    source = _equal_matchers(raw.get("source_match"), MatchOp.EQUAL, f"{where}.source_match")
    source += _equal_matchers(raw.get("source_match_re"), MatchOp.REGEX, f"{where}.source_match_re")
    source += _text_matchers(raw.get("source_matchers"), f"{where}.source_matchers")
    target = _equal_matchers(raw.get("target_match"), MatchOp.EQUAL, f"{where}.target_match")
    target += _equal_matchers(raw.get("target_match_re"), MatchOp.REGEX, f"{where}.target_match_re")
    target += _text_matchers(raw.get("target_matchers"), f"{where}.target_matchers")
    equal = raw.get("equal") or []
    if not isinstance(equal, Sequence) or isinstance(equal, str):
        raise RoutingConfigError(f"{where}.equal: expected a list of label names")
    return InhibitRule(tuple(source), tuple(target), tuple(str(e) for e in equal))
