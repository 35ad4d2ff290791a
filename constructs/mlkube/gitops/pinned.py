"""The containers of a workload and their unpinned images (for promotion)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..core.image import is_digest_reference
from ..kube.manifest import Manifest
from ..kube.pods import containers as pod_containers
from ..kube.pods import pod_views

__all__ = ["containers", "unpinned_images"]

def containers(obj: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(field path, container) of every container of every pod the object carries (mlkube.kube.pods)."""
    for pod in pod_views(obj):
        for container in pod_containers(pod):
            yield container.path, container.container


def unpinned_images(manifests: list[Manifest]) -> Iterator[tuple[Manifest, str, str]]:
    """(manifest, field path, reference) of every container image not pinned by digest."""
    for manifest in manifests:
        for path, container in containers(manifest.obj):
            image = str(container.get("image", ""))
            if not is_digest_reference(image):
                yield manifest, f"{path}.image", image
