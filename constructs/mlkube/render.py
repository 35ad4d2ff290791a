"""Deterministic YAML: the same object always gives the same bytes.

``apiVersion``, ``kind`` and ``metadata`` come first, every other mapping is sorted by key, strings
with newlines are literal blocks. PyYAML's libyaml dumper is the fast path (see bench/).
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["to_yaml", "file_name", "HEADER_KEYS"]

HEADER_KEYS = ("apiVersion", "kind", "metadata")

_Dumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_Dumper):  # type: ignore[no-redef,misc,valid-type]
    """libyaml dumper whose multi-line strings are literal blocks, for readable ConfigMaps and diffs."""

    def ignore_aliases(self, data: Any) -> bool:
        # A config repo is read by people and by tools that handle anchors badly: always write values out.
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)


class _Document(dict):  # type: ignore[type-arg]
    """The top level of an object: header keys first, then the rest sorted."""


def _represent_document(dumper: yaml.SafeDumper, value: _Document) -> yaml.MappingNode:
    items = [(key, value[key]) for key in HEADER_KEYS if key in value]
    items += sorted((key, item) for key, item in value.items() if key not in HEADER_KEYS)
    # A list of pairs is emitted in the given order; nested dicts are sorted (sort_keys=True).
    return dumper.represent_mapping("tag:yaml.org,2002:map", items)


_Dumper.add_representer(_Document, _represent_document)


def to_yaml(obj: dict[str, Any]) -> str:
    """One object as a YAML document (no leading ``---``), in one libyaml call."""
    return yaml.dump(_Document(obj), Dumper=_Dumper, sort_keys=True, default_flow_style=False,
                     allow_unicode=True, width=1 << 16)


def file_name(obj: dict[str, Any]) -> str:
    """``deployment-fraud-scoring.yaml``: kind and name, both stable."""
    return f"{str(obj.get('kind', 'object')).lower()}-{(obj.get('metadata') or {}).get('name', 'unnamed')}.yaml"
