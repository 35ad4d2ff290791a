"""Every quantity-typed field of an object, checked as the API server decodes it.

The JSON schemas type a quantity as "a string or a number" (``io.k8s.apimachinery.pkg.api.resource.Quantity``),
so ``memory: aoeu`` passes them; the API server refuses it while decoding. Which fields are
quantities is read from the kind's own schema (a ``$ref`` to that definition, or a CRD's
int-or-string field with the quantity pattern), once per kind, into a small tree of field paths:
resources requests/limits, emptyDir sizeLimit, PVC storage, overhead, LimitRange and ResourceQuota
values, HPA targets, and any other. Negative values are refused too: the API server's validation
of every built-in quantity field requires them non-negative (ValidateNonnegativeQuantity,
emptyDir "SizeLimit field must be a valid resource quantity", HPA targets "must be positive";
kubernetes pkg/apis/core/validation/validation.go).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..kube.quantity import check_quantity_value

__all__ = ["QuantityTree", "quantity_tree", "quantity_issues"]

_QUANTITY_DEF = "io.k8s.apimachinery.pkg.api.resource.Quantity"
# The pattern controller-gen writes for resource.Quantity fields of CRDs.
_CRD_QUANTITY_PATTERN = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"


@dataclass
class QuantityTree:
    """Field paths under one schema node that hold quantities (pruned: only branches that lead to one)."""

    quantity: bool = False
    properties: dict[str, QuantityTree] = field(default_factory=dict)
    values: QuantityTree | None = None  # additionalProperties (maps such as requests)
    items: QuantityTree | None = None

    @property
    def empty(self) -> bool:
        return not (self.quantity or self.properties or self.values or self.items)


_EMPTY = QuantityTree()


@dataclass
class _Builder:
    definitions: dict[str, Any]
    local: dict[str, Any]
    done: dict[str, QuantityTree] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)

    def tree(self, schema: Any) -> QuantityTree:
        if not isinstance(schema, dict):
            return _EMPTY
        ref = schema.get("$ref")
        if (isinstance(ref, str) and "/$defs/" in ref) or (isinstance(ref, str) and "/definitions/" in ref):
            return self._definition(ref.rpartition("/")[2])
        if schema.get("x-kubernetes-int-or-string") and str(schema.get("pattern", "")).startswith(_CRD_QUANTITY_PATTERN):
            return QuantityTree(quantity=True)
        node = QuantityTree()
        for name, sub in (schema.get("properties") or {}).items():
            child = self.tree(sub)
            if not child.empty:
                node.properties[name] = child
        for key, attribute in (("additionalProperties", "values"), ("items", "items")):
            child = self.tree(schema.get(key))
            if not child.empty:
                setattr(node, attribute, child)
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in schema.get(key) or []:
                _merge(node, self.tree(sub))
        return node

    def _definition(self, name: str) -> QuantityTree:
        if name == _QUANTITY_DEF:
            return QuantityTree(quantity=True)
        if name in self.done:
            return self.done[name]
        if name in self.busy:
            return _EMPTY  # a recursive type (JSONSchemaProps): no quantities down that loop
        self.busy.add(name)
        result = self.tree(self.local.get(name, self.definitions.get(name)))
        self.busy.discard(name)
        self.done[name] = result
        return result


def _merge(into: QuantityTree, other: QuantityTree) -> None:
    into.quantity = into.quantity or other.quantity
    for name, child in other.properties.items():
        into.properties[name] = child if name not in into.properties else _merged(into.properties[name], child)
    if other.values is not None:
        into.values = other.values if into.values is None else _merged(into.values, other.values)
    if other.items is not None:
        into.items = other.items if into.items is None else _merged(into.items, other.items)


def _merged(first: QuantityTree, second: QuantityTree) -> QuantityTree:
    result = QuantityTree(first.quantity, dict(first.properties), first.values, first.items)
    _merge(result, second)
    return result


def quantity_tree(schema: dict[str, Any], definitions: dict[str, Any], cache: dict[str, QuantityTree] | None = None) -> QuantityTree:
    """Where a kind's schema holds quantities. ``cache`` shares definition trees between kinds."""
    builder = _Builder(definitions, schema.get("$defs") or schema.get("definitions") or {})
    if cache is not None and not builder.local:
        builder.done = cache
    return builder.tree(schema)


@functools.lru_cache(maxsize=4096, typed=True)
def _quantity_problem(value: str | int | float) -> str | None:
    """``check_quantity_value``, once per distinct value (every container repeats the same few "2", "4Gi")."""
    return check_quantity_value(value)


def quantity_issues(obj: Any, tree: QuantityTree, path: str = "") -> Iterator[tuple[str, str]]:
    """(field path, message) for every quantity field of ``obj`` that the API server would refuse."""
    found: list[tuple[str, str]] = []
    _collect_quantity_issues(obj, tree, path, found)
    return iter(found)


def _collect_quantity_issues(obj: Any, tree: QuantityTree, path: str, found: list[tuple[str, str]]) -> None:
    """``quantity_issues`` into ``found``: plain calls, not a generator per field (synth runs it on every object)."""
    if tree.quantity and isinstance(obj, str | int | float) and not isinstance(obj, bool):
        message = _quantity_problem(obj)
        if message:
            found.append((path, message))
        return
    if isinstance(obj, dict):
        for name, child in tree.properties.items():
            if name in obj:
                _collect_quantity_issues(obj[name], child, f"{path}.{name}" if path else name, found)
        if tree.values is not None:
            for name, value in obj.items():
                if name not in tree.properties:
                    _collect_quantity_issues(value, tree.values, f"{path}.{name}" if path else str(name), found)
    elif isinstance(obj, list) and tree.items is not None:
        for index, item in enumerate(obj):
            _collect_quantity_issues(item, tree.items, f"{path}[{index}]", found)
