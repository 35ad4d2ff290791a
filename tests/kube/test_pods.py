"""The table of where each kind keeps its pods (mlkube.kube.pods), checked against the real API types.

Built-in kinds against the Kubernetes JSON schemas mlkube validates with; custom resources against
their upstream CRDs in ../shared/crds (skipped, saying why, where absent).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from helpers import SHARED_DIR

from mlkube.kube.pods import POD_SOURCES, pod_views
from mlkube.validation.schemas import _K8S_SCHEMAS

_DEFINITIONS = json.loads((_K8S_SCHEMAS / "v1.34.0-local-strict" / "_definitions.json").read_text())["$defs"]
_BUILTIN_FILES = {"": "{kind}-v1.json", "apps": "{kind}-apps-v1.json", "batch": "{kind}-batch-v1.json"}


def _deref(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = _DEFINITIONS[schema["$ref"].rpartition("/")[2]]
    return schema


def _walk(schema: dict[str, Any], path: str) -> dict[str, Any]:
    for part in path.split(".") if path else []:
        key, wildcard = (part[:-3], True) if part.endswith("[*]") else (part, False)
        schema = _deref(_deref(schema)["properties"][key])
        if wildcard:
            schema = _deref(schema["items"])
    return _deref(schema)


def _crd_schema(group: str, kind: str) -> dict[str, Any] | None:
    if SHARED_DIR is None:
        return None
    # Upstream CRD files are named <group>_<plural>.yaml; every plural here is the kind + "s".
    for path in sorted((SHARED_DIR / "crds").rglob(f"{group}_{kind.lower()}s.yaml")):
        crd = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        if crd["spec"]["names"]["kind"] == kind:
            return crd["spec"]["versions"][-1]["schema"]["openAPIV3Schema"]
    return None


@pytest.mark.parametrize(("group", "kind"), sorted(POD_SOURCES))
def test_every_pod_source_is_a_pod_template_in_the_real_schema(group, kind):
    if group in _BUILTIN_FILES:
        schema = json.loads((_K8S_SCHEMAS / "v1.34.0-local-strict" / _BUILTIN_FILES[group].format(kind=kind.lower())).read_text())
    elif group == "extensions":
        pytest.skip("extensions/v1beta1 was removed in 1.16; no schema ships")
    else:
        schema = _crd_schema(group, kind)
        if schema is None:
            pytest.skip(f"no CRD for {group}/{kind} in ../shared/crds")
    for source in POD_SOURCES[(group, kind)]:
        node = _walk(schema, source.path)
        spec = node if source.inline else _deref(node["properties"]["spec"])
        assert "containers" in spec["properties"], f"{kind} {source.path} holds no pod spec"
        if not source.inline:
            assert "metadata" in node["properties"]


def test_malformed_shapes_reach_no_pod():
    assert pod_views({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": []}}) == []
    assert pod_views({"apiVersion": "jobset.x-k8s.io/v1alpha2", "kind": "JobSet", "spec": {"replicatedJobs": "x"}}) == []
    assert pod_views({"apiVersion": "example.com/v1", "kind": "Deployment", "spec": {"template": {"spec": {}}}}) == []
