"""The importer on the real JobSet CRD (../shared/crds): the schema it makes rejects typos, accepts a real JobSet."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from mlkube.cli import main
from mlkube.validation import SchemaCatalog, ValidationSettings

EXAMPLE = Path(__file__).parent.parent / "crd_examples" / "jobset.x-k8s.io" / "jobset_v1alpha2.yaml"


@pytest.fixture(scope="module")
def jobset_schemas(jobset_crd: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("jobset-schemas")
    result = CliRunner().invoke(main, ["schemas", "import", str(jobset_crd), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "jobset.x-k8s.io" / "jobset_v1alpha2.json").is_file()
    return out


@pytest.fixture(scope="module")
def catalog(jobset_schemas: Path) -> SchemaCatalog:
    return SchemaCatalog(ValidationSettings(crd_schema_dirs=(jobset_schemas,)))


@pytest.fixture
def jobset() -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return obj


def _issues(catalog: SchemaCatalog, obj: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((issue.field, issue.message) for issue in catalog.validate(obj))


def test_example_jobset_is_valid(catalog: SchemaCatalog, jobset: dict[str, Any]) -> None:
    assert len(jobset["spec"]["replicatedJobs"]) == 2
    assert all(job["template"]["spec"]["completionMode"] == "Indexed" for job in jobset["spec"]["replicatedJobs"])
    assert _issues(catalog, jobset) == []


@pytest.mark.parametrize(("path", "typo", "expected"), [
    (("spec",), "replicatedJob", "did you mean 'replicatedJobs'?"),
    (("spec", "network"), "enableDnsHostnames", "did you mean 'enableDNSHostnames'?"),
    (("spec", "replicatedJobs", 1, "template", "spec"), "completionMod", "did you mean 'completionMode'?"),
    (("spec", "replicatedJobs", 1, "template", "spec", "template", "spec", "containers", 0), "imagePullPolice",
     "did you mean 'imagePullPolicy'?"),
    (("metadata",), "label", "did you mean 'labels'?"),
])
def test_fails_when_field_is_misspelled(catalog: SchemaCatalog, jobset: dict[str, Any], path: tuple[Any, ...],
                                        typo: str, expected: str) -> None:
    bad = copy.deepcopy(jobset)
    node = bad
    for part in path:
        node = node[part]
    node[typo] = copy.deepcopy(next(iter(node.values()), "x"))
    field = ".".join(str(p) for p in path).replace(".1.", "[1].").replace(".0", "[0]")
    assert _issues(catalog, bad) == [(f"{field}.{typo}", f"unknown field '{typo}'; {expected}")]


def test_fails_when_enum_value_is_wrong(catalog: SchemaCatalog, jobset: dict[str, Any]) -> None:
    jobset["spec"]["successPolicy"]["operator"] = "Every"
    assert _issues(catalog, jobset) == [("spec.successPolicy.operator", "'Every' is not one of ['All', 'Any']")]


def test_gpu_count_as_integer_is_an_int_or_string(catalog: SchemaCatalog, jobset: dict[str, Any]) -> None:
    limits = jobset["spec"]["replicatedJobs"][1]["template"]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == 1
    limits["nvidia.com/gpu"] = 1.5  # a float is neither an integer nor a quantity string
    field = "spec.replicatedJobs[1].template.spec.template.spec.containers[0].resources.limits.nvidia.com/gpu"
    assert _issues(catalog, jobset) == [(field, "1.5 is not of type 'integer'"), (field, "1.5 is not of type 'string'")]


def test_validate_command_uses_imported_schemas(jobset_schemas: Path, jobset: dict[str, Any], tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["validate", "--strict", "--crd-schemas", str(jobset_schemas), str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "1 objects valid (Kubernetes 1.34, strict)\n"

    jobset["spec"]["replicatedJobs"][0]["replica"] = 2
    bad = tmp_path / "jobset.yaml"
    bad.write_text(yaml.safe_dump(jobset, sort_keys=False))
    result = runner.invoke(main, ["validate", "--crd-schemas", str(jobset_schemas), str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:" in result.stderr
    assert "spec.replicatedJobs[0].replica: JobSet/llm-finetune: unknown field 'replica'; did you mean 'replicas'?" in result.stderr


def test_imported_schemas_take_precedence_over_carried_ones(jobset_schemas: Path, jobset: dict[str, Any], tmp_path: Path) -> None:
    # The carried schema is generated from the same upstream CRD and knows status; a folder given with
    # --crd-schemas holds a variant without it, and only that folder is used for JobSet.
    jobset["status"] = {"restarts": 0, "terminalState": "Completed"}
    exported = tmp_path / "jobset.yaml"
    exported.write_text(yaml.safe_dump(jobset, sort_keys=False))
    narrowed = tmp_path / "narrowed" / "jobset.x-k8s.io"
    narrowed.mkdir(parents=True)
    schema = json.loads((jobset_schemas / "jobset.x-k8s.io" / "jobset_v1alpha2.json").read_text())
    del schema["properties"]["status"]
    (narrowed / "jobset_v1alpha2.json").write_text(json.dumps(schema))
    runner = CliRunner()
    assert runner.invoke(main, ["validate", str(exported)]).exit_code == 0
    given = runner.invoke(main, ["validate", "--crd-schemas", str(narrowed.parent), str(exported)])
    assert given.exit_code == 1
    assert "status: JobSet/llm-finetune: unknown field 'status'" in given.stderr
