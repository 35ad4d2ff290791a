"""Partial matchers for synthesized objects, in the spirit of the AWS CDK's ``Template.has_resource_properties``.

A pattern is plain data: a dict matches any dict holding at least those keys (recursively), a list
matches any list in which each expected item matches some item, anything else must be equal. The
``Match`` helpers say otherwise where needed (exact equality, an absent key, any value).

Failures name the *nearest* object (the candidate of that kind with the fewest mismatches) and every
mismatching field path with its expected and actual value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from ..kube.manifest import Manifest

__all__ = ["Match", "Matcher", "Mismatch", "mismatches", "matches", "find_matching", "assert_has_object",
           "assert_object_count"]

#: Marks a missing value, distinct from an explicit ``None``.
ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "<absent>"})()


@dataclass(frozen=True)
class Mismatch:
    """One field that differs: its path, what the pattern wanted, what the object has."""

    path: str
    expected: str
    actual: Any

    def __str__(self) -> str:
        actual = "absent" if self.actual is ABSENT else _short(self.actual)
        return f"{self.path or '(the object)'}: expected {self.expected}, got {actual}"


class Matcher:
    """A pattern that checks a value at a path and lists what differs."""

    def mismatches(self, actual: Any, path: str) -> list[Mismatch]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        raise NotImplementedError


class _Exact(Matcher):
    def __init__(self, value: Any) -> None:
        self.value = value

    def mismatches(self, actual: Any, path: str) -> list[Mismatch]:
        return [] if actual is not ABSENT and actual == self.value else [Mismatch(path, self.describe(), actual)]

    def describe(self) -> str:
        return _short(self.value)


class _ObjectLike(Matcher):
    def __init__(self, pattern: dict[str, Any]) -> None:
        self.pattern = pattern

    def mismatches(self, actual: Any, path: str) -> list[Mismatch]:
        if not isinstance(actual, dict):
            keys = ", ".join(map(repr, self.pattern))
            return [Mismatch(path, f"an object with {keys}" if keys else "an object", actual)]
        found: list[Mismatch] = []
        for key, expected in self.pattern.items():
            found += _as_matcher(expected).mismatches(actual.get(key, ABSENT), _join(path, key))
        return found

    def describe(self) -> str:
        return f"object like {_short(self.pattern)}"


class _ArrayWith(Matcher):
    """Each expected item must match some actual item (order and extra items do not matter)."""

    def __init__(self, items: Sequence[Any]) -> None:
        self.items = list(items)

    def mismatches(self, actual: Any, path: str) -> list[Mismatch]:
        if not isinstance(actual, list):
            return [Mismatch(path, f"a list with {_short(self.items)}", actual)]
        found: list[Mismatch] = []
        for expected in self.items:
            matcher = _as_matcher(expected)
            if not actual:
                found.append(Mismatch(path, f"an item like {matcher.describe()}", actual))
                continue
            # Report the differences of the nearest item, so the path says which field is off.
            nearest = min((matcher.mismatches(item, f"{path}[{index}]") for index, item in enumerate(actual)), key=len)
            found += nearest
        return found

    def describe(self) -> str:
        return f"list with {_short(self.items)}"


class _Absent(Matcher):
    def mismatches(self, actual: Any, path: str) -> list[Mismatch]:
        return [] if actual is ABSENT else [Mismatch(path, "absent", actual)]

    def describe(self) -> str:
        return "absent"


class _AnyValue(Matcher):
    def mismatches(self, actual: Any, path: str) -> list[Mismatch]:
        return [] if actual is not ABSENT and actual is not None else [Mismatch(path, "any value", actual)]

    def describe(self) -> str:
        return "any value"


class _Regex(Matcher):
    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)

    def mismatches(self, actual: Any, path: str) -> list[Mismatch]:
        if isinstance(actual, str) and self.pattern.search(actual):
            return []
        return [Mismatch(path, self.describe(), actual)]

    def describe(self) -> str:
        return f"a string matching /{self.pattern.pattern}/"


class Match:
    """Explicit matchers, for where the plain-data defaults (partial dicts, lists that contain) do not fit."""

    @staticmethod
    def object_like(pattern: dict[str, Any]) -> Matcher:
        """A dict holding at least these keys; the default for a dict."""
        return _ObjectLike(pattern)

    @staticmethod
    def array_with(items: Sequence[Any]) -> Matcher:
        """A list in which each of these items matches some item; the default for a list."""
        return _ArrayWith(items)

    @staticmethod
    def exact(value: Any) -> Matcher:
        """Equal as a whole: no extra keys, same list items in the same order."""
        return _Exact(value)

    @staticmethod
    def absent() -> Matcher:
        """The key is not there."""
        return _Absent()

    @staticmethod
    def any_value() -> Matcher:
        """The key is there with any value but null."""
        return _AnyValue()

    @staticmethod
    def string_like_regexp(pattern: str) -> Matcher:
        """A string in which the regular expression finds a match."""
        return _Regex(pattern)


def _as_matcher(expected: Any) -> Matcher:
    if isinstance(expected, Matcher):
        return expected
    if isinstance(expected, dict):
        return _ObjectLike(expected)
    if isinstance(expected, (list, tuple)):
        return _ArrayWith(expected)
    return _Exact(expected)


def mismatches(actual: Any, pattern: Any) -> list[Mismatch]:
    """Every field of ``actual`` that does not match ``pattern`` (empty when it matches)."""
    return _as_matcher(pattern).mismatches(actual, "")


def matches(actual: Any, pattern: Any) -> bool:
    return not mismatches(actual, pattern)


def find_matching(manifests: Iterable[Manifest], kind: str, pattern: Any = None) -> list[dict[str, Any]]:
    """The objects of ``kind`` that match ``pattern`` (all of that kind when it is None)."""
    return [m.obj for m in manifests if m.kind == kind and (pattern is None or matches(m.obj, pattern))]


def assert_has_object(manifests: Sequence[Manifest], kind: str, pattern: Any = None) -> dict[str, Any]:
    """The first object of ``kind`` matching ``pattern``; AssertionError showing the nearest one otherwise."""
    __tracebackhide__ = True
    candidates = [m for m in manifests if m.kind == kind]
    if not candidates:
        kinds = sorted({m.kind for m in manifests})
        _raise(f"no {kind} in the synth; kinds present: {', '.join(kinds) or 'none'}")
    scored = [(mismatches(m.obj, pattern if pattern is not None else {}), m) for m in candidates]
    for found, manifest in scored:
        if not found:
            return manifest.obj
    found, nearest = min(scored, key=lambda pair: len(pair[0]))
    lines = [f"no {kind} matches the pattern ({len(candidates)} {kind} object{'s' if len(candidates) != 1 else ''} checked)",
             f"nearest: {_origin(nearest)} with {len(found)} mismatch{'es' if len(found) != 1 else ''}:"]
    lines += [f"  {mismatch}" for mismatch in found]
    _raise("\n".join(lines))


def assert_object_count(manifests: Sequence[Manifest], kind: str, count: int, pattern: Any = None) -> None:
    __tracebackhide__ = True
    found = [m for m in manifests if m.kind == kind and (pattern is None or matches(m.obj, pattern))]
    if len(found) != count:
        names = ", ".join(_origin(m) for m in found) or "none"
        _raise(f"expected {count} {kind} object{'s' if count != 1 else ''}{' matching the pattern' if pattern else ''}, "
               f"found {len(found)}: {names}")


def _raise(message: str) -> NoReturn:
    # Hide the kit's own frames from pytest's traceback: the test line is what matters.
    __tracebackhide__ = True
    raise AssertionError(message)


def _origin(manifest: Manifest) -> str:
    place = "/".join(part for part in (manifest.environment, manifest.app) if part)
    return f"{manifest.kind} {manifest.name}" + (f" (in {place})" if place else "")


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _join(path: str, key: Any) -> str:
    """``spec.template`` or ``limits["nvidia.com/gpu"]``: keys with dots or slashes are quoted."""
    if isinstance(key, str) and _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]".replace("'", '"')


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
