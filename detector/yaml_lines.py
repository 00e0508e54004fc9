"""YAML that remembers where each key was written, so a validation error can name the line.

:func:`load_yaml_with_lines` parses safely (a ``yaml.SafeLoader``) into dicts that carry the 1-based
line of each key; :func:`line_of` walks a pydantic error location (``("cameras", 0, "mode")``) down
that document to the deepest line it can find.
"""

from __future__ import annotations

import logging
from typing import Any

import yaml

logger = logging.getLogger(__name__)


class _LineLoader(yaml.SafeLoader):
    """A YAML loader that remembers the line of every mapping key, for error messages."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=deep)
    lines = {
        key_node.value: key_node.start_mark.line + 1
        for key_node, _ in node.value
        if hasattr(key_node, "value")
    }
    return _LinedDict(mapping, lines)


class _LinedDict(dict[Any, Any]):
    def __init__(self, mapping: dict[Any, Any], lines: dict[Any, int]) -> None:
        super().__init__(mapping)
        self.lines = lines


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def line_of(data: Any, loc: tuple[int | str, ...]) -> int | None:
    """The YAML line of the deepest key along ``loc`` that exists in the document."""
    line = None
    node = data
    for part in loc:
        if isinstance(node, _LinedDict) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            if isinstance(node, _LinedDict) and node.lines:
                line = min(node.lines.values())
        else:
            break
    return line


def to_plain(data: Any) -> Any:
    """The same document as plain dicts and lists (for validation)."""
    if isinstance(data, dict):
        return {k: to_plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [to_plain(v) for v in data]
    return data


def load_yaml_with_lines(text: str) -> Any:
    """Parse YAML text (safe tags only); mappings come back as dicts that know their keys' lines.

    Raises ``yaml.YAMLError`` for text that is not YAML.
    """
    return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader subclass
