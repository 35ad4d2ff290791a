"""Image values in YAML text, with their exact positions, for byte-preserving rewrites and reports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from .fields import NOT_IMAGE_KINDS

__all__ = ["ImageScalar", "scan_images"]

# Composing is enough (no Python objects), and without implicit type resolution every scalar is a
# string: what a Kubernetes image field is. libyaml's parser when available.
if TYPE_CHECKING:
    _Loader = yaml.BaseLoader  # the same interface as CBaseLoader
else:
    _Loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


@dataclass(frozen=True)
class ImageScalar:
    """An ``image: <value>`` scalar: character offsets of the value in the text, and where it is."""

    value: str
    start: int
    end: int
    style: str | None
    line: int
    field: str
    container: str
    kind: str
    name: str


def _scalar(node: yaml.Node, key: str) -> str | None:
    for key_node, value_node in node.value:
        if key_node.value == key and isinstance(value_node, yaml.ScalarNode):
            return str(value_node.value)
    return None


def _walk(node: yaml.Node, path: str, kind: str, name: str) -> Iterator[ImageScalar]:
    if isinstance(node, yaml.MappingNode):
        container = _scalar(node, "name") or ""
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            if key == "image" and isinstance(value_node, yaml.ScalarNode):
                yield ImageScalar(value_node.value, value_node.start_mark.index, value_node.end_mark.index,
                                  value_node.style, value_node.start_mark.line + 1, child, container, kind, name)
            elif isinstance(value_node, yaml.MappingNode | yaml.SequenceNode):
                yield from _walk(value_node, child, kind, name)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, f"{path}[{index}]", kind, name)


def scan_images(text: str) -> list[ImageScalar]:
    """Every image value of every document in ``text`` (raises yaml.YAMLError on invalid YAML)."""
    found: list[ImageScalar] = []
    for document in yaml.compose_all(text, Loader=_Loader):
        if not isinstance(document, yaml.MappingNode):
            continue
        kind = _scalar(document, "kind") or ""
        if kind in NOT_IMAGE_KINDS:
            continue
        metadata = next((v for k, v in document.value if k.value == "metadata" and isinstance(v, yaml.MappingNode)), None)
        name = (_scalar(metadata, "name") if metadata is not None else None) or ""
        found += _walk(document, "", kind, name)
    return found
