"""Synthesize a platform or a single app in memory, with every validation synth runs."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.platform import Environment, MlApp, Platform
from ..kube.manifest import Manifest
from .match import assert_has_object, assert_object_count, find_matching

__all__ = ["SynthesizedObjects", "synth_app", "synth_platform"]


@dataclass
class SynthesizedObjects:
    """The objects of a synth, in output order, with lookups by kind and name."""

    manifests: list[Manifest]
    files: dict[str, bytes]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (m.obj for m in self.manifests)

    def __len__(self) -> int:
        return len(self.manifests)

    @property
    def objects(self) -> list[dict[str, Any]]:
        return [m.obj for m in self.manifests]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [m.obj for m in self.manifests if m.kind == kind]

    def get(self, kind: str, name: str, environment: str | None = None) -> dict[str, Any]:
        """The one object of that kind and name; KeyError naming what exists otherwise."""
        found = [m.obj for m in self.manifests if m.kind == kind and m.name == name
                 and (environment is None or m.environment == environment)]
        if len(found) != 1:
            present = sorted(f"{m.kind}/{m.name}" for m in self.manifests)
            raise KeyError(f"{'no' if not found else 'several'} {kind}/{name}; objects: {', '.join(present)}")
        return found[0]

    def for_app(self, app: str, environment: str | None = None) -> list[dict[str, Any]]:
        return [m.obj for m in self.manifests if m.app == app and (environment is None or m.environment == environment)]

    def find_objects(self, kind: str, pattern: Any = None) -> list[dict[str, Any]]:
        """Objects of ``kind`` matching the partial ``pattern`` (see mlkube.testing.match)."""
        return find_matching(self.manifests, kind, pattern)

    def has_object(self, kind: str, pattern: Any = None) -> dict[str, Any]:
        """Assert that some object of ``kind`` matches ``pattern`` and return it.

        ``objects.has_object("Deployment", {"spec": {"replicas": 3}})``. On failure the message shows
        the nearest object of that kind and each mismatching field path, expected against actual.
        """
        __tracebackhide__ = True
        return assert_has_object(self.manifests, kind, pattern)

    def object_count_is(self, kind: str, count: int, pattern: Any = None) -> None:
        """Assert how many objects of ``kind`` (matching ``pattern``, if given) the synth made."""
        __tracebackhide__ = True
        assert_object_count(self.manifests, kind, count, pattern)

    def apps(self) -> list[tuple[str, str]]:
        """The (environment, app) pairs, in output order."""
        return list(dict.fromkeys((m.environment, m.app) for m in self.manifests))


def synth_platform(platform: Platform) -> SynthesizedObjects:
    """Run the full synth (transforms, validation, outputs) into a throw-away folder; writes nothing else."""
    with tempfile.TemporaryDirectory(prefix="mlkube-test-") as folder:
        result = platform.synthesize(Path(folder) / "dist")
        files = dict(result.files)  # read from the folder (SynthResult.files) before it is removed
    return SynthesizedObjects(result.manifests, files)


def synth_app(build: Callable[[MlApp], None], *, name: str = "app",
              environments: Sequence[Environment | dict[str, Any]] = (Environment(name="test", namespace="ml"),)) -> SynthesizedObjects:
    """Synthesize one app defined by ``build`` (the function given to ``platform.app``)."""
    platform = Platform(environments=environments)
    platform.app(name, build)
    return synth_platform(platform)
