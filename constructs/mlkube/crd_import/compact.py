"""Compact form of a converted schema: what validation needs, a fraction of the bytes.

The CRDs mlkube carries add up to 22 MB of YAML (KServe's LLMInferenceService alone is 2.7 MB),
mostly descriptions and copies of the same pod-spec definitions. The compact form drops the
``description`` annotations (validation never reads them), moves every sub-schema that occurs
more than once in a file into ``$defs`` (named by a hash of its content, referred to with
``$ref``), and writes JSON without indentation. What it accepts and refuses is unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from json.encoder import encode_basestring as _quote  # C-accelerated, keeps non-ASCII
from typing import Any

__all__ = ["compact_schema", "dump_compact", "schema_children"]

#: Sub-schemas smaller than this (in compact JSON) stay where they are: a $ref would not save much.
_MIN_SHARED_BYTES = 400
_DEF_PREFIX = "shared."
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_SCHEMA_VALUES = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")


def schema_children(node: dict[str, Any]) -> Iterator[tuple[Any, Any, dict[str, Any]]]:
    """(container, key, sub-schema) for every direct sub-schema: data keywords (enum, default) are not entered."""
    for keyword in _SCHEMA_MAPS:
        mapping = node.get(keyword)
        if isinstance(mapping, dict):
            yield from ((mapping, name, sub) for name, sub in mapping.items() if isinstance(sub, dict))
    for keyword in _SCHEMA_VALUES:
        if isinstance(node.get(keyword), dict):
            yield node, keyword, node[keyword]
    for keyword in _SCHEMA_LISTS:
        items = node.get(keyword)
        if isinstance(items, list):
            yield from ((items, index, sub) for index, sub in enumerate(items) if isinstance(sub, dict))


def _without_descriptions(node: dict[str, Any]) -> dict[str, Any]:
    out = {key: value for key, value in node.items() if key != "description"}
    for keyword in _SCHEMA_MAPS:
        if isinstance(out.get(keyword), dict):
            out[keyword] = {name: _without_descriptions(sub) if isinstance(sub, dict) else sub for name, sub in out[keyword].items()}
    for keyword in _SCHEMA_VALUES:
        if isinstance(out.get(keyword), dict):
            out[keyword] = _without_descriptions(out[keyword])
    for keyword in _SCHEMA_LISTS:
        if isinstance(out.get(keyword), list):
            out[keyword] = [_without_descriptions(sub) if isinstance(sub, dict) else sub for sub in out[keyword]]
    return out


def _canonical(node: Any) -> str:
    return json.dumps(node, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return _quote(value)
    if value is True or value is False or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return _canonical(value)


def _texts(node: Any, memo: dict[int, str]) -> str:
    """A canonical text of ``node`` (equal texts, equal values), recording the text of every mapping in it
    by id: one pass, each value serialised once."""
    if isinstance(node, dict):
        text = "{" + ",".join(f"{_quote(key)}:{_texts(node[key], memo)}" for key in sorted(node)) + "}"
        memo[id(node)] = text
        return text
    if isinstance(node, list):
        return "[" + ",".join(_texts(item, memo) for item in node) + "]"
    return _scalar(node)


def _places(schema: dict[str, Any]) -> Iterator[tuple[Any, Any, dict[str, Any]]]:
    """Every sub-schema that may be shared: all but the roots of existing definitions."""
    todo = [schema]
    while todo:
        node = todo.pop()
        for container, key, sub in schema_children(node):
            if container is not schema.get("$defs"):
                yield container, key, sub
            todo.append(sub)


def _share_repeated(schema: dict[str, Any]) -> bool:
    """Move sub-schemas that occur at least twice into ``$defs``; False when none is left.

    Largest first; one nested in another chosen in the same pass waits for the next pass.
    """
    memo: dict[int, str] = {}
    _texts(schema, memo)
    places: dict[str, list[tuple[Any, Any]]] = {}
    for container, key, sub in _places(schema):
        text = memo[id(sub)]
        if len(text) >= _MIN_SHARED_BYTES:
            places.setdefault(text, []).append((container, key))
    shared = [text for text, where in places.items() if len(where) > 1]
    if not shared:
        return False
    chosen: list[str] = []
    for text in sorted(shared, key=lambda candidate: (-len(candidate), candidate)):
        if not any(text in larger for larger in chosen):
            chosen.append(text)
    for text in chosen:
        name = _DEF_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:16]
        for container, key in places[text]:
            container[key] = {"$ref": f"#/$defs/{name}"}
        schema.setdefault("$defs", {})[name] = json.loads(text)
    return True


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The same schema without descriptions, each repeated sub-schema stored once under ``$defs``."""
    out = _without_descriptions(schema)
    while _share_repeated(out):
        pass
    return out


def dump_compact(schema: dict[str, Any]) -> bytes:
    """One line of JSON, sorted keys, trailing newline: deterministic and small."""
    return (_canonical(schema) + "\n").encode()
