"""The carried CRD schemas are generated from the upstream CRDs in ../shared/crds, never written by hand.

Before: 16 hand-written schemas; KServe's refused `predictor.serviceAccount` and port-less probes
(KServe's CRD accepts both) and accepted `cpu: 0.1` as a number (KServe's int-or-string refuses it);
only Kueue v1beta1 was carried; SecretStore, ScaledJob, InferenceGraph... had no schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlkube.crd_import.carried import PROVENANCE, generate
from mlkube.validation import SchemaCatalog, ValidationSettings
from mlkube.validation.schemas import BUILTIN_CRD_SCHEMAS

EXAMPLES = Path(__file__).parent.parent / "crd_examples"


@pytest.fixture(scope="module")
def catalog() -> SchemaCatalog:
    return SchemaCatalog(ValidationSettings())


def _carried_files() -> dict[str, bytes]:
    files = {str(path.relative_to(BUILTIN_CRD_SCHEMAS)): path.read_bytes() for path in BUILTIN_CRD_SCHEMAS.glob("*/*.json")}
    files[PROVENANCE] = (BUILTIN_CRD_SCHEMAS / PROVENANCE).read_bytes()
    return files


@pytest.fixture(scope="module")
def crds(shared_dir: Path) -> Path:
    folder = shared_dir / "crds"
    if not (folder / "SOURCES.md").is_file():
        pytest.skip(f"{folder}/SOURCES.md is absent")
    return folder


def test_carried_schemas_regenerate_byte_identical(crds: Path) -> None:
    generated = generate(crds)
    carried = _carried_files()
    assert sorted(generated) == sorted(carried), "run bin/crd-schemas"
    assert [name for name in generated if generated[name] != carried[name]] == [], "run bin/crd-schemas"


def test_every_served_version_of_every_listed_crd_is_carried(crds: Path) -> None:
    # SOURCES.md's own table (kind, group, "versions served") is the independent account of what upstream serves.
    expected = set()
    for line in (crds / "SOURCES.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 8 and cells[0].startswith("`") and cells[0].endswith(".yaml`"):
            kind, group, served = cells[2], cells[3].strip("`"), cells[5].split(" (")[0]
            expected |= {f"{group}/{kind.lower()}_{version.strip()}.json" for version in served.split(",")}
    assert len(expected) == 75
    assert expected == {name for name in _carried_files() if name != PROVENANCE}


def test_provenance_names_the_upstream_commit_of_each_schema() -> None:
    record = json.loads((BUILTIN_CRD_SCHEMAS / PROVENANCE).read_text())
    schemas = record["schemas"]
    assert set(schemas) == {name for name in _carried_files() if name != PROVENANCE}
    jobset = schemas["jobset.x-k8s.io/jobset_v1alpha2.json"]
    assert jobset["repository"] == "https://github.com/kubernetes-sigs/jobset"
    assert jobset["path"] == "config/components/crd/bases/jobset.x-k8s.io_jobsets.yaml"
    assert all(len(entry["commit"]) == 40 and len(entry["sha256"]) == 64 for entry in schemas.values())
    assert record["generator"].startswith("mlkube schemas import --compact")


@pytest.mark.parametrize(("api_version", "kind"), [
    ("kueue.x-k8s.io/v1beta2", "ClusterQueue"), ("kueue.x-k8s.io/v1beta2", "LocalQueue"), ("kueue.x-k8s.io/v1beta1", "ClusterQueue"),
    ("external-secrets.io/v1", "SecretStore"), ("external-secrets.io/v1", "ClusterSecretStore"),
    ("keda.sh/v1alpha1", "ScaledJob"), ("keda.sh/v1alpha1", "TriggerAuthentication"),
    ("serving.kserve.io/v1alpha1", "InferenceGraph"), ("serving.kserve.io/v1alpha1", "ServingRuntime"),
    ("serving.kserve.io/v1alpha2", "LLMInferenceService"), ("serving.kserve.io/v1alpha1", "LLMInferenceService"),
    ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet"), ("trainer.kubeflow.org/v1alpha1", "TrainJob"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"), ("ray.io/v1", "RayJob"), ("scheduling.volcano.sh/v1beta1", "Queue"),
])
def test_kind_has_a_schema(catalog: SchemaCatalog, api_version: str, kind: str) -> None:
    assert catalog.has_schema(api_version, kind)


def _inference_service() -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load((EXAMPLES / "serving.kserve.io" / "inferenceservice_v1beta1.yaml").read_text())
    return obj


def _messages(catalog: SchemaCatalog, obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(issue.field, issue.message) for issue in catalog.validate(obj)]


def test_kserve_accepts_predictor_service_account(catalog: SchemaCatalog) -> None:
    isvc = _inference_service()
    isvc["spec"]["predictor"]["serviceAccount"] = "fraud-scoring"  # PodSpec's deprecated alias, in KServe's CRD
    assert _messages(catalog, isvc) == []


def test_kserve_accepts_probes_without_port(catalog: SchemaCatalog) -> None:
    # KServe's container schema does not require httpGet.port / tcpSocket.port (its webhook fills the port).
    isvc = _inference_service()
    isvc["spec"]["predictor"]["model"]["readinessProbe"] = {"httpGet": {"path": "/v2/health/ready"}}
    isvc["spec"]["predictor"]["model"]["livenessProbe"] = {"tcpSocket": {}}
    assert _messages(catalog, isvc) == []


def test_fails_when_kserve_cpu_is_a_fractional_number(catalog: SchemaCatalog) -> None:
    # KServe's resources are x-kubernetes-int-or-string: a YAML 0.1 is a JSON number, neither integer nor
    # string, and the API server's schema validation refuses it; "100m" or "0.1" (a string) pass.
    isvc = _inference_service()
    isvc["spec"]["predictor"]["model"]["resources"]["requests"]["cpu"] = 0.1
    assert _messages(catalog, isvc) == [
        ("spec.predictor.model.resources.requests.cpu", "0.1 is not of type 'integer'"),
        ("spec.predictor.model.resources.requests.cpu", "0.1 is not of type 'string'")]
    isvc["spec"]["predictor"]["model"]["resources"]["requests"]["cpu"] = "0.1"
    assert _messages(catalog, isvc) == []


def test_null_of_an_optional_field_is_accepted(catalog: SchemaCatalog) -> None:
    # The API server prunes it (apiextensions-apiserver defaulting/prunenulls.go); failed before: "None is not of type".
    isvc = _inference_service()
    isvc["spec"]["predictor"]["nodeSelector"] = None
    isvc["spec"]["predictor"]["model"]["env"] = None
    assert _messages(catalog, isvc) == []
