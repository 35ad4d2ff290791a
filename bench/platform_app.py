"""A synthetic platform for the benchmarks: N apps x 3 environments, each app a server (and, where the
constructs exist, a training job and a checkpoint volume). Size from MLKUBE_BENCH_APPS; MLKUBE_BENCH_ENVIRONMENTS
(e.g. "prod") keeps only the environments named (bench/synth_memory.py --environments)."""

from __future__ import annotations

import os

import mlkube
from mlkube import Environment, InferenceService, MlApp, Platform

APPS = int(os.environ.get("MLKUBE_BENCH_APPS", "10"))
#: The index of an app whose image gets a new tag (bench/run.py's re-synth with one app changed).
CHANGED = int(os.environ.get("MLKUBE_BENCH_CHANGED", "-1"))
# Model downloads leave the cluster over HTTPS (a URI model needs declared egress).
ENVIRONMENTS = [Environment(name=name, namespace=f"{name}-{{app}}", network={"egress_https_cidrs": ["0.0.0.0/0"]})
                for name in ("dev", "staging", "prod")
                if name in os.environ.get("MLKUBE_BENCH_ENVIRONMENTS", "dev,staging,prod").split(",")]
HAS_TRAINING = hasattr(mlkube, "GpuTrainingJob") and hasattr(mlkube, "CheckpointVolume")


def build_app(index: int):
    def build(app: MlApp) -> None:
        volume = None
        if HAS_TRAINING:
            volume = mlkube.CheckpointVolume(app, "checkpoints", size="100Gi", access_mode="ReadWriteMany")
            job = mlkube.GpuTrainingJob(app, "train", image=f"ghcr.io/acme/trainer-{index}:1.0", nodes=2,
                                        resources={"cpu": "8", "memory": "64Gi", "gpu": {"count": 8}})
            job.mount(volume)
        server = InferenceService(app, "server", image=f"ghcr.io/acme/model-{index}:{'1.1' if index == CHANGED else '1.0'}",
                                  model="s3://models/m{index}/v1".replace("{index}", str(index)),
                                  resources={"cpu": "2", "memory": "4Gi"}, config={"MODEL_ID": str(index)})
        if volume is not None and hasattr(server, "mount"):
            server.mount(volume, read_only=True)
    return build


platform = Platform(environments=ENVIRONMENTS)
for number in range(APPS):
    platform.app(f"app-{number:04d}", build_app(number))

if __name__ == "__main__":
    platform.synth()
