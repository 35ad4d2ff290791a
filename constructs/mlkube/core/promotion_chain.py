"""The promotion chain: entry environments (CI builds and pins them) and gated ones (only `mlkube promote`).

An environment is gated when it is production, has ``promote_from``, or is left out of
``GitOps.entry_environments``. A gated environment receives images from exactly one source: its
``promote_from``, else the environment listed before it. A production environment listed first
without ``promote_from`` has nothing to be promoted from: it is its own entry (CI pins it). Synth records the chain in the lock
(``promoteFrom``), so that pin, promote and check, which read only the tree, enforce it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem

__all__ = ["PromotionChain", "promotion_chain"]


@dataclass(frozen=True)
class PromotionChain:
    #: gated environment -> the environment it is promoted from
    sources: dict[str, str] = field(default_factory=dict)
    entry: tuple[str, ...] = ()

    def is_gated(self, environment: str) -> bool:
        return environment in self.sources


def _gated(environment: Any, entry: list[str] | None) -> bool:
    return bool(environment.production or environment.promote_from or (entry is not None and environment.name not in entry))


def promotion_chain(environments: Sequence[Any], gitops: Any | None) -> tuple[PromotionChain, list[Problem]]:
    """The chain of the platform's environments, and the problems of its declaration."""
    names = [env.name for env in environments]
    entry_declared = list(gitops.entry_environments) if gitops is not None and gitops.entry_environments is not None else None
    problems: list[Problem] = []
    for name in entry_declared or []:
        env = next((e for e in environments if e.name == name), None)
        if env is None:
            problems.append(Problem("gitops", "entry_environments", f"no environment {name!r}", f"environments: {', '.join(names)}"))
        elif env.promote_from or (env.production and environments.index(env) > 0):
            problems.append(Problem("gitops", "entry_environments", f"{name!r} is gated ({'production' if env.production else 'promote_from'}) "
                                    "and cannot be an entry environment", "CI pins entry environments; gated ones change only by mlkube promote"))
    sources: dict[str, str] = {}
    for index, env in enumerate(environments):
        if not _gated(env, entry_declared):
            continue
        source = env.promote_from or (names[index - 1] if index else None)
        where = f"environments[{index}]"
        if source is None and env.production and (entry_declared is None or env.name in entry_declared):
            continue
        if source is None:
            problems.append(Problem(where, "promote_from", f"gated environment {env.name!r} has no environment to be promoted from",
                                    "set promote_from='staging' (or list an entry environment before it)"))
        elif source not in names or source == env.name:
            problems.append(Problem(where, "promote_from", f"{source!r} is not another environment of the platform",
                                    f"environments: {', '.join(n for n in names if n != env.name)}"))
        else:
            sources[env.name] = source
    problems += _cycles(sources)
    entry = tuple(name for name in names if name not in sources)
    if not entry and names:
        problems.append(Problem("gitops", "entry_environments", "no entry environment: nothing would ever be built and pinned",
                                "list the environments CI pins in GitOps(entry_environments=[...])"))
    return PromotionChain(sources, entry), problems


def _cycles(sources: dict[str, str]) -> list[Problem]:
    problems = []
    for start in sorted(sources):
        seen = [start]
        current = sources[start]
        while current in sources and current not in seen:
            seen.append(current)
            current = sources[current]
        if current == start:
            problems.append(Problem(f"environment {start}", "promote_from", f"promotion cycle: {' -> '.join([*seen, start])}",
                                    "a chain must start at an entry environment that CI pins"))
    return problems
