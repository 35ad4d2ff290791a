"""A syrupy extension that stores synthesized objects as one readable YAML file per snapshot."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from ..render import to_yaml

__all__ = ["YamlSnapshotExtension", "objects_to_yaml"]


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
