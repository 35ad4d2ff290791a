"""``mlkube schemas import``: CustomResourceDefinitions into strict JSON Schemas, one file per served version.

The output uses the ``{group}/{kind lower}_{version}.json`` layout of kubeconform and
datreeio/CRDs-catalog, which is also where ``mlkube validate --crd-schemas DIR`` and synth look.
Each file is self-contained (no ``$id``, ObjectMeta embedded under ``$defs``), so other tools can
use it as well.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .compact import compact_schema, dump_compact
from .convert import JSON_SCHEMA_DIALECT, convert_root, convert_schema
from .object_meta import object_meta_defs
from .reader import ServedVersion, read_served_versions

__all__ = ["import_crds", "schema_for", "dump_schema", "convert_schema", "JSON_SCHEMA_DIALECT", "ServedVersion"]


def schema_for(version: ServedVersion, kubernetes_version: str) -> dict[str, Any]:
    """The strict JSON Schema of one served version."""
    return convert_root(version.open_api, group=version.group, version=version.version, kind=version.kind,
                        defs=object_meta_defs(kubernetes_version))


def dump_schema(schema: dict[str, Any]) -> bytes:
    """Deterministic JSON: sorted keys, 2-space indent, trailing newline."""
    return (json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def import_crds(paths: Iterable[str | Path], *, kubernetes_version: str, skip_other_kinds: bool = False,
                compact: bool = False) -> dict[str, bytes]:
    """Relative output path -> file content for every served version; raises MlkubeError on bad input.

    ``compact``: no descriptions, repeated sub-schemas shared through ``$defs``, one line of JSON
    (see :mod:`.compact`); it accepts and refuses exactly what the full form does.
    """
    object_meta_defs(kubernetes_version)  # an unknown version is an error even before any file is read
    versions = read_served_versions(paths, skip_other_kinds=skip_other_kinds)
    files = {}
    for version in versions:
        schema = schema_for(version, kubernetes_version)
        files[version.relative_path] = dump_compact(compact_schema(schema)) if compact else dump_schema(schema)
    return files
