"""YAML documents that remember where things are: parse a file and find the line of any
key path (`("steps", 2, "params", "replicas")`) from YAML's node marks, for error messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Document:
    """A parsed YAML document and its node tree."""

    data: Any
    root: yaml.Node | None

    def line_of(self, loc: Sequence[str | int]) -> int:
        """The 1-based line of the deepest node on `loc`; a key's own line when it exists."""
        node = self.root
        if node is None:
            return 0
        line = node.start_mark.line + 1
        for part in loc:
            found = _child(node, part)
            if found is None:
                break
            key_node, node = found
            line = (key_node or node).start_mark.line + 1
        return line


def parse(text: str) -> Document:
    """Parse one YAML document with the safe loader; raises yaml.YAMLError on bad YAML."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    data = yaml.safe_load(text) if root is not None else None
    return Document(data=data, root=root)


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                return key_node, value_node
        return None
    if (
        isinstance(node, yaml.SequenceNode)
        and isinstance(part, int)
        and 0 <= part < len(node.value)
    ):
        return None, node.value[part]
    return None
