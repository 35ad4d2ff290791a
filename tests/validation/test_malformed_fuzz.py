"""Malformed objects never crash validation, policy or cross-object checks (bounded property test).

Each example takes a valid pod-carrying object and replaces one value anywhere in it with any JSON
value; every check must report or skip, never raise (issue 17: "no traceback on any input").
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlkube.kube.manifest import Manifest
from mlkube.policy.engine import check_policy
from mlkube.validation import SchemaCatalog, check_cross_object

_CONTAINER = {"name": "c", "image": "busybox", "ports": [{"containerPort": 80, "hostPort": 0}],
              "resources": {"requests": {"cpu": "1", "nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 1}},
              "securityContext": {"capabilities": {"drop": ["ALL"], "add": []}, "seccompProfile": {"type": "RuntimeDefault"}},
              "env": [{"name": "A", "value": "b"}], "volumeMounts": [{"name": "v", "mountPath": "/v"}]}
_POD = {"metadata": {"labels": {"app": "a"}, "annotations": {"x": "y"}},
        "spec": {"containers": [_CONTAINER], "initContainers": [_CONTAINER], "securityContext": {"sysctls": [{"name": "a", "value": "1"}]},
                 "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1Gi"}}], "os": {"name": "linux"}}}
SEEDS: list[dict[str, Any]] = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "namespace": "n"},
     "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": _POD}},
    {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "a"},
     "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": _POD}}}},
    {"apiVersion": "jobset.x-k8s.io/v1alpha2", "kind": "JobSet", "metadata": {"name": "a"},
     "spec": {"replicatedJobs": [{"name": "w", "template": {"spec": {"template": _POD}}}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"selector": {"app": "a"}, "ports": [{"port": 80}]}},
    {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "a"},
     "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "a"}, "maxReplicas": 2}},
    {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "a"}, "spec": {"selector": {"matchLabels": {"app": "a"}}}},
]
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(obj: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    target = obj
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new
    return obj


CATALOG = SchemaCatalog()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_one_replaced_value_anywhere_never_crashes_a_check(data):
    seed = copy.deepcopy(data.draw(st.sampled_from(SEEDS)))
    path = data.draw(st.sampled_from([p for p in _paths(seed) if p]))
    obj = _replace(seed, path, data.draw(JSON))
    manifests = [Manifest(obj, "x"), *(Manifest(copy.deepcopy(s), f"seed{i}") for i, s in enumerate(SEEDS))]
    list(CATALOG.validate(obj))
    check_cross_object(manifests)
    check_policy(manifests)



def test_a_whole_float_beyond_int64_in_an_integer_field_never_raises():
    """Found by the fuzzer: 9.223372036854776e+18 in an integer field of a custom resource overflowed CEL's IntType."""
    jobset = copy.deepcopy(SEEDS[2])
    jobset["spec"]["replicatedJobs"][0]["replicas"] = 9.223372036854776e18
    list(CATALOG.validate(jobset))  # raised ValueError("overflow") from celpy before
