"""Example objects for the policy tests: a hardened serving set like mlkube emits, and a naive one."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from mlkube.kube.loader import LoadedManifest, load_manifests
from mlkube.kube.manifest import Manifest
from mlkube.kube.render import file_name, to_yaml

DIGEST = "sha256:" + "0123456789abcdef" * 4
NAMESPACE = "fraud-scoring"
LABELS = {"app.kubernetes.io/name": "server", "app.kubernetes.io/instance": "fraud-scoring"}

HARDENED_DOCKERFILE = f"""\
ARG BASE_DIGEST={DIGEST}
FROM python:3.11-slim-bookworm@${{BASE_DIGEST}}
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app/ ./app/
USER 10001:10001
HEALTHCHECK NONE
EXPOSE 8080
ENTRYPOINT ["python", "-m", "app"]
"""


def _container(name: str, image: str, port: int | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if port:
        container["ports"] = [{"name": "http", "containerPort": port}]
        container["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10}
        container["readinessProbe"] = {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5}
    return container


def hardened_pod_spec() -> dict[str, Any]:
    server = _container("server", f"ghcr.io/acme/fraud-scoring@{DIGEST}", 8080)
    server["volumeMounts"].append({"name": "api-key", "mountPath": "/var/run/secrets/api", "readOnly": True})
    sidecar = _container("log-shipper", f"ghcr.io/acme/log-shipper@{DIGEST}") | {"restartPolicy": "Always"}
    return {
        "automountServiceAccountToken": False,
        "serviceAccountName": "server",
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [sidecar],
        "containers": [server],
        "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "api-key", "secret": {"secretName": "api-key"}}],
    }


def hardened_objects(namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """ServiceAccount, Deployment, Service, NetworkPolicy, HPA and PDB that pass every rule and checkov."""
    meta = {"name": "server", "namespace": namespace, "labels": dict(LABELS)}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": copy.deepcopy(meta), "automountServiceAccountToken": False},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": copy.deepcopy(meta),
         "spec": {"replicas": 2, "selector": {"matchLabels": dict(LABELS)},
                  "template": {"metadata": {"labels": dict(LABELS)}, "spec": hardened_pod_spec()}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": copy.deepcopy(meta),
         "spec": {"type": "ClusterIP", "selector": dict(LABELS), "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": copy.deepcopy(meta),
         "spec": {"podSelector": {"matchLabels": dict(LABELS)}, "policyTypes": ["Ingress", "Egress"],
                  "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 8080, "protocol": "TCP"}]}],
                  "egress": [{"to": [{"namespaceSelector": {}}], "ports": [{"port": 53, "protocol": "UDP"}]}]}},
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": copy.deepcopy(meta),
         "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "server"},
                  "minReplicas": 2, "maxReplicas": 6,
                  "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": copy.deepcopy(meta),
         "spec": {"minAvailable": 1, "selector": {"matchLabels": dict(LABELS)}}},
    ]


def naive_objects() -> list[dict[str, Any]]:
    """A hand-written model server: what people write first, and what checkov fails 21 times."""
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "model-server"},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "model-server"}},
                  "template": {"metadata": {"labels": {"app": "model-server"}},
                               "spec": {"containers": [{"name": "server", "image": "ghcr.io/acme/model:1.0",
                                                        "ports": [{"containerPort": 8080}],
                                                        "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}}]}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "model-server"},
         "spec": {"type": "LoadBalancer", "selector": {"app": "model-server"}, "ports": [{"port": 80, "targetPort": 8080}]}},
    ]


def manifests(objects: list[dict[str, Any]]) -> list[Manifest]:
    return [Manifest(obj, f"dev/app/{obj['kind']}/{obj['metadata']['name']}", "dev", "app") for obj in objects]


def write_tree(folder: Path, objects: list[dict[str, Any]], dockerfile: str | None = None) -> Path:
    """One object per file, the way synth writes them; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for obj in objects:
        (folder / file_name(obj)).write_text(to_yaml(obj))
    if dockerfile is not None:
        (folder / "Dockerfile").write_text(dockerfile)
    return folder


def load(folder: Path) -> list[LoadedManifest]:
    return load_manifests([folder])
