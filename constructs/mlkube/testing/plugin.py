"""The mlkube pytest plugin: fixtures that synthesize and snapshot blueprints with no cdk8s or Node set-up.

Registered through the ``pytest11`` entry point ``mlkube`` (pyproject.toml), so any project with
mlkube installed gets these fixtures:

- ``mlkube_synth``: ``mlkube_synth(platform)`` or ``mlkube_synth(build_function)`` synthesizes in
  memory (every check of ``mlkube synth``, nothing written) and returns ``SynthesizedObjects``.
- ``yaml_snapshot``: syrupy's ``snapshot`` storing readable YAML (``assert objects == yaml_snapshot``).
- ``platform_snapshot``: ``platform_snapshot(platform)`` keeps one YAML snapshot per environment and app.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

# jsii prints a Node end-of-life banner on every start, and the cdk8s CLI checks for upgrades online.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CDK8S_CHECK_UPGRADE", "false")

__all__ = ["mlkube_synth", "yaml_snapshot", "platform_snapshot"]


@pytest.fixture
def mlkube_synth() -> Callable[..., Any]:
    """Synthesize a Platform, or a single app built by a function, in memory."""
    from ..core.platform import Platform
    from .synth import synth_app, synth_platform

    def synth(target: Any, **options: Any) -> Any:
        return synth_platform(target) if isinstance(target, Platform) else synth_app(target, **options)

    return synth


@pytest.fixture
def yaml_snapshot(snapshot: Any) -> Any:
    """syrupy's ``snapshot``, stored as readable YAML under ``__snapshots__/<test file>/<test>.yaml``."""
    from .snapshot import YamlSnapshotExtension

    return snapshot.use_extension(YamlSnapshotExtension)


@pytest.fixture
def platform_snapshot(snapshot: Any) -> Callable[[Any], Any]:
    """``platform_snapshot(platform)``: one YAML snapshot per environment and app; returns the objects."""
    from .snapshot import snapshot_platform

    def check(target: Any) -> Any:
        __tracebackhide__ = True
        return snapshot_platform(target, snapshot)

    return check
