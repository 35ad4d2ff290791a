"""The pipeline each Platform owns (core/pipeline.py): checks and CRD schemas given to one Platform, defaults as before.

Before issue 18 the synth steps were module-global lists (synth.TRANSFORMS/CHECKS/OUTPUTS) and a Platform took
neither checks nor CRD schemas: every test here failed (TypeError on the keyword).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import cdk8s
import pytest
from helpers import run_mlkube

from mlkube import Environment, InferenceService, MlApp, Platform
from mlkube.core.image import Image
from mlkube.core.pipeline import Pipeline
from mlkube.core.synth import SynthContext
from mlkube.default_pipeline import default_pipeline
from mlkube.errors import MlkubeError, Problem
from mlkube.validation.synth_step import validate_objects

#: A CRD schema in the {group}/{kind}_{version}.json layout `mlkube schemas import` writes.
WIDGET_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
        "spec": {"type": "object", "additionalProperties": False, "required": ["size"],
                 "properties": {"size": {"type": "integer", "minimum": 1}}},
    },
}


def _widget_schemas(folder: Path) -> Path:
    (folder / "example.com").mkdir(parents=True)
    (folder / "example.com" / "widget_v1.json").write_text(json.dumps(WIDGET_SCHEMA))
    return folder


def _widget_platform(spec: dict, **platform_options) -> Platform:
    # Apps deploy only the kinds the platform allows (core/tenancy.py): the custom kind is declared.
    platform = Platform(environments=[Environment(name="dev")], tenancy={"extra_kinds": ["example.com/Widget"]}, **platform_options)

    @platform.app("shop")
    def shop(app: MlApp) -> None:
        # A custom resource as `cdk8s import` classes make it: a plain cdk8s ApiObject in the app's chart.
        widget = cdk8s.ApiObject(app, "widget", api_version="example.com/v1", kind="Widget", metadata={"name": "widget"})
        widget.add_json_patch(cdk8s.JsonPatch.add("/spec", spec))

    return platform


def test_a_custom_resource_validates_against_the_crd_schemas_given_to_the_platform(tmp_path):
    schemas = _widget_schemas(tmp_path / "crds")
    result = _widget_platform({"size": 3}, crd_schemas=schemas).synthesize(tmp_path / "dist")
    assert (tmp_path / "dist" / "dev" / "shop" / "widget-widget.yaml").is_file()
    assert [m.obj["kind"] for m in result.manifests].count("Widget") == 1

    with pytest.raises(MlkubeError) as raised:
        _widget_platform({"size": "three", "colour": "red"}, crd_schemas=[schemas]).synthesize(tmp_path / "bad")
    text = str(raised.value)
    assert "spec.size" in text and "'three' is not of type 'integer'" in text
    assert "colour" in text  # the schema's additionalProperties: false
    assert not (tmp_path / "bad").exists()


def test_without_its_schema_a_custom_resource_fails_synth(tmp_path):
    with pytest.raises(MlkubeError) as raised:
        _widget_platform({"size": 3}).synthesize(tmp_path / "dist")
    assert "no schema for Widget (example.com/v1)" in str(raised.value)


def test_a_missing_crd_schema_folder_is_reported_with_the_platform(tmp_path):
    with pytest.raises(MlkubeError) as raised:
        _widget_platform({"size": 3}, crd_schemas=tmp_path / "nowhere").synthesize(tmp_path / "dist")
    assert "Platform(crd_schemas=...): CRD schema folder" in str(raised.value) and "nowhere' does not exist" in str(raised.value)


def _owner_named(ctx: SynthContext) -> None:
    for manifest in ctx.manifests:
        if manifest.obj["kind"] == "Deployment" and "example.com/owner" not in (manifest.obj["metadata"].get("annotations") or {}):
            ctx.problems.append(Problem(manifest.where, "metadata.annotations", "the team's rule: a server names its owner",
                                        "annotate it with example.com/owner"))


def _server(app: MlApp) -> None:
    InferenceService(app, "server", image="ghcr.io/acme/fraud:1.4.2")


def test_a_check_given_to_one_platform_runs_after_the_default_checks_and_only_there(tmp_path):
    checked = Platform(environments=[Environment(name="dev")], checks=[_owner_named])
    checked.app("fraud", _server)
    assert checked.pipeline.checks == (*default_pipeline().checks, _owner_named)
    assert checked.pipeline.checks[0] is validate_objects
    with pytest.raises(MlkubeError) as raised:
        checked.synthesize(tmp_path / "checked")
    assert "dev/fraud/server: metadata.annotations: the team's rule: a server names its owner" in str(raised.value)

    plain = Platform(environments=[Environment(name="dev")])  # another platform: the default pipeline, untouched
    plain.app("fraud", _server)
    assert _owner_named not in plain.pipeline.checks
    plain.synthesize(tmp_path / "plain")


def test_a_platform_check_fails_mlkube_synth_with_exit_2_and_writes_nothing(tmp_path):
    app = tmp_path / "main.py"
    app.write_text(textwrap.dedent('''
        from mlkube import Environment, InferenceService, Platform
        from mlkube.errors import Problem


        def one_replica_is_not_enough(ctx):
            for manifest in ctx.manifests:
                if manifest.obj["kind"] == "Deployment" and manifest.obj["spec"].get("replicas", 1) < 2:
                    ctx.problems.append(Problem(manifest.where, "spec.replicas", "our servers run at least 2 replicas"))


        platform = Platform(environments=[Environment(name="dev")], checks=[one_replica_is_not_enough])
        platform.app("fraud", lambda app: InferenceService(app, "server", image="ghcr.io/acme/fraud:1.4.2", replicas=1))
        platform.synth()
    '''))
    result = run_mlkube("synth", "--app", str(app), "--out", str(tmp_path / "dist"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "dev/fraud/server: spec.replicas: our servers run at least 2 replicas" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "dist").exists()


def test_a_pipeline_without_an_image_catalog_reports_a_built_image(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    platform = Platform(environments=[Environment(name="dev")], pipeline=Pipeline(checks=(validate_objects,)))
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "serve.py").write_text("print('hi')\n")
    platform.app("fraud", lambda app: InferenceService(app, "server", image=Image.build("ctx", name="fraud")))
    with pytest.raises(MlkubeError) as raised:
        platform.synthesize(tmp_path / "dist")
    assert "this platform's pipeline builds no images" in str(raised.value)
    with pytest.raises(MlkubeError, match="loads no YAML blueprints"):
        platform.load_blueprints(tmp_path)


def test_a_check_that_is_not_a_function_is_reported(tmp_path):
    platform = Platform(environments=[Environment(name="dev")], checks=["no-latest"])
    with pytest.raises(MlkubeError) as raised:
        platform.synthesize(tmp_path / "dist")
    assert "Platform: checks[0]: 'no-latest' is not a function" in str(raised.value)
