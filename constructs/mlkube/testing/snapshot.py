"""Syrupy snapshots of synthesized objects as readable YAML: one file per test, or one per app and environment."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import yaml
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from ..kube.render import file_name, to_yaml

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion

    from ..core.platform import Platform
    from .synth import SynthesizedObjects

__all__ = ["YamlSnapshotExtension", "objects_to_yaml", "app_documents", "changed_fields", "snapshot_platform"]


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
        if not (assertion(name=name) == text):  # noqa: SIM201  (syrupy records the snapshot in __eq__; it has no __ne__)
            recalled = assertion.executions[assertion.num_executions - 1].recalled_data
            summary = changed_fields(recalled, text) if isinstance(recalled, str) else ["(no snapshot yet)"]
            failures.append(f"snapshot {name} differs from the synthesized objects:\n"
                            + "".join(f"  {line}\n" for line in summary) + "\n".join(assertion.get_assert_diff()))
    if failures:
        raise AssertionError("\n\n".join(failures) + "\n\nIf the change is intended, accept it with: pytest --snapshot-update")
    return objects


def _documents(stream: str) -> dict[str, Any]:
    """``{"dev/app/deployment-x.yaml": object}`` from a stream written by ``app_documents``."""
    found: dict[str, Any] = {}
    for index, document in enumerate(stream.split("---\n")):
        first, _, _ = document.partition("\n")
        key = first[2:] if first.startswith("# ") else f"document {index + 1}"
        try:
            found[key] = yaml.safe_load(document)
        except yaml.YAMLError:
            found[key] = document
    return found


def _leaf_changes(old: Any, new: Any, path: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            child = f"{path}.{key}" if path else str(key)
            if key not in new:
                changes.append(f"{child}: removed (was {old[key]!r})")
            elif key not in old:
                changes.append(f"{child}: added ({new[key]!r})")
            else:
                changes += _leaf_changes(old[key], new[key], child)
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [change for index, (a, b) in enumerate(zip(old, new, strict=True)) for change in _leaf_changes(a, b, f"{path}[{index}]")]
    return [] if old == new else [f"{path or '(whole object)'}: {old!r} -> {new!r}"]


def changed_fields(old_stream: str, new_stream: str, limit: int = 20) -> list[str]:
    """What changed between two snapshots, one line per field: ``dev/app/deployment-x.yaml: spec.replicas: 2 -> 3``."""
    old, new = _documents(old_stream), _documents(new_stream)
    lines: list[str] = []
    for key in list(dict.fromkeys([*old, *new])):
        if key not in new:
            lines.append(f"{key}: object removed")
        elif key not in old:
            lines.append(f"{key}: object added")
        else:
            lines += [f"{key}: {change}" for change in _leaf_changes(old[key], new[key], "")]
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])
