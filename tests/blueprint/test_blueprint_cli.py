"""`mlkube blueprint check` and `mlkube blueprint schema`."""

from __future__ import annotations

from blueprint_helpers import HEADER, write
from click.testing import CliRunner
from helpers import REPO_ROOT

from mlkube.cli import main


def test_check_accepts_the_example_blueprint():
    result = CliRunner().invoke(main, ["blueprint", "check", str(REPO_ROOT / "apps/nlp/mlkube.yaml")])
    assert result.exit_code == 0, result.output
    assert result.output == "1 file: 1 app, 1 workload, no errors\n"


def test_check_fails_with_exit_code_2_and_every_error_of_every_file(tmp_path):
    first = write(tmp_path, HEADER + "workloads:\n  server:\n    kind: InferenceService\n    image: ghcr.io/a/b:1\n    prot: 9000\n", "a/mlkube.yaml")
    second = write(tmp_path, HEADER.replace("sentiment", "other") + "workloads: {x: {kind: Foo}}\n", "b/mlkube.yaml")
    result = CliRunner().invoke(main, ["blueprint", "check", str(first), str(second)])
    assert result.exit_code == 2
    assert f"{first}:8:5: workloads.server.prot: unknown field 'prot'\n        hint: did you mean 'port'?" in result.output
    assert f"{second}:4:23: workloads.x.kind: unknown workload kind 'Foo'" in result.output
    assert "Traceback" not in result.output


def test_schema_writes_the_schemas(tmp_path):
    result = CliRunner().invoke(main, ["blueprint", "schema", "--out", str(tmp_path / "schemas")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "schemas/blueprint.schema.json").read_bytes() == (REPO_ROOT / "schemas/blueprint.schema.json").read_bytes()
