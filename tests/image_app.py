"""Workloads for the image tests: the real constructs, whose pod builder resolves images
(``resolve_image`` gives the container's ``image`` value and records built images on the platform)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from constructs import Construct
from mlkube import InferenceService, ScheduledJob, SidecarSpec
from mlkube.core.construct import MlConstruct
from mlkube.core.image import ImageSpec

__all__ = ["ImageWorkload", "make_context", "IMAGE_ADAPTER"]

IMAGE_ADAPTER: TypeAdapter[Any] = TypeAdapter(ImageSpec)


def ImageWorkload(scope: Construct, id: str, image: Any, *, kind: str = "Deployment",
                  init_image: str | None = "busybox:1.36") -> MlConstruct:
    """A real mlkube workload running ``image``: a server (Deployment, with a registry-image sidecar) or a CronJob."""
    if kind == "CronJob":
        return ScheduledJob(scope, id, image=image, schedule="0 * * * *")
    sidecars = [SidecarSpec(name="init", image=init_image)] if init_image else []
    return InferenceService(scope, id, image=image, sidecars=sidecars)


def make_context(root: Path, name: str, files: dict[str, str] | None = None) -> Path:
    """A build context ``root/models/<name>`` with a requirements file and a module per purpose."""
    context = root / "models" / name
    context.mkdir(parents=True, exist_ok=True)
    contents = {"requirements.txt": "pip>=20\n", "serve.py": "print('serving')\n", "train.py": "print('training')\n",
                **(files or {})}
    for relative, text in contents.items():
        (context / relative).parent.mkdir(parents=True, exist_ok=True)
        (context / relative).write_text(text)
    return context
