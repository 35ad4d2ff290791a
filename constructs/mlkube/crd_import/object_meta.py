"""The strict Kubernetes ObjectMeta schema that imported CRD schemas embed for ``metadata``.

Why embed rather than refer: a schema in the ``{group}/{kind}_{version}.json`` layout is read by
other tools too (kubeconform, editors), which cannot resolve mlkube's registry of Kubernetes
definitions. Copying ObjectMeta and the few definitions it refers to (about 13 kB) from
kubernetes-validate's strict ``_definitions.json`` keeps each file self-contained and checks
``metadata`` exactly as the API server of that Kubernetes version does.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate

from ..errors import MlkubeError
from ..validation.schemas import supported_kubernetes_versions

__all__ = ["OBJECT_META", "OBJECT_META_REF", "object_meta_defs"]

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
#: How a converted schema points at the embedded ObjectMeta (resolved inside the same file).
OBJECT_META_REF = f"#/$defs/{OBJECT_META}"
_SCHEMAS = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
_LOCAL_REF = re.compile(r"^#/\$defs/(.+)$")


def _definitions(kubernetes_version: str) -> dict[str, Any]:
    path = _SCHEMAS / f"v{kubernetes_version}.0-local-strict" / "_definitions.json"
    if not re.fullmatch(r"\d+\.\d+", kubernetes_version) or not path.is_file():
        raise MlkubeError.single(f"no Kubernetes schemas for version {kubernetes_version!r}",
                                 hint=f"use one of {', '.join(supported_kubernetes_versions())}")
    definitions: dict[str, Any] = json.loads(path.read_text())["$defs"]
    return definitions


def _local_refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {m.group(1) for ref in [node.get("$ref")] if isinstance(ref, str) and (m := _LOCAL_REF.match(ref))}
        return found.union(*(_local_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_local_refs(value) for value in node))
    return set()


@cache
def _closure(kubernetes_version: str) -> str:
    definitions = _definitions(kubernetes_version)
    wanted, todo = {}, [OBJECT_META]
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted[name] = definitions[name]
            todo += sorted(_local_refs(definitions[name]))
    return json.dumps(wanted)  # cached as text so every caller gets its own copy


def object_meta_defs(kubernetes_version: str) -> dict[str, Any]:
    """``$defs`` entries for ObjectMeta and what it refers to (Time, OwnerReference, ...)."""
    defs: dict[str, Any] = json.loads(_closure(kubernetes_version))
    return defs
