"""The Kubernetes CEL functions beyond CEL's standard ones, for cel-python.

The strings extension (cel-go ext.Strings, version 2) and the Kubernetes lists library
(apiserver/pkg/cel/library/lists.go) that CRD rules use; a rule that calls anything else is skipped
with its reason by :mod:`.crd_rules`. cel-python itself is imported on first use.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

__all__ = ["EXTENSIONS", "load_cel", "celpy", "celtypes"]

# cel-python is imported on first use (building its parser costs about 0.4 s): most commands never need it.
celpy: Any = None
celtypes: Any = None


def load_cel() -> None:
    global celpy, celtypes
    if celpy is None:
        import celpy as cel_module
        from celpy import celtypes as cel_types

        celpy, celtypes = cel_module, cel_types


def _string_list(items: Any) -> Any:
    return celtypes.ListType([celtypes.StringType(item) for item in items])


def _split(text: Any, separator: Any, limit: Any = None) -> Any:
    if limit is None or int(limit) < 0:
        return _string_list(str(text).split(str(separator)) if separator else list(str(text)))
    if int(limit) == 0:
        return celtypes.ListType([])
    return _string_list(str(text).split(str(separator), int(limit) - 1))


def _index_of(text: Any, sub: Any, start: Any = 0) -> Any:
    return celtypes.IntType(str(text).find(str(sub), int(start)))


def _substring(text: Any, start: Any, end: Any = None) -> Any:
    return celtypes.StringType(str(text)[int(start):] if end is None else str(text)[int(start):int(end)])


def _join(items: Any, separator: Any = "") -> Any:
    return celtypes.StringType(str(separator).join(str(item) for item in items))


def _is_sorted(items: Any) -> Any:
    values = list(items)
    return celtypes.BoolType(all(a <= b for a, b in itertools.pairwise(values)))


EXTENSIONS: dict[str, Callable[..., Any]] = {
    "split": _split,
    "lowerAscii": lambda text: celtypes.StringType(str(text).lower()),
    "upperAscii": lambda text: celtypes.StringType(str(text).upper()),
    "trim": lambda text: celtypes.StringType(str(text).strip()),
    "replace": lambda text, old, new, limit=-1: celtypes.StringType(str(text).replace(str(old), str(new), int(limit))),
    "indexOf": _index_of,
    "lastIndexOf": lambda text, sub: celtypes.IntType(str(text).rfind(str(sub))),
    "substring": _substring,
    "join": _join,
    "isSorted": _is_sorted,
    "sum": lambda items: sum(items, type(items[0])(0)) if len(items) else celtypes.IntType(0),
    "min": lambda items: min(items),
    "max": lambda items: max(items),
}


