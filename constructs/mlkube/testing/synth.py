"""Synthesize a platform or a single app in memory, with every validation synth runs."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..manifest import Manifest
from ..platform import Environment, MlApp, Platform

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


def synth_platform(platform: Platform) -> SynthesizedObjects:
    """Run the full synth (transforms, validation, outputs) into a throw-away folder."""
    with tempfile.TemporaryDirectory(prefix="mlkube-test-") as folder:
        result = platform.synthesize(Path(folder) / "dist")
    return SynthesizedObjects(result.manifests, result.files)


def synth_app(build: Callable[[MlApp], None], *, name: str = "app",
              environments: Sequence[Environment | dict[str, Any]] = (Environment(name="test", namespace="ml"),)) -> SynthesizedObjects:
    """Synthesize one app defined by ``build`` (the function given to ``platform.app``)."""
    platform = Platform(environments=environments)
    platform.app(name, build)
    return synth_platform(platform)
