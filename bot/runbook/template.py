"""The tiny template language of runbooks: `{{ labels.name }}` and `{{ params.name }}`.

Only substitution, no expressions, no filters. A string that is exactly one reference takes
the referenced value as is (so `"{{ params.max_replicas }}"` stays an int); references
inside a longer string are written as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.runbook.errors import TemplateError

_REFERENCE = re.compile(r"\{\{\s*(labels|params)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ANY_BRACES = re.compile(r"\{\{.*?\}\}")


def references(text: str) -> list[tuple[str, str]]:
    """The (scope, name) pairs a string refers to; raises on anything else inside {{ }}."""
    for braces in _ANY_BRACES.findall(text):
        if not _REFERENCE.fullmatch(braces):
            raise TemplateError(
                f"unsupported template {braces!r}: only {{{{ labels.x }}}} and {{{{ params.x }}}}"
            )
    return [(m[1], m[2]) for m in _REFERENCE.finditer(text)]


def render(value: Any, labels: Mapping[str, str], params: Mapping[str, Any]) -> Any:
    """Fill every reference in a string, list or mapping (recursively) from labels and params."""
    if isinstance(value, str):
        return _render_text(value, labels, params)
    if isinstance(value, list):
        return [render(item, labels, params) for item in value]
    if isinstance(value, dict):
        return {key: render(item, labels, params) for key, item in value.items()}
    return value


def _render_text(text: str, labels: Mapping[str, str], params: Mapping[str, Any]) -> Any:
    refs = references(text)
    if not refs:
        return text

    def lookup(scope: str, name: str) -> Any:
        source: Mapping[str, Any] = labels if scope == "labels" else params
        if name not in source:
            raise TemplateError(f"{{{{ {scope}.{name} }}}} is not set")
        return source[name]

    whole = _REFERENCE.fullmatch(text.strip())
    if whole is not None:
        return lookup(whole[1], whole[2])
    return _REFERENCE.sub(lambda m: str(lookup(m[1], m[2])), text)
