"""Image references and the lock: apply an environment's locked digests, and refuse unpinned production images."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import Problem
from ..image import is_digest_reference
from ..manifest import Manifest, pod_template
from .lock import locked_images, pinned_reference, split_reference

__all__ = ["containers", "apply_locked_digests", "unpinned_images", "requires_pinned_images"]

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


def apply_locked_digests(manifests: list[Manifest], lock: dict[str, Any], environment: str) -> int:
    """Give every container whose repository the environment's lock holds the locked digest; returns how many.

    References that already carry a digest are left alone (the blueprint, or the pinning module, decided).
    """
    by_repository = {entry["repository"]: entry for entry in locked_images(lock, environment).values() if entry.get("digest")}
    changed = 0
    for manifest in manifests:
        if manifest.environment != environment:
            continue
        for _, container in containers(manifest.obj):
            repository, _, digest = split_reference(str(container.get("image", "")))
            entry = by_repository.get(repository)
            if entry is not None and digest is None:
                container["image"] = pinned_reference(entry)
                changed += 1
    return changed


def unpinned_images(manifests: list[Manifest]) -> Iterator[tuple[Manifest, str, str]]:
    """(manifest, field path, reference) of every container image not pinned by digest."""
    for manifest in manifests:
        for path, container in containers(manifest.obj):
            image = str(container.get("image", ""))
            if not is_digest_reference(image):
                yield manifest, f"{path}.image", image


def requires_pinned_images(environment: Any) -> bool:
    # require_pinned_images comes with the pinning module (issues 4/5); production implies it either way.
    return bool(environment.production or getattr(environment, "require_pinned_images", False))


def production_problems(manifests: list[Manifest], environment: Any) -> list[Problem]:
    return [Problem(manifest.where, path, f"{manifest.describe()}: image {image!r} is not pinned by digest, and environment "
                    f"{environment.name!r} requires pinned images", f"run `mlkube pin` for it, or `mlkube promote <staging> {environment.name}`")
            for manifest, path, image in unpinned_images([m for m in manifests if m.environment == environment.name])]
