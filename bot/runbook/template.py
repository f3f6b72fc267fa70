"""The tiny template language of runbooks: `{{ labels.name }}`, `{{ params.name }}` and
`{{ evidence.name }}` (a fact triage's evidence established: bot/correlation/facts.py).

Only substitution, no expressions, no filters. A string that is exactly one reference takes
the referenced value as is (so `"{{ params.max_replicas }}"` stays an int); references
inside a longer string are written as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.runbook.errors import TemplateError

_REFERENCE = re.compile(r"\{\{\s*(labels|params|evidence)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ANY_BRACES = re.compile(r"\{\{.*?\}\}")


def references(text: str) -> list[tuple[str, str]]:
    """The (scope, name) pairs a string refers to; raises on anything else inside {{ }}."""
    for braces in _ANY_BRACES.findall(text):
        if not _REFERENCE.fullmatch(braces):
            raise TemplateError(
                f"unsupported template {braces!r}: only {{{{ labels.x }}}}, {{{{ params.x }}}} "
                "and {{ evidence.x }}"
            )
    return [(m[1], m[2]) for m in _REFERENCE.finditer(text)]


def render(
    value: Any,
    labels: Mapping[str, str],
    params: Mapping[str, Any],
    evidence: Mapping[str, str] | None = None,
) -> Any:
    """Fill every reference in a string, list or mapping (recursively) from labels, params
    and evidence facts."""
    if isinstance(value, str):
        return _render_text(value, labels, params, {} if evidence is None else evidence)
    if isinstance(value, list):
        return [render(item, labels, params, evidence) for item in value]
    if isinstance(value, dict):
        return {key: render(item, labels, params, evidence) for key, item in value.items()}
    return value


def _render_text(
    text: str,
    labels: Mapping[str, str],
    params: Mapping[str, Any],
    evidence: Mapping[str, str],
) -> Any:
    refs = references(text)
    if not refs:
        return text

    def lookup(scope: str, name: str) -> Any:
        sources: dict[str, Mapping[str, Any]] = {
            "labels": labels,
            "params": params,
            "evidence": evidence,
        }
        source = sources[scope]
        if name not in source:
            raise TemplateError(f"{{{{ {scope}.{name} }}}} is not set")
        return source[name]

    whole = _REFERENCE.fullmatch(text.strip())
    if whole is not None:
        return lookup(whole[1], whole[2])
    return _REFERENCE.sub(lambda m: str(lookup(m[1], m[2])), text)
