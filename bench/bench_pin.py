"""Benchmark: `mlkube pin --digests` on a synthetic tree of 5,000 objects (not a test).

    PYTHONPATH=constructs python bench/bench_pin.py [--objects 5000] [--repeat 3] [--dir /dev/shm]

Writes a tree of Deployments (main container, sidecar, init container), Services, ConfigMaps and
HPAs in two environments under a temporary folder, a digest file for every image, then times
pinning in-process (median of --repeat runs on fresh copies) and once through the real CLI.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlkube.kube.render import file_name, to_yaml
from mlkube.pinning.pin import pin_from_digests

IMAGES = 50


def deployment(index: int, namespace: str) -> dict:
    name = f"svc-{index}"
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}}, "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [
                    {"name": "main", "image": f"registry.example.com/ml/img-{index % IMAGES}:0123456789abcdef",
                     "ports": [{"containerPort": 8080}], "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                    {"name": "proxy", "image": "ghcr.io/acme/proxy:2.1"}],
                    "initContainers": [{"name": "init", "image": "busybox:1.36"}]}}}}


def others(index: int, namespace: str) -> list[dict]:
    name = f"svc-{index}"
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
         "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
         "data": {"settings.yaml": "threshold: 0.5\nmodel: fraud\n"}},
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name, "namespace": namespace},
         "spec": {"maxReplicas": 5, "minReplicas": 2, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}}},
    ]


def write_tree(dist: Path, objects: int) -> dict[str, str]:
    per_environment = objects // 2
    for env in ("dev", "prod"):
        for index in range(per_environment // 4):
            app = dist / env / f"app-{index // 25}"
            app.mkdir(parents=True, exist_ok=True)
            for obj in [deployment(index, app.name), *others(index, app.name)]:
                (app / file_name(obj)).write_text(to_yaml(obj))
    digests = {f"registry.example.com/ml/img-{i}:0123456789abcdef": f"sha256:{i:064x}" for i in range(IMAGES)}
    digests.update({"ghcr.io/acme/proxy:2.1": "sha256:" + "c" * 64, "busybox:1.36": "sha256:" + "d" * 64})
    return digests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default="/dev/shm" if Path("/dev/shm").is_dir() else None,
                        help="Where to write the trees [default: /dev/shm, tmpfs, to leave the disk out].")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        root = Path(folder)
        digests = write_tree(root / "template", args.objects)
        (root / "digests.json").write_text(json.dumps(digests))
        files = sum(1 for _ in (root / "template").rglob("*.yaml"))
        times = []
        for run in range(args.repeat):
            dist = root / f"dist-{run}"
            shutil.copytree(root / "template", dist)
            started = time.perf_counter()
            result = pin_from_digests(dist, digests, "bench")
            times.append(time.perf_counter() - started)
        dist = root / "dist-cli"
        shutil.copytree(root / "template", dist)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mlkube", "pin", "--dist", str(dist), "--digests", str(root / "digests.json")],
                       check=True, capture_output=True)
        cli = time.perf_counter() - started
    print(f"{files} objects ({result.references} image references in {result.files} files): "
          f"pin in-process median {statistics.median(times):.2f}s (runs: {', '.join(f'{t:.2f}' for t in times)}); "
          f"`mlkube pin` command, start-up included: {cli:.2f}s")


if __name__ == "__main__":
    main()
