"""The cross-object and volume checks, indexed by namespace (issue 22), report exactly what the old
whole-environment scans reported, on generated platforms with many namespaces, selectors that match
and miss, scalers and shared claims."""

from __future__ import annotations

import random
from typing import Any

import pytest

from mlkube.errors import Problem
from mlkube.kube.manifest import Manifest
from mlkube.validation import cross_object, volume_sharing
from mlkube.validation.cross_object import check_cross_object
from mlkube.validation.volume_sharing import check_volume_sharing

LABELS = [("app", "a"), ("app", "b"), ("tier", "web"), ("tier", "db"), ("app.kubernetes.io/managed-by", "mlkube")]
NAMES = ["alpha", "beta", "gamma", "delta"]


# The algorithms before issue 22, kept here as the reference: every Service, PDB and HPA scans the environment.
def _old_cross_object(items: list[Manifest]) -> list[Problem]:
    problems: list[Problem] = list(cross_object._duplicates(items))
    for manifest in items:
        problems += cross_object._name(manifest)
        problems += cross_object._gpu_resources(manifest)
    pods = [(m, view.labels) for m in items for view in cross_object.pod_views(m.obj)]
    for manifest in items:
        spec = manifest.obj.get("spec") or {}
        if manifest.kind == "Service":
            selector = spec.get("selector")
            if selector and not any(cross_object._selects(selector, labels) and cross_object._namespace(m) == cross_object._namespace(manifest) for m, labels in pods):
                problems.append(Problem(manifest.where, "spec.selector", "selects no pods"))
        elif manifest.kind == "PodDisruptionBudget":
            selector = spec.get("selector") or {}
            match = selector.get("matchLabels") or {}
            if not selector.get("matchExpressions") and not any(
                    cross_object._selects(match, labels) and cross_object._namespace(m) == cross_object._namespace(manifest) for m, labels in pods):
                problems.append(Problem(manifest.where, "spec.selector.matchLabels", "selects no pods"))
        elif manifest.kind in ("HorizontalPodAutoscaler", "ScaledObject"):
            target = spec.get("scaleTargetRef") or {}
            kind, name = target.get("kind") or "Deployment", target.get("name")
            if not any(m.kind == kind and m.name == name and cross_object._namespace(m) == cross_object._namespace(manifest) for m in items):
                problems.append(Problem(manifest.where, "spec.scaleTargetRef", "targets nothing"))
    return problems


class _OldScaleIndex:
    """The old `_scaled_maximum`: a scan of every object for each workload."""

    def __init__(self, items: list[Manifest]) -> None:
        self.items = items

    def maximum(self, manifest: Manifest) -> int:
        counts = [0]
        for other in self.items:
            other_spec = other.obj.get("spec") or {}
            if other.namespace != manifest.namespace or (other_spec.get("scaleTargetRef") or {}).get("name") != manifest.name:
                continue
            if other.kind == "HorizontalPodAutoscaler":
                counts.append(int(other_spec.get("maxReplicas", 1)))
            elif other.kind == "ScaledObject":
                counts.append(int(other_spec.get("maxReplicaCount", 100)))
        return max(counts)


def _metadata(rng: random.Random, name: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    namespace = rng.choice(["ns-1", "ns-2", "ns-3", None])
    if namespace:
        metadata["namespace"] = namespace
    return metadata


def _labels(rng: random.Random) -> dict[str, str]:
    return dict(rng.sample(LABELS, rng.randint(0, 3)))


def _pod_spec(rng: random.Random) -> dict[str, Any]:
    claims = rng.sample(["data", "cache"], rng.randint(0, 2))
    volumes = [{"name": f"v-{claim}", "persistentVolumeClaim": {"claimName": claim, **({"readOnly": True} if rng.random() < 0.3 else {})}}
               for claim in claims]
    mounts = [{"name": f"v-{claim}", "mountPath": f"/{claim}", **({"readOnly": True} if rng.random() < 0.3 else {})} for claim in claims]
    spec: dict[str, Any] = {"containers": [{"name": "main", "image": "x", "volumeMounts": mounts}], "volumes": volumes}
    if rng.random() < 0.2:
        spec["nodeSelector"] = {"kubernetes.io/hostname": rng.choice(["n1", "n2"])}
    return spec


def _object(rng: random.Random, index: int) -> dict[str, Any]:
    kind = rng.choice(["Deployment", "StatefulSet", "Job", "Pod", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler",
                       "ScaledObject", "PersistentVolumeClaim", "InferenceService", "ConfigMap"])
    name = f"{rng.choice(NAMES)}-{index % 7}" if rng.random() < 0.7 else rng.choice(NAMES)
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": _metadata(rng, name)}
    if kind in ("Deployment", "StatefulSet", "Job"):
        obj["apiVersion"] = "batch/v1" if kind == "Job" else "apps/v1"
        obj["spec"] = {"template": {"metadata": {"labels": _labels(rng)}, "spec": _pod_spec(rng)}}
        if rng.random() < 0.5:
            obj["spec"]["replicas" if kind != "Job" else "parallelism"] = rng.randint(1, 3)
    elif kind == "Pod":
        obj["metadata"]["labels"] = _labels(rng)
        obj["spec"] = _pod_spec(rng)
    elif kind == "Service":
        obj["spec"] = {"selector": _labels(rng)}
    elif kind == "PodDisruptionBudget":
        obj["apiVersion"] = "policy/v1"
        selector: dict[str, Any] = {"matchLabels": _labels(rng)}
        if rng.random() < 0.1:
            selector["matchExpressions"] = [{"key": "app", "operator": "Exists"}]
        obj["spec"] = {"selector": selector}
    elif kind in ("HorizontalPodAutoscaler", "ScaledObject"):
        target = {"name": rng.choice(NAMES) + rng.choice(["", "-1", "-2"])}
        if rng.random() < 0.7:
            target["kind"] = rng.choice(["Deployment", "StatefulSet"])
        counts = {"maxReplicas": rng.randint(1, 4)} if kind == "HorizontalPodAutoscaler" else (
            {"maxReplicaCount": rng.randint(1, 4)} if rng.random() < 0.5 else {})
        obj["apiVersion"] = "autoscaling/v2" if kind == "HorizontalPodAutoscaler" else "keda.sh/v1alpha1"
        obj["spec"] = {"scaleTargetRef": target, **counts}
    elif kind == "PersistentVolumeClaim":
        obj["metadata"]["name"] = rng.choice(["data", "cache"])
        obj["spec"] = {"accessModes": [rng.choice(["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany", "ReadOnlyMany"])]}
    elif kind == "InferenceService":
        obj["apiVersion"] = "serving.kserve.io/v1beta1"
        obj["spec"] = {"predictor": {"model": {"storageUri": rng.choice(["pvc://data/m", "s3://bucket/m"])}, "maxReplicas": rng.randint(1, 3)}}
    return obj


def _platform(seed: int) -> list[Manifest]:
    rng = random.Random(seed)
    return [Manifest(_object(rng, index), f"gen/{seed}/{index}", "dev", "app") for index in range(rng.randint(5, 80))]


def _as_tuples(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(problem.where, problem.field) for problem in problems]


SEEDS = range(300)


def test_cross_object_findings_match_the_whole_environment_scan() -> None:
    total = 0
    for seed in SEEDS:
        items = _platform(seed)
        indexed = _as_tuples(check_cross_object(items))
        assert indexed == _as_tuples(_old_cross_object(items)), f"seed {seed}"
        total += len(indexed)
    assert total > 300  # the generated platforms do produce findings of every kind, not only clean runs


@pytest.mark.parametrize("field", ["spec.selector", "spec.selector.matchLabels", "spec.scaleTargetRef"])
def test_generated_platforms_exercise_each_selector_check(field: str) -> None:
    found = [p for seed in SEEDS for p in check_cross_object(_platform(seed)) if p.field == field]
    assert len(found) > 10


def test_volume_findings_match_the_whole_environment_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    platforms = [_platform(seed) for seed in SEEDS]
    indexed = [check_volume_sharing(items) for items in platforms]
    monkeypatch.setattr(volume_sharing, "ScaleIndex", _OldScaleIndex)
    scanned = [check_volume_sharing(items) for items in platforms]
    assert [[(p.where, p.message) for p in found] for found in indexed] == [[(p.where, p.message) for p in found] for found in scanned]
    assert sum(map(len, indexed)) > 50
    scaled = [p for found in indexed for p in found if "pods" in p.message]
    assert scaled


def test_pods_at_once_counts_the_largest_scaler_of_its_namespace() -> None:
    deployment = Manifest({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "a"},
                           "spec": {"strategy": {"type": "Recreate"}}}, "d")
    scalers = [Manifest({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h", "namespace": ns},
                         "spec": {"scaleTargetRef": {"name": "web"}, "maxReplicas": count}}, "h") for ns, count in (("a", 3), ("b", 9))]
    keda = Manifest({"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "k", "namespace": "a"},
                     "spec": {"scaleTargetRef": {"name": "web"}}}, "k")
    assert volume_sharing.pods_at_once(deployment, [deployment, *scalers]) == 3
    assert volume_sharing.pods_at_once(deployment, volume_sharing.ScaleIndex([deployment, *scalers, keda])) == 100
