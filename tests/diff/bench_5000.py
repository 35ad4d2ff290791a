"""Measure `mlkube diff` on two 5,000-object trees (not a test: run it by hand).

    PYTHONPATH=constructs .venv/bin/python tests/diff/bench_5000.py

Writes BASE and HEAD trees (2 environments x 834 apps x Deployment + Service + HPA = 5,004 objects
each, 52 image bumps and 20 replica changes in HEAD; no two files alike) to a temporary folder, then
times reading, comparing and rendering them in process (median of 5): as two folders, as two git
revisions, with a change of pod labels (which makes the files of that namespace parse), with
every Deployment changed, a folder against a revision, and without skipping unchanged files.
Last, the real command as CI runs it (``python -m mlkube diff``, a new process each time), on the
5,000-object trees and on the committed example dist/.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlkube.diff import compare_sides, diff_specs, read_side, render_markdown
from mlkube.kube.render import file_name, to_yaml

APPS = 834
DIGEST = "sha256:" + "a" * 64
NEW_DIGEST = "sha256:" + "b" * 64


def app_objects(app: str, environment: str, index: int, head: bool, relabel: bool = False, bump_all: bool = False) -> list[dict]:
    labels = {"app.kubernetes.io/name": app, "mlkube.dev/environment": environment}
    pod_labels = {**labels, "tier": "serving"} if relabel and index == 0 else labels
    digest = NEW_DIGEST if head and (index % 33 == 0 or bump_all) else DIGEST
    replicas = 3 if head and index % 83 == 1 else 2
    container = {"name": "server", "image": f"ghcr.io/acme/{app}@{digest}",
                 "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}},
                 "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                     "capabilities": {"drop": ["ALL"]}},
                 "ports": [{"name": "http", "containerPort": 8080}]}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": app, "namespace": app, "labels": labels},
         "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": pod_labels},
                               "spec": {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                                        "containers": [container]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "namespace": app},
         "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}},
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": app, "namespace": app},
         "spec": {"minReplicas": 2, "maxReplicas": 10,
                  "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
                  "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}},
    ]


def write_tree(root: Path, head: bool, relabel: bool = False, bump_all: bool = False) -> int:
    count = 0
    for environment in ("dev", "prod"):
        for index in range(APPS):
            app = f"app-{index:04d}"
            folder = root / environment / app
            folder.mkdir(parents=True)
            for obj in app_objects(app, environment, index, head, relabel, bump_all):
                (folder / file_name(obj)).write_text(to_yaml(obj))
                count += 1
    return count


def _cpu(children: bool) -> float:
    if children:  # the CPU time of finished child processes (a CLI run)
        times = os.times()
        return times.children_user + times.children_system
    return time.process_time()


def timed(function, runs: int = 5, children: bool = False) -> str:
    """Median wall and CPU time of ``runs`` calls (CPU time is steadier on a shared machine)."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), _cpu(children)
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(_cpu(children) - cpu)
    return f"{statistics.median(walls):.2f} s wall, {statistics.median(cpus):.2f} s CPU (median of {runs})"


def main() -> None:
    # Scratch on tmpfs where there is one: the figures are then the program's, not the shared disk's (issue 22).
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as temp:
        base, head = Path(temp, "base"), Path(temp, "head")
        print(f"objects: {write_tree(base, False)} base, {write_tree(head, True)} head")
        report = diff_specs(str(base), str(head))
        print(f"changes: {len(report.changes)}, markdown {len(render_markdown(report))} chars")
        print(f"folders, diff + markdown: {timed(lambda: render_markdown(diff_specs(str(base), str(head))))}")
        relabelled = Path(temp, "relabelled")
        write_tree(relabelled, True, relabel=True)
        print(f"folders, pod labels of one app changed (its namespace's files parsed): "
              f"{timed(lambda: render_markdown(diff_specs(str(base), str(relabelled))))}")
        bumped = Path(temp, "bumped")
        write_tree(bumped, True, bump_all=True)
        print(f"folders, every Deployment's image bumped (1,668 changes): "
              f"{timed(lambda: render_markdown(diff_specs(str(base), str(bumped))))}")
        repo = Path(temp, "repo")
        subprocess.run(["cp", "-r", str(base), str(repo)], check=True)
        git = ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@example.com"]
        subprocess.run([*git, "init", "-q"], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "base"], check=True)
        subprocess.run(["rm", "-rf", *map(str, repo.glob("[dp]*"))], check=True)
        subprocess.run(f"cp -r {head}/* {repo}/", shell=True, check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "head"], check=True)
        print(f"git revisions HEAD~1 HEAD: {timed(lambda: render_markdown(diff_specs('HEAD~1', 'HEAD', repo)))}")
        print(f"folder base/ against git HEAD: {timed(lambda: render_markdown(diff_specs(str(base), 'HEAD', repo)))}")
        # The floor without skipping unchanged files: both sides read whole, each file parsed once.
        print(f"no skipping (read_side both, compare_sides; 10,008 files parsed): "
              f"{timed(lambda: render_markdown(compare_sides(read_side(str(base), repo), read_side(str(head), repo))))}")
        print(f"CLI, python -m mlkube diff base head: {timed(lambda: cli('diff', str(base), str(head)), children=True)}")
        print(f"CLI, python -m mlkube diff HEAD~1 HEAD --repo: "
              f"{timed(lambda: cli('diff', 'HEAD~1', 'HEAD', '--repo', str(repo)), children=True)}")
        print(f"CLI, python -m mlkube diff dist dist (the example, 133 objects): "
              f"{timed(lambda: cli('diff', str(EXAMPLE_DIST), str(EXAMPLE_DIST)), children=True)}")


EXAMPLE_DIST = Path(__file__).resolve().parents[2] / "dist"


def cli(*args: str) -> None:
    """The real command in a new process, as CI runs it (its report is discarded)."""
    subprocess.run([sys.executable, "-m", "mlkube", *args], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "constructs")})


if __name__ == "__main__":
    main()
