"""A realistic change of the example platform, made on a copy of the committed dist/ the way synth
would render it (each edited file is loaded and written back with ``mlkube.kube.render.to_yaml``, which
reproduces the committed bytes of an unedited object):

- dev: fraud-scorer rebuilt (a new content tag), a new digest in the Deployment and in the lock (an image bump);
- prod: llm-server moves from H100 to A100 GPUs (the ``gpu_product`` override);
- staging: the llm-checkpoints CheckpointVolume leaves mlkube (its claim and snapshot are removed;
  the workloads keep mounting the claim by name, as when the storage team takes it over).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import yaml
from helpers import REPO_ROOT

from mlkube.kube.render import to_yaml

__all__ = ["COMMITTED_DIST", "NEW_SCORER_DIGEST", "OLD_SCORER_DIGEST", "NEW_GPU", "copy_dist", "apply_example_change"]

COMMITTED_DIST = REPO_ROOT / "dist"
# The built fraud-scorer image as the committed lock pins it in dev, and the digest a rebuild would get.
OLD_SCORER_DIGEST = json.loads((COMMITTED_DIST / "images.lock.json").read_text())["environments"]["dev"]["images"]["fraud-scorer"]["digest"]
NEW_SCORER_DIGEST = "sha256:" + hashlib.sha256(b"ghcr.io/acme/fraud-scorer:rebuilt").hexdigest()
NEW_GPU = "NVIDIA-A100-SXM4-80GB"


def copy_dist(target: Path) -> Path:
    """The committed config repo (manifests and lock; the CI workflows are not part of a diff)."""
    shutil.copytree(COMMITTED_DIST, target, ignore=shutil.ignore_patterns(".github"))
    return target


def _edit(path: Path, change: Any) -> None:
    obj = yaml.safe_load(path.read_text())
    change(obj)
    path.write_text(to_yaml(obj))


def _container(obj: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in obj["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def _bump_scorer(obj: dict[str, Any]) -> None:
    container = _container(obj, "server")
    assert container["image"] == f"ghcr.io/acme/fraud-scorer@{OLD_SCORER_DIGEST}"
    container["image"] = f"ghcr.io/acme/fraud-scorer@{NEW_SCORER_DIGEST}"


def _move_gpu(obj: dict[str, Any]) -> None:
    selector = obj["spec"]["template"]["spec"]["nodeSelector"]
    assert selector["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
    selector["nvidia.com/gpu.product"] = NEW_GPU


def _lock_bump(lock_path: Path) -> None:
    lock = json.loads(lock_path.read_text())
    entry = lock["environments"]["dev"]["images"]["fraud-scorer"]
    assert entry["digest"] == OLD_SCORER_DIGEST
    entry.update(tag="0123456789abcdef", digest=NEW_SCORER_DIGEST)
    lock_path.write_text(json.dumps(lock, indent=2) + "\n")


def apply_example_change(dist: Path) -> Path:
    _edit(dist / "dev" / "fraud-scoring" / "deployment-fraud-scorer.yaml", _bump_scorer)
    _lock_bump(dist / "images.lock.json")
    _edit(dist / "prod" / "llm-chat" / "deployment-llm-server.yaml", _move_gpu)
    for name in ("persistentvolumeclaim-llm-checkpoints.yaml", "volumesnapshot-llm-checkpoints-finetune-v1.yaml"):
        (dist / "staging" / "llm-chat" / name).unlink()
    return dist
