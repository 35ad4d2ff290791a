"""Custom resources as the API server validates them: nulls pruned, defaults applied, list-map keys unique.

kubernetes/apiextensions-apiserver: ``pkg/apiserver/schema/defaulting/prunenulls.go``
(PruneNonNullableNullsWithoutDefaults) and ``defaulting/algorithm.go`` (Default) run while the request is
decoded, before validation; ``pkg/apiserver/schema/listtype/validation.go`` checks the keys of
``x-kubernetes-list-type: map`` lists. They work here on the converted JSON Schema of ``mlkube schemas
import`` (``nullable`` kept as a marker, repeated sub-schemas behind ``#/$defs`` references).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from ..kube.field_path import field_path_text

__all__ = ["resolver", "api_server_view", "list_map_issues", "field_path"]


def resolver(root: dict[str, Any]) -> Callable[[Any], dict[str, Any]]:
    defs = root.get("$defs") or {}

    def resolve(schema: Any) -> dict[str, Any]:
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/$defs/"):
            schema = defs.get(schema["$ref"][len("#/$defs/"):], {})
        return schema if isinstance(schema, dict) else {}

    return resolve


def _nullable(schema: dict[str, Any]) -> bool:
    return schema.get("nullable") is True


def api_server_view(obj: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` as the API server validates it: non-nullable nulls dropped, defaults applied.

    kubernetes/apiextensions-apiserver ``schema/defaulting/prunenulls.go`` (PruneNonNullableNullsWithoutDefaults)
    then ``schema/defaulting/algorithm.go`` (Default), on the converted schema (``nullable`` kept as a marker).
    """
    resolve = resolver(root)
    view = copy.deepcopy(obj)

    def child_schema(schema: dict[str, Any], key: str) -> dict[str, Any] | None:
        properties = schema.get("properties") or {}
        if key in properties:
            return resolve(properties[key])
        extra = schema.get("additionalProperties")
        return resolve(extra) if isinstance(extra, dict) else None

    def visit(value: Any, schema: dict[str, Any]) -> None:
        if isinstance(value, dict):
            for key in list(value):
                sub = child_schema(schema, key)
                if value[key] is None and sub is not None and not _nullable(sub):
                    if "default" in sub:
                        value[key] = copy.deepcopy(sub["default"])
                    else:
                        del value[key]
            for key, sub in (schema.get("properties") or {}).items():
                sub = resolve(sub)
                if key not in value and "default" in sub:
                    value[key] = copy.deepcopy(sub["default"])
            for key, item in value.items():
                sub = child_schema(schema, key)
                if sub is not None:
                    visit(item, sub)
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            items = resolve(schema["items"])
            for index, item in enumerate(value):
                if item is None and not _nullable(items) and "default" in items:
                    value[index] = copy.deepcopy(items["default"])
                visit(value[index], items)

    visit(view, resolve(root))
    return view


def list_map_issues(obj: dict[str, Any], root: dict[str, Any], *, viewed: bool = False) -> Iterator[tuple[str, str]]:
    """Duplicate keys in ``x-kubernetes-list-type: map`` lists, on the API server's view of ``obj``.

    kubernetes/apiextensions-apiserver ``pkg/apiserver/schema/listtype/validation.go`` (validateListMap):
    items are compared by their key fields (absent keys compare equal); the second item with a key
    already seen is a "Duplicate value". Sets are checked by the schema (``uniqueItems``).
    """
    resolve = resolver(root)

    def visit(value: Any, schema: Any, path: list[Any]) -> Iterator[tuple[str, str]]:
        schema = resolve(schema)
        if isinstance(value, dict):
            properties = schema.get("properties") or {}
            extra = schema.get("additionalProperties")
            for key, item in value.items():
                sub = properties.get(key, extra if isinstance(extra, dict) else None)
                if sub is not None:
                    yield from visit(item, sub, [*path, key])
        elif isinstance(value, list):
            keys = schema.get("x-kubernetes-list-map-keys")
            if schema.get("x-kubernetes-list-type") == "map" and isinstance(keys, list):
                seen: dict[str, int] = {}
                for index, item in enumerate(value):
                    key = {name: item[name] for name in keys if isinstance(item, dict) and name in item}
                    text = json.dumps(key, sort_keys=True)
                    seen[text] = seen.get(text, 0) + 1
                    if seen[text] == 2:
                        yield field_path([*path, index], None), f"Duplicate value: {text} (items of this list are keyed by {', '.join(keys)})"
            if isinstance(schema.get("items"), dict):
                for index, item in enumerate(value):
                    yield from visit(item, schema["items"], [*path, index])

    yield from visit(obj if viewed else api_server_view(obj, root), root, [])


def field_path(path: list[Any], field_path: Any) -> str:
    text = field_path_text(path)
    if isinstance(field_path, str) and field_path.strip("."):
        # ".spec.x['a.b'][0]" -> ".spec.x.a.b[0]" in the notation of the other errors
        suffix = re.sub(r"\['([^']*)'\]", r".\1", field_path.strip())
        text = (text + suffix) if suffix.startswith(("[", ".")) else f"{text}.{suffix}"
        text = text.lstrip(".")
    return text
