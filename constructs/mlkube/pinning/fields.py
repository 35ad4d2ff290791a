"""Where images are in an object: every string value of a key named ``image``, at any depth.

This is kbld's rule. It covers containers, init and ephemeral containers of every pod template
(Deployment, Job, CronJob, JobSet, ...) and the image fields of custom resources (KServe
predictors, Argo Workflows templates). ConfigMaps and Secrets are data, never images.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["ImageField", "image_fields", "NOT_IMAGE_KINDS"]

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


def _walk(node: Any, path: str) -> Iterator[ImageField]:
    if isinstance(node, dict):
        image = node.get("image")
        if isinstance(image, str):
            name = node.get("name")
            yield ImageField(f"{path}.image" if path else "image", name if isinstance(name, str) else "", node)
        for key, value in node.items():
            if isinstance(value, dict | list):
                yield from _walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, dict | list):
                yield from _walk(value, f"{path}[{index}]")
