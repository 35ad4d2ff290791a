"""Testing kit: synthesize in memory, look objects up, snapshot them as readable YAML."""

from .snapshot import YamlSnapshotExtension, objects_to_yaml
from .synth import SynthesizedObjects, synth_app, synth_platform

__all__ = ["SynthesizedObjects", "YamlSnapshotExtension", "objects_to_yaml", "synth_app", "synth_platform"]
