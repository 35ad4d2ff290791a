"""What a diff is made of: risk levels, risks, field changes, object changes and the report.

Objects are matched by (environment, group, kind, namespace, name), never by file or position: an
object moved to another file of the same app is no change at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal

from .sources import Located

__all__ = ["Level", "Risk", "FieldChange", "ObjectChange", "DiffReport", "Status", "changed_paths", "join_path",
           "CATEGORIES"]


class Level(IntEnum):
    """How much a reviewer should care, in order: ``none < info < low < medium < high``.

    - high: harm on apply: data deleted, a production service down, a pod gains host access.
    - medium: apply fails or replaces the object, or a safeguard is lost (PDB, NetworkPolicy,
      a restricted pod setting, an image pinned by digest).
    - low: reserved for rules that only matter in some settings (none of the built-in rules today).
    - info: worth a look, harmless on its own (scaling to zero outside production).
    """

    NONE = 0
    INFO = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Level:
        return cls[text.upper()]


#: Risk categories, in the order the report lists them.
CATEGORIES = ("data loss", "recreation", "availability", "security")

Status = Literal["removed", "changed", "added", "unchanged"]


@dataclass(frozen=True)
class Risk:
    level: Level
    category: str
    reason: str

    def sort_key(self) -> tuple[int, int, str]:
        return -self.level, CATEGORIES.index(self.category), self.reason


@dataclass(frozen=True)
class FieldChange:
    """One row of the table: a field that matters, its displayed old and new values (None when absent)."""

    field: str
    old: str | None
    new: str | None


@dataclass
class ObjectChange:
    """An object that differs between the sides (``unchanged`` only when a risk is about it)."""

    status: Status
    base: Located | None
    head: Located | None
    fields: list[FieldChange] = field(default_factory=list)
    #: Changed field paths that the table does not show (``spec.template.spec.containers[server].env``).
    other_paths: list[str] = field(default_factory=list)
    risks: list[Risk] = field(default_factory=list)

    @property
    def located(self) -> Located:
        located = self.head or self.base
        assert located is not None
        return located

    @property
    def environment(self) -> str:
        return self.located.environment

    @property
    def app(self) -> str:
        return self.located.app

    @property
    def moved_from_app(self) -> str | None:
        if self.base and self.head and self.base.app != self.head.app:
            return self.base.app
        return None

    @property
    def identity(self) -> tuple[str, str, str, str]:
        _, group, kind, namespace, name = self.located.match_key
        return group, kind, namespace, name

    @property
    def kind(self) -> str:
        return self.identity[1]

    @property
    def namespace(self) -> str:
        return self.identity[2]

    @property
    def name(self) -> str:
        return self.identity[3]

    def describe(self) -> str:
        """``Deployment fraud/server``: kind, then namespace/name."""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    @property
    def highest(self) -> Level:
        return max((risk.level for risk in self.risks), default=Level.NONE)

    def sort_key(self) -> tuple[str, str, int, str, str, str, str]:
        order = ("removed", "changed", "added", "unchanged").index(self.status)
        group, kind, namespace, name = self.identity
        return self.environment, self.app, order, kind, namespace, name, group


@dataclass
class DiffReport:
    base_label: str
    head_label: str
    changes: list[ObjectChange]
    production: frozenset[str]
    notes: list[str] = field(default_factory=list)
    #: Images CI builds, pushes and pins after merge (entry environments' new content tags).
    builds: list[str] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for change in self.changes if change.status == status)

    def risk_counts(self) -> dict[Level, int]:
        counts: dict[Level, int] = {level: 0 for level in sorted(Level, reverse=True) if level is not Level.NONE}
        for change in self.changes:
            for risk in change.risks:
                counts[risk.level] += 1
        return counts

    @property
    def highest(self) -> Level:
        return max((change.highest for change in self.changes), default=Level.NONE)


# -- field paths -------------------------------------------------------------------------------------

def join_path(prefix: str, key: Any) -> str:
    """``spec`` + ``replicas`` -> ``spec.replicas``; keys with dots or slashes are bracketed:
    ``resources.limits[nvidia.com/gpu]``."""
    text = str(key)
    if "." in text or "/" in text or not text:
        return f"{prefix}[{text}]"
    return f"{prefix}.{text}" if prefix else text


def _named(items: list[Any]) -> dict[str, Any] | None:
    """Items of a list keyed by their ``name``, when every item has a distinct one (containers, env, ports)."""
    if not all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in items):
        return None
    keyed = {item["name"]: item for item in items}
    return keyed if len(keyed) == len(items) else None


def changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """The paths where ``old`` and ``new`` differ, down to leaves; named list items by name."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        paths: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            if key not in old or key not in new:
                paths.append(join_path(prefix, key))
            elif old[key] != new[key]:
                paths += changed_paths(old[key], new[key], join_path(prefix, key))
        return paths
    if isinstance(old, list) and isinstance(new, list):
        old_named, new_named = _named(old), _named(new)
        if old_named is not None and new_named is not None and (old or new):
            paths = []
            for name in sorted(set(old_named) | set(new_named)):
                path = f"{prefix}[{name}]"
                if name not in old_named or name not in new_named:
                    paths.append(path)
                else:
                    paths += changed_paths(old_named[name], new_named[name], path)
            return paths
        if len(old) == len(new):
            return [path for index, (a, b) in enumerate(zip(old, new, strict=True))
                    for path in changed_paths(a, b, f"{prefix}[{index}]")]
    return [prefix]
