"""Deterministic YAML: the same object always gives the same bytes.

``apiVersion``, ``kind`` and ``metadata`` come first, every other mapping is sorted by key, strings
with newlines are literal blocks. PyYAML's libyaml dumper defines the bytes (``to_yaml_pyyaml``);
``emitter`` writes the same bytes without PyYAML's Python representer for the plain data mlkube
builds, and PyYAML writes whatever the emitter does not handle (see bench/ and issue 22).
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

import yaml

from .emitter import MAX_KEY, Unsupported, emit_document, plain_text

__all__ = ["to_yaml", "to_yaml_pyyaml", "file_name", "HEADER_KEYS"]

HEADER_KEYS = ("apiVersion", "kind", "metadata")

if TYPE_CHECKING:
    _LibyamlDumper = yaml.SafeDumper  # the same interface as CSafeDumper
else:
    _LibyamlDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_LibyamlDumper):
    """libyaml dumper whose multi-line strings are literal blocks, for readable ConfigMaps and diffs."""

    def ignore_aliases(self, data: Any) -> bool:
        # A config repo is read by people and by tools that handle anchors badly: always write values out.
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)


class _Document(dict[str, Any]):
    """The top level of an object: header keys first, then the rest sorted."""


def _represent_document(dumper: yaml.SafeDumper, value: _Document) -> yaml.MappingNode:
    items = [(key, value[key]) for key in HEADER_KEYS if key in value]
    items += sorted((key, item) for key, item in value.items() if key not in HEADER_KEYS)
    # A list of pairs is emitted in the given order; nested dicts are sorted (sort_keys=True).
    return dumper.represent_mapping("tag:yaml.org,2002:map", items)


_Dumper.add_representer(_Document, _represent_document)


def to_yaml_pyyaml(obj: dict[str, Any]) -> str:
    """One object as a YAML document (no leading ``---``), in one libyaml call: the reference bytes."""
    return yaml.dump(_Document(obj), Dumper=_Dumper, sort_keys=True, default_flow_style=False,
                     allow_unicode=True, width=1 << 16)


def to_yaml(obj: dict[str, Any]) -> str:
    """One object as a YAML document (no leading ``---``): the bytes of ``to_yaml_pyyaml``, written faster."""
    try:
        text = emit_document(obj, HEADER_KEYS, _scalar, _key)
    except Unsupported:
        return to_yaml_pyyaml(obj)
    if os.environ.get("MLKUBE_VERIFY_EMITTER") == "1":  # tests/conftest.py: every object a test renders, compared
        expected = to_yaml_pyyaml(obj)
        if text != expected:
            raise AssertionError(f"emitter differs from PyYAML for {obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}:\n"
                                 f"{text}\n--- PyYAML ---\n{expected}")
    return text


def _dump(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1 << 16)


#: Characters YAML reads as line breaks besides \n (YAML 1.1, "Line Break Characters").
_OTHER_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


def _scalar(value: Any) -> str:
    """How PyYAML writes one scalar as a block mapping value (``k: <this>``), literal block lines at indent 2."""
    # Strings are memoized; floats are not (0.0 and -0.0 are equal keys of a cache but written differently).
    return _string_scalar(value) if type(value) is str else _render_scalar(value)


@functools.lru_cache(maxsize=1 << 16)
def _string_scalar(value: str) -> str:
    plain = plain_text(value)
    return plain if plain is not None else _render_scalar(value)


def _render_scalar(value: Any) -> str:
    if isinstance(value, str) and any(mark in value for mark in _OTHER_BREAKS):
        raise Unsupported("line break other than \\n")  # YAML breaks a quoted scalar there, indented by context
    text = _dump({"k": value})[:-1]
    if not text.startswith("k: ") or text.endswith("\n..."):
        raise Unsupported("scalar")  # e.g. a kept final line break ends the document with '...'
    if "\n" in text and not text.startswith("k: |"):
        raise Unsupported("folded quoted scalar")  # only literal blocks are re-indented by the emitter
    return text[3:]


@functools.lru_cache(maxsize=1 << 14)
def _key(key: str) -> str:
    """How PyYAML writes one simple key (quoted when YAML would read it as another type)."""
    plain = plain_text(key, MAX_KEY)
    if plain is not None:
        return plain
    if not key or any(mark in key for mark in _OTHER_BREAKS):
        raise Unsupported("empty key or a line break in it")
    text = _dump({key: None})
    suffix = ": null\n"
    if not text.endswith(suffix) or "\n" in text[:-len(suffix)]:
        raise Unsupported("key")
    return text[:-len(suffix)]


def file_name(obj: dict[str, Any]) -> str:
    """``deployment-fraud-scoring.yaml``: kind and name, both stable."""
    return f"{str(obj.get('kind', 'object')).lower()}-{(obj.get('metadata') or {}).get('name', 'unnamed')}.yaml"
