"""A rendered Kubernetes object and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .pods import TEMPLATE_PATHS

__all__ = ["Manifest", "object_key", "pod_template", "POD_TEMPLATE_PATHS"]

#: Where each built-in kind with one pod template keeps it (from the one table, mlkube.kube.pods).
POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = TEMPLATE_PATHS


@dataclass(slots=True)  # one per object for the whole synth (issue 22): no __dict__
class Manifest:
    """One object with its origin: ``where`` is a construct path or a file path."""

    obj: dict[str, Any]
    where: str
    environment: str = ""
    app: str = ""

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str(_metadata(self.obj).get("name", ""))

    @property
    def namespace(self) -> str:
        return str(_metadata(self.obj).get("namespace", ""))

    @property
    def key(self) -> tuple[str, str, str, str]:
        return object_key(self.obj)

    def describe(self) -> str:
        return f"{self.kind}/{self.name}"


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}  # a malformed object: the schema check reports it


def object_key(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    """Identity of an object in a cluster: (group, kind, namespace, name)."""
    metadata = _metadata(obj)
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return group, str(obj.get("kind", "")), str(metadata.get("namespace", "")), str(metadata.get("name", ""))


def pod_template(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template (metadata + spec) of a workload, the Pod itself, or None."""
    path = POD_TEMPLATE_PATHS.get(str(obj.get("kind")))
    if path is None:
        return None
    node: Any = obj
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None
