"""Testing kit: synthesize in memory, match objects partially, snapshot them as readable YAML.

The pytest plugin (``mlkube.testing.plugin``, loaded automatically once mlkube is installed) gives
the fixtures ``mlkube_synth``, ``yaml_snapshot`` and ``platform_snapshot``.
"""

from typing import TYPE_CHECKING, Any

from .match import Match, Matcher, Mismatch, matches, mismatches
from .synth import SynthesizedObjects, synth_app, synth_platform

__all__ = ["Match", "Matcher", "Mismatch", "SynthesizedObjects", "YamlSnapshotExtension", "app_documents", "changed_fields", "matches",
           "mismatches", "objects_to_yaml", "snapshot_platform", "synth_app", "synth_platform"]

if TYPE_CHECKING:  # what type checkers see; imported on first use at run time (below)
    from .snapshot import YamlSnapshotExtension, app_documents, changed_fields, objects_to_yaml, snapshot_platform

_SNAPSHOT_NAMES = {"YamlSnapshotExtension", "app_documents", "changed_fields", "objects_to_yaml", "snapshot_platform"}


def __getattr__(name: str) -> Any:
    # The snapshot helpers need syrupy (the `testing` extra); importing them lazily keeps the pytest
    # plugin, which loads in every pytest run of an environment with mlkube, working without it.
    if name in _SNAPSHOT_NAMES:
        from . import snapshot

        return getattr(snapshot, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
