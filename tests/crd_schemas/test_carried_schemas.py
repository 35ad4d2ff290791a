"""The CRD schemas mlkube carries: well-formed, resolvable, and agreeing with upstream on realistic examples.

Each example in tests/crd_examples must pass both the carried schema and the upstream one
(../shared/crd-schemas, or for JobSet the schema imported from ../shared/crds), and wherever
upstream rejects an unknown field, the carried schema must reject it too.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from referencing import Registry, Resource
from upstream_crd_schemas import CARRIED, EXAMPLES, example

from mlkube.crd_import.compact import dump_compact
from mlkube.validation import SchemaCatalog, ValidationSettings
from mlkube.validation.schemas import BUILTIN_CRD_SCHEMAS, supported_kubernetes_versions

UNKNOWN = "mlkubeUnknownField"
#: The CRs that issues 3, 6, 8 and 19 emit: each must be carried (HTTPRoute: converted by `mlkube schemas import` from the Gateway API CRD).
EXPECTED = [
    "argoproj.io/application_v1alpha1", "argoproj.io/applicationset_v1alpha1", "argoproj.io/appproject_v1alpha1",
    "external-secrets.io/externalsecret_v1", "gateway.networking.k8s.io/httproute_v1", "jobset.x-k8s.io/jobset_v1alpha2", "keda.sh/scaledobject_v1alpha1",
    "kueue.x-k8s.io/clusterqueue_v1beta1", "kueue.x-k8s.io/localqueue_v1beta1", "kueue.x-k8s.io/resourceflavor_v1beta1",
    "kueue.x-k8s.io/workloadpriorityclass_v1beta1", "monitoring.coreos.com/podmonitor_v1",
    "monitoring.coreos.com/prometheusrule_v1", "monitoring.coreos.com/servicemonitor_v1",
    "scheduling.volcano.sh/podgroup_v1beta1", "serving.kserve.io/inferenceservice_v1beta1",
    "snapshot.storage.k8s.io/volumesnapshot_v1",
]


def _upstream(upstream: dict[str, Any], name: str) -> Any:
    if name not in upstream:
        pytest.skip(f"no upstream schema for {name} in ../shared")
    return upstream[name]


@pytest.fixture(scope="module")
def catalog() -> SchemaCatalog:
    return SchemaCatalog(ValidationSettings())


def _carried(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((BUILTIN_CRD_SCHEMAS / f"{name}.json").read_text())
    return schema


def _issues(catalog: SchemaCatalog, obj: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((issue.field, issue.message) for issue in catalog.validate(obj))


def test_every_emitted_kind_is_carried_with_an_example() -> None:
    assert set(EXPECTED) <= set(CARRIED)
    assert sorted(str(p.relative_to(EXAMPLES).with_suffix("")) for p in EXAMPLES.rglob("*.yaml")) == EXPECTED


@pytest.mark.parametrize("name", CARRIED)
def test_carried_schema_is_well_formed(name: str) -> None:
    text = (BUILTIN_CRD_SCHEMAS / f"{name}.json").read_text()
    schema = json.loads(text)
    assert text.encode() == dump_compact(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "$id" not in text
    jsonschema.Draft202012Validator.check_schema(schema)
    group, _, kind_version = name.partition("/")
    kind, _, version = kind_version.rpartition("_")
    assert schema["properties"]["apiVersion"]["enum"] == [f"{group}/{version}"]
    assert [k.lower() for k in schema["properties"]["kind"]["enum"]] == [kind]
    assert schema["additionalProperties"] is False
    assert schema["required"][:2] == ["apiVersion", "kind"]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


@pytest.mark.parametrize("kubernetes_version", supported_kubernetes_versions())
def test_every_ref_resolves(kubernetes_version: str) -> None:
    # The validator registers kubernetes-validate's _definitions.json under its own $id; every
    # supported Kubernetes version must have each definition a carried schema refers to.
    folder = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{kubernetes_version}.0-local-strict"
    registry = Resource.from_contents(json.loads((folder / "_definitions.json").read_text())) @ Registry()
    for name in EXPECTED:
        schema = _carried(name)
        resolver = registry.resolver_with_root(Resource.from_contents(schema))
        for ref in sorted(set(_refs(schema))):
            assert resolver.lookup(ref).contents, f"{name}: {ref}"


@pytest.mark.parametrize("name", EXPECTED)
def test_example_passes_carried_schema(catalog: SchemaCatalog, name: str) -> None:
    obj = example(name)
    assert catalog.has_schema(obj["apiVersion"], obj["kind"])
    assert _issues(catalog, obj) == []


@pytest.mark.parametrize("name", EXPECTED)
def test_example_passes_upstream_schema(upstream: dict[str, Any], name: str) -> None:
    validator = _upstream(upstream, name)
    assert [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(example(name))] == []


def _object_paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        yield path
        for key, value in node.items():
            yield from _object_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _object_paths(value, (*path, index))


def _with_unknown_field(obj: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    node = changed
    for part in path:
        node = node[part]
    node[UNKNOWN] = "x"
    return changed


@pytest.mark.parametrize("name", EXPECTED)
def test_carried_schema_is_as_strict_as_upstream(catalog: SchemaCatalog, upstream: dict[str, Any], name: str) -> None:
    validator = _upstream(upstream, name)
    obj = example(name)
    checked = 0
    for path in _object_paths(obj):
        changed = _with_unknown_field(obj, path)
        if any(e.validator == "additionalProperties" for e in validator.iter_errors(changed)):
            checked += 1
            assert any(UNKNOWN in issue.message for issue in catalog.validate(changed)), f"{name}: {path} accepts unknown fields"
    # Upstream roots are open in the catalog; WorkloadPriorityClass has nothing but its root.
    assert checked >= (0 if name == "kueue.x-k8s.io/workloadpriorityclass_v1beta1" else 1)


#: One realistic typo per kind: where it goes, the typo, and the field it should have been.
TYPOS = {
    "argoproj.io/application_v1alpha1": (("spec", "source"), "targetRevison", "targetRevision"),
    "argoproj.io/applicationset_v1alpha1": (("spec", "template", "spec", "syncPolicy"), "automatic", "automated"),
    "argoproj.io/appproject_v1alpha1": (("spec",), "sourceRepo", "sourceRepos"),
    "external-secrets.io/externalsecret_v1": (("spec", "data", 0, "remoteRef"), "propery", "property"),
    "gateway.networking.k8s.io/httproute_v1": (("spec", "rules", 0, "backendRefs", 0), "prot", "port"),
    "jobset.x-k8s.io/jobset_v1alpha2": (("spec", "replicatedJobs", 0), "replica", "replicas"),
    "keda.sh/scaledobject_v1alpha1": (("spec",), "minReplicas", "minReplicaCount"),
    "kueue.x-k8s.io/clusterqueue_v1beta1": (("spec", "resourceGroups", 0, "flavors", 0, "resources", 0), "nominalQuote", "nominalQuota"),
    "kueue.x-k8s.io/localqueue_v1beta1": (("spec",), "clusterQueues", "clusterQueue"),
    "kueue.x-k8s.io/resourceflavor_v1beta1": (("spec",), "nodeLabel", "nodeLabels"),
    "kueue.x-k8s.io/workloadpriorityclass_v1beta1": ((), "values", "value"),
    "monitoring.coreos.com/podmonitor_v1": (("spec", "podMetricsEndpoints", 0), "intervall", "interval"),
    "monitoring.coreos.com/prometheusrule_v1": (("spec", "groups", 0, "rules", 1), "fro", "for"),
    "monitoring.coreos.com/servicemonitor_v1": (("spec", "endpoints", 0), "scrapeTimout", "scrapeTimeout"),
    "scheduling.volcano.sh/podgroup_v1beta1": (("spec",), "minMembers", "minMember"),
    "serving.kserve.io/inferenceservice_v1beta1": (("spec", "predictor"), "minReplica", "minReplicas"),
    "snapshot.storage.k8s.io/volumesnapshot_v1": (("spec",), "volumeSnapshotClass", "volumeSnapshotClassName"),
}


def _field(path: tuple[Any, ...]) -> str:
    return re.sub(r"\.(\d+)", r"[\1]", ".".join(map(str, path)))


@pytest.mark.parametrize("name", EXPECTED)
def test_fails_when_field_is_misspelled(catalog: SchemaCatalog, name: str) -> None:
    path, typo, meant = TYPOS[name]
    obj = example(name)
    node = obj
    for part in path:
        node = node[part]
    node[typo] = copy.deepcopy(node.pop(meant, "x"))
    field = f"{_field(path)}.{typo}" if path else typo
    issues = _issues(catalog, obj)
    assert (field, f"unknown field '{typo}'; did you mean '{meant}'?") in issues
    # The only other complaint allowed: the correctly spelled field, now missing, was required.
    assert [issue for issue in issues if "unknown field" not in issue[1]] in ([], [(_field(path), f"'{meant}' is a required property")])
