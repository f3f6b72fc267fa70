"""Alertmanager label matchers (`name="v"`, `!=`, `=~`, `!~`) parsed from their text form, as
runbooks and Alertmanager routes use them.

Regexes are fully anchored as Alertmanager anchors them: `model=~"llama"` does not match
`llama-70b`. A label an alert does not carry reads as the empty string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
_MATCHER = re.compile(
    rf"""^\s*(?P<name>{_NAME})\s*(?P<op>=~|!~|!=|=)\s*(?P<value>"(?:[^"\\]|\\.)*"|[^"\s]*)\s*$""",
    re.DOTALL,
)
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


class MatchOp(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


class MatcherSyntaxError(ValueError):
    """Text that is not a matcher, or a matcher whose regex does not compile."""


@dataclass(frozen=True)
class LabelMatcher:
    """One label matcher; `matches(labels)` follows Alertmanager's semantics."""

    name: str
    op: MatchOp
    value: str
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> LabelMatcher:
        """Read `name op value`, value quoted ("...", with \\" \\\\ \\n escapes) or bare."""
        found = _MATCHER.match(text)
        if found is None:
            raise MatcherSyntaxError(
                f'not a label matcher: {text!r} (expected name="value", !=, =~ or !~)'
            )
        raw = found["value"]
        value = _unquote(raw) if raw.startswith('"') else raw
        op = MatchOp(found["op"])
        pattern = None
        if op in (MatchOp.REGEX, MatchOp.NOT_REGEX):
            try:
                pattern = re.compile(f"(?:{value})", re.DOTALL)
            except re.error as exc:
                raise MatcherSyntaxError(f"bad regex in {text!r}: {exc}") from exc
        return cls(found["name"], op, value, pattern)

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op is MatchOp.EQUAL:
            return actual == self.value
        if self.op is MatchOp.NOT_EQUAL:
            return actual != self.value
        assert self._pattern is not None
        hit = self._pattern.fullmatch(actual) is not None
        return hit if self.op is MatchOp.REGEX else not hit

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op.value}"{escaped}"'


def _unquote(quoted: str) -> str:
    body, out, i = quoted[1:-1], [], 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            nxt = body[i + 1]
            if nxt not in _ESCAPES:
                raise MatcherSyntaxError(f"unknown escape \\{nxt} in {quoted}")
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def parse_matcher(value: Any) -> LabelMatcher:
    """A pydantic-friendly parser: accept a LabelMatcher or its text."""
    if isinstance(value, LabelMatcher):
        return value
    if not isinstance(value, str):
        raise MatcherSyntaxError(f'a matcher is a string like name=~"re", not {value!r}')
    return LabelMatcher.parse(value)
