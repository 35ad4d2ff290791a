"""A tiny workload construct for the image tests, standing in for the real workloads.

It does what every mlkube workload does with its image: ``resolve_image`` gives the value of the
container's ``image`` field and records built images on the platform.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from constructs import Construct
from pydantic import TypeAdapter

from mlkube.construct import MlConstruct
from mlkube.image import ImageSpec, resolve_image

__all__ = ["ImageWorkload", "make_context", "IMAGE_ADAPTER"]

IMAGE_ADAPTER: TypeAdapter[Any] = TypeAdapter(ImageSpec)


class ImageWorkload(MlConstruct):
    """A Deployment (or a CronJob) whose main container runs ``image``, with a registry init container."""

    def __init__(self, scope: Construct, id: str, image: Any, *, kind: str = "Deployment",
                 init_image: str | None = "busybox:1.36") -> None:
        super().__init__(scope, id)
        reference = resolve_image(IMAGE_ADAPTER.validate_python(image), self.ml_app, self.construct_path, "main")
        pod: dict[str, Any] = {"containers": [{"name": "main", "image": reference}]}
        if init_image:
            pod["initContainers"] = [{"name": "init", "image": init_image}]
        template = {"metadata": {"labels": {"app": id}}, "spec": pod}
        if kind == "CronJob":
            pod["restartPolicy"] = "OnFailure"
            spec: dict[str, Any] = {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}
            api = "batch/v1"
        else:
            spec = {"selector": {"matchLabels": {"app": id}}, "template": template}
            api = "apps/v1"
        self._emit({"apiVersion": api, "kind": kind, "metadata": {"name": id, "namespace": self.namespace}, "spec": spec})


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
