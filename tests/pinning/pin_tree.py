"""A hand-written config repo tree with images in every place pinning must reach, and helpers."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["write_tree", "snapshot_tree", "all_digests", "FRAUD", "TRAINER", "digest", "TAG"]

TAG = "0123456789abcdef"
FRAUD = f"registry.example.com/ml/fraud:{TAG}"
TRAINER = f"registry.example.com/ml/trainer:{TAG}"


def digest(char: str) -> str:
    return "sha256:" + char * 64


DEPLOYMENT = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: server
  namespace: fraud  # comments stay
spec:
  template:
    spec:
      containers:
      - image: {FRAUD}
        name: main
      - image: "ghcr.io/acme/proxy:2.1"   # a sidecar, double-quoted
        name: proxy
      initContainers:
      - name: init
        image: 'busybox:1.36'
"""

CRONJOB = f"""apiVersion: batch/v1
kind: CronJob
metadata:
  name: retrain
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - {{name: train, image: {TRAINER}}}
          restartPolicy: OnFailure
  schedule: 0 3 * * *
"""

INFERENCE_SERVICE = f"""apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: scorer
spec:
  predictor:
    containers:
    - image: {FRAUD}
      name: kserve-container
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  image: busybox:1.36
  readme: |
    image: busybox:1.36
"""


def write_tree(dist: Path, environments: tuple[str, ...] = ("dev", "prod")) -> Path:
    for env in environments:
        app = dist / env / "fraud"
        app.mkdir(parents=True, exist_ok=True)
        (app / "deployment-server.yaml").write_text(DEPLOYMENT)
        (app / "cronjob-retrain.yaml").write_text(CRONJOB)
        (app / "inferenceservice-scorer.yaml").write_text(INFERENCE_SERVICE)
        (app / "service-server.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: server\n")
    images = [{"name": name, "tag": TAG, "references": dict.fromkeys(environments, f"registry.example.com/ml/{name}:{TAG}")}
              for name in ("fraud", "trainer")]
    (dist / "images.json").write_text(json.dumps({"version": 1, "images": images}, indent=2) + "\n")
    return dist


def snapshot_tree(dist: Path) -> dict[str, bytes]:
    """Every file's bytes (to show that a failed pin changed nothing)."""
    return {str(p.relative_to(dist)): p.read_bytes() for p in sorted(dist.rglob("*")) if p.is_file()}


def all_digests() -> dict[str, str]:
    return {FRAUD: digest("a"), TRAINER: digest("b"), "ghcr.io/acme/proxy:2.1": digest("c"), "busybox:1.36": digest("d")}
