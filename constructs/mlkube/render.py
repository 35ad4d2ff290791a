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


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)


def _dump(data: Any, sort_keys: bool) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=sort_keys, default_flow_style=False,
                     allow_unicode=True, width=1 << 16, explicit_start=False)


def to_yaml(obj: dict[str, Any]) -> str:
    """One object as a YAML document (no leading ``---``)."""
    head = {key: obj[key] for key in HEADER_KEYS if key in obj}
    rest = {key: value for key, value in obj.items() if key not in HEADER_KEYS}
    text = _dump(head, sort_keys=False) if "metadata" not in head else (
        _dump({k: head[k] for k in ("apiVersion", "kind") if k in head}, sort_keys=False)
        + _dump({"metadata": head["metadata"]}, sort_keys=True)
    )
    return text + (_dump(rest, sort_keys=True) if rest else "")


def file_name(obj: dict[str, Any]) -> str:
    """``deployment-fraud-scoring.yaml``: kind and name, both stable."""
    return f"{str(obj.get('kind', 'object')).lower()}-{(obj.get('metadata') or {}).get('name', 'unnamed')}.yaml"
