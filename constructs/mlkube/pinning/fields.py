"""Where images are in an object: every string value of a key named ``image``, at any depth.

This is kbld's rule. It covers containers, init and ephemeral containers of every pod template
(Deployment, Job, CronJob, JobSet, ...) and the image fields of custom resources (KServe
predictors, Argo Workflows templates). ConfigMaps and Secrets are data, never images.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["ImageField", "image_fields", "mappings", "NOT_IMAGE_KINDS"]

NOT_IMAGE_KINDS = frozenset({"ConfigMap", "Secret"})


@dataclass
class ImageField:
    """One image value: its field path, its container name (when the parent has one) and the parent."""

    path: str
    container: str
    parent: dict[str, Any]

    @property
    def value(self) -> str:
        return str(self.parent["image"])


def image_fields(obj: dict[str, Any]) -> Iterator[ImageField]:
    if obj.get("kind") in NOT_IMAGE_KINDS:
        return
    yield from _walk(obj, "")


def mappings(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every mapping inside ``node`` with its field path (``spec.containers[0]``), outermost first."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            if isinstance(value, dict | list):
                yield from mappings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, dict | list):
                yield from mappings(value, f"{path}[{index}]")


def _walk(node: Any, path: str) -> Iterator[ImageField]:
    for where, mapping in mappings(node, path):
        image = mapping.get("image")
        if isinstance(image, str):
            name = mapping.get("name")
            yield ImageField(f"{where}.image" if where else "image", name if isinstance(name, str) else "", mapping)
