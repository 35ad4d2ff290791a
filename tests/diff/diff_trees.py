"""Small builders for config-repo fixture trees: objects as dicts, written the way synth writes them."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from mlkube.diff import DiffReport
from mlkube.kube.render import file_name, to_yaml

DIGEST_A = "sha256:" + "a1" * 32
DIGEST_B = "sha256:" + "b2" * 32
IMAGE_A = f"ghcr.io/acme/fraud:1.4.2@{DIGEST_A}"
IMAGE_B = f"ghcr.io/acme/fraud:1.5.0@{DIGEST_B}"


class MarkdownSnapshot(SingleFileSnapshotExtension):
    """Snapshots stored as readable .md files."""

    file_extension = "md"
    _write_mode = WriteMode.TEXT


def restricted_container(name: str = "server", image: str = IMAGE_A, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image,
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}},
            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]}}, **extra}


def pod_spec(*containers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": list(containers) or [restricted_container()], **extra}


def deployment(name: str = "server", namespace: str = "fraud", *, replicas: int | None = 2,
               labels: dict[str, str] | None = None, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    labels = labels or {"app.kubernetes.io/name": name}
    body: dict[str, Any] = {"selector": {"matchLabels": dict(labels)},
                            "template": {"metadata": {"labels": dict(labels)}, "spec": spec or pod_spec()}}
    if replicas is not None:
        body["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace}, "spec": body}


def statefulset(name: str = "db", namespace: str = "fraud", **spec: Any) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name}
    body = {"replicas": 1, "serviceName": name, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec()},
            "volumeClaimTemplates": [claim_template("data")], **spec}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": namespace}, "spec": body}


def claim_template(name: str, size: str = "10Gi") -> dict[str, Any]:
    return {"metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}}


def job(name: str = "train", namespace: str = "fraud", *, image: str = IMAGE_A, **spec: Any) -> dict[str, Any]:
    template = {"metadata": {"labels": {"app.kubernetes.io/name": name}},
                "spec": {**pod_spec(restricted_container("trainer", image)), "restartPolicy": "Never"}}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": namespace},
            "spec": {"backoffLimit": 2, "template": template, **spec}}


def cronjob(name: str = "retrain", namespace: str = "fraud", *, image: str = IMAGE_A, schedule: str = "0 3 * * *") -> dict[str, Any]:
    inner = job(name, namespace, image=image)["spec"]
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": namespace},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": inner}}}


def service(name: str = "server", namespace: str = "fraud", *, selector: dict[str, str] | None = None,
            **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": selector if selector is not None else {"app.kubernetes.io/name": name},
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080}], **spec}}


def pvc(name: str = "models", namespace: str = "fraud", *, size: str = "10Gi", **spec: Any) -> dict[str, Any]:
    body = {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard", "resources": {"requests": {"storage": size}}, **spec}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": namespace}, "spec": body}


def hpa(name: str = "server", namespace: str = "fraud", *, minimum: int = 2, maximum: int = 10) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name, "namespace": namespace},
            "spec": {"minReplicas": minimum, "maxReplicas": maximum,
                     "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}}}


def pdb(name: str = "server", namespace: str = "fraud") -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name, "namespace": namespace},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": name}}}}


def network_policy(name: str = "server", namespace: str = "fraud") -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace},
            "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": name}}, "policyTypes": ["Ingress"],
                     "ingress": [{"ports": [{"port": 8080}]}]}}


def changed(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``obj`` with ``a.b.0.c`` set to ``value`` (``DELETE`` removes it)."""
    result = copy.deepcopy(obj)
    node: Any = result
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last = parts[-1]
    if value is DELETE:
        del node[int(last) if isinstance(node, list) else last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return result


DELETE = object()


def write_app(root: Path, environment: str, app: str, *objects: dict[str, Any]) -> None:
    """One file per object, ``<root>/<environment>/<app>/<kind>-<name>.yaml``, as synth writes them."""
    folder = root / environment / app
    folder.mkdir(parents=True, exist_ok=True)
    for obj in objects:
        (folder / file_name(obj)).write_text(to_yaml(obj))


Apps = dict[tuple[str, str], list[dict[str, Any]]]


def write_tree(root: Path, apps: Apps) -> None:
    """``{(environment, app): [objects]}`` under ``root`` (created even when empty)."""
    root.mkdir(parents=True, exist_ok=True)
    for (environment, app), objects in apps.items():
        write_app(root, environment, app, *objects)


def risk_summary(report: DiffReport) -> list[tuple[str, str, str, str]]:
    """(status, object, level, category) of every risk, in report order."""
    return [(change.status, change.describe(), risk.level.label, risk.category)
            for change in report.changes for risk in change.risks]


def write_lock(root: Path, environment: str, images: dict[str, tuple[str, str]]) -> None:
    """``images.lock.json`` with name -> (digest, source revision)."""
    lock_path = root / "images.lock.json"
    lock = json.loads(lock_path.read_text()) if lock_path.exists() else {"version": 1, "environments": {}}
    lock["environments"][environment] = {"images": {
        name: {"repository": f"ghcr.io/acme/{name}", "tag": "latest", "digest": digest,
               "source": {"contentTag": "c-" + revision[:8], "revision": revision}}
        for name, (digest, revision) in images.items()}}
    lock_path.write_text(json.dumps(lock, indent=2, sort_keys=True))


GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
           "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"}


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a fixed identity and dates, so commit ids are the same on every run."""
    result = subprocess.run(["git", "-C", str(repo), *args], env={**os.environ, **GIT_ENV},
                            capture_output=True, text=True, check=True)
    return result.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def inference_service(name: str = "sentiment", namespace: str = "serving", *, minimum: int = 2, maximum: int = 6,
                      storage_uri: str = "hf://distilbert/sst-2", gpu: int | None = None,
                      product: str | None = None) -> dict[str, Any]:
    """A KServe InferenceService (serving.kserve.io/v1beta1) in raw-deployment mode, as mlkube renders one."""
    resources: dict[str, Any] = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}
    if gpu is not None:
        resources["requests"]["nvidia.com/gpu"] = resources["limits"]["nvidia.com/gpu"] = gpu
    model = {"name": "kserve-container", "modelFormat": {"name": "huggingface"}, "storageUri": storage_uri,
             "image": IMAGE_A, "resources": resources}
    predictor: dict[str, Any] = {"minReplicas": minimum, "maxReplicas": maximum, "model": model}
    if product is not None:
        predictor["nodeSelector"] = {"nvidia.com/gpu.product": product}
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": name, "namespace": namespace, "annotations": {"serving.kserve.io/deploymentMode": "Standard"}},
            "spec": {"predictor": predictor}}


def jobset(name: str = "finetune", namespace: str = "training", *, nodes: int = 2, gpus: int = 8,
           product: str = "NVIDIA-H100-80GB-HBM3", replicas: int = 1) -> dict[str, Any]:
    """A JobSet (jobset.x-k8s.io/v1alpha2) with one replicated job ``node`` of ``nodes`` pods, as mlkube renders one."""
    trainer = {**restricted_container("trainer", IMAGE_A),
               "resources": {"requests": {"cpu": "48", "memory": "640Gi", "nvidia.com/gpu": gpus},
                             "limits": {"memory": "640Gi", "nvidia.com/gpu": gpus}}}
    pod = {**pod_spec(trainer), "restartPolicy": "Never", "nodeSelector": {"nvidia.com/gpu.product": product}}
    job_spec = {"parallelism": nodes, "completions": nodes, "completionMode": "Indexed", "backoffLimit": 0,
                "template": {"metadata": {"labels": {"app.kubernetes.io/name": name}}, "spec": pod}}
    return {"apiVersion": "jobset.x-k8s.io/v1alpha2", "kind": "JobSet", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicatedJobs": [{"name": "node", "replicas": replicas, "template": {"spec": job_spec}}]}}
