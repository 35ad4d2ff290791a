"""Syrupy snapshots of synthesized objects as readable YAML: one file per test, or one per app and environment."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from ..render import file_name, to_yaml

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion

    from ..platform import Platform
    from .synth import SynthesizedObjects

__all__ = ["YamlSnapshotExtension", "objects_to_yaml", "app_documents", "snapshot_platform"]


def objects_to_yaml(objects: Iterable[dict[str, Any]]) -> str:
    """Objects as a multi-document YAML stream, rendered exactly as synth writes them."""
    return "---\n".join(to_yaml(obj) for obj in objects)


class YamlSnapshotExtension(SingleFileSnapshotExtension):
    """``assert objects == snapshot(extension_class=YamlSnapshotExtension)``: a snapshot diff reads like the config-repo diff."""

    file_extension = "yaml"
    _write_mode = WriteMode.TEXT

    def serialize(self, data: Any, **kwargs: Any) -> str:
        if isinstance(data, str):
            return data
        if isinstance(data, dict):
            data = [data]
        return objects_to_yaml(data)


def app_documents(objects: SynthesizedObjects) -> dict[str, str]:
    """One YAML stream per ``<environment>-<app>``, each object headed by its path in the config repo."""
    grouped: dict[str, list[str]] = {}
    for manifest in objects.manifests:
        header = f"# {manifest.environment}/{manifest.app}/{file_name(manifest.obj)}\n"
        grouped.setdefault(f"{manifest.environment}-{manifest.app}", []).append(header + to_yaml(manifest.obj))
    return {name: "---\n".join(documents) for name, documents in grouped.items()}


def snapshot_platform(target: Platform | SynthesizedObjects, snapshot: SnapshotAssertion) -> SynthesizedObjects:
    """Compare every app of every environment with its own YAML snapshot, ``<test>[<environment>-<app>].yaml``.

    All apps are compared before failing, and the failure lists the diff of each changed one, so it
    reads like the diff of the config repo. ``pytest --snapshot-update`` accepts the changes; the
    snapshot of a removed app is reported as unused.
    """
    __tracebackhide__ = True
    from .synth import SynthesizedObjects, synth_platform

    objects = target if isinstance(target, SynthesizedObjects) else synth_platform(target)
    assertion = snapshot.use_extension(YamlSnapshotExtension)
    failures: list[str] = []
    for name, text in app_documents(objects).items():
        if not (assertion(name=name) == text):
            failures.append(f"snapshot {name} differs from the synthesized objects:\n" + "\n".join(assertion.get_assert_diff()))
    if failures:
        raise AssertionError("\n\n".join(failures) + "\n\nIf the change is intended, accept it with: pytest --snapshot-update")
    return objects
