"""The containers of a workload and their unpinned images (for promotion)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..image import is_digest_reference
from ..manifest import Manifest, pod_template

__all__ = ["containers", "unpinned_images"]

_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def containers(obj: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(field path, container) of every container in a workload."""
    template = pod_template(obj)
    if template is None:
        return
    prefix = {"Pod": "spec", "CronJob": "spec.jobTemplate.spec.template.spec"}.get(str(obj.get("kind")), "spec.template.spec")
    for key in _CONTAINER_LISTS:
        for index, container in enumerate((template.get("spec") or {}).get(key) or []):
            yield f"{prefix}.{key}[{index}]", container


def unpinned_images(manifests: list[Manifest]) -> Iterator[tuple[Manifest, str, str]]:
    """(manifest, field path, reference) of every container image not pinned by digest."""
    for manifest in manifests:
        for path, container in containers(manifest.obj):
            image = str(container.get("image", ""))
            if not is_digest_reference(image):
                yield manifest, f"{path}.image", image
