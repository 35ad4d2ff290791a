"""The committed JSON Schemas: fresh, and they accept what the loader accepts and refuse typos."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from helpers import REPO_ROOT

from mlkube.blueprint import find_blueprint_files, parse_blueprints, schema_files, starter_blueprint, write_schemas
from mlkube.blueprint.starter import MODELINE_PREFIX
from mlkube.output import MARKER

SCHEMAS = REPO_ROOT / "schemas"


@pytest.fixture(scope="module")
def validator():
    schema = json.loads((SCHEMAS / "blueprint.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schemas_are_fresh():
    committed = {p.name: p.read_bytes() for p in sorted(SCHEMAS.iterdir()) if p.name != MARKER}  # the marker: mlkube.output
    assert committed == schema_files(), "schemas/ is stale: run `mlkube blueprint schema` and commit schemas/"


def test_schema_generation_is_deterministic(tmp_path):
    write_schemas(tmp_path / "a")
    write_schemas(tmp_path / "b")
    assert (tmp_path / "a/blueprint.schema.json").read_bytes() == (tmp_path / "b/blueprint.schema.json").read_bytes()


def test_schema_carries_descriptions_and_defaults_of_the_spec_fields():
    schema = json.loads((SCHEMAS / "blueprint.schema.json").read_text())
    port = schema["$defs"]["InferenceServiceWorkload"]["properties"]["port"]
    assert port["default"] == 8080 and port["description"] == "Serving port (unprivileged). Default: 8080, or the runtime preset's."
    assert schema["properties"]["workloads"]["patternProperties"]


def test_example_blueprints_are_valid_against_the_schema(validator):
    files = find_blueprint_files(REPO_ROOT / "apps")
    assert files, "the example platform has no YAML blueprint"
    for path in files:
        assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == [], path


def test_schema_refuses_a_misspelled_nested_field(validator):
    document = yaml.safe_load(starter_blueprint())
    document["workloads"]["server"]["resources"]["memroy"] = "2Gi"
    errors = [error.message for error in validator.iter_errors(document)]
    assert any("memroy" in message for message in errors), errors


def test_the_starter_blueprint_is_valid_and_carries_the_modeline(tmp_path, validator):
    text = starter_blueprint(app="churn")
    assert text.splitlines()[0] == MODELINE_PREFIX + "../../schemas/blueprint.schema.json"
    assert list(validator.iter_errors(yaml.safe_load(text))) == []
    path = tmp_path / "mlkube.yaml"
    path.write_text(text)
    [blueprint], problems = parse_blueprints(path)
    assert problems == [] and blueprint.app == "churn"
