"""`mlkube validate` on hand-written YAML: strict schemas, cross-object checks, lines, CRD schemas."""

from __future__ import annotations

import json
import textwrap

from helpers import run_mlkube

GOOD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
"""


def write(folder, name, text):
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_valid_folder_passes(tmp_path):
    write(tmp_path, "web.yaml", GOOD)
    result = run_mlkube("validate", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "2 objects valid (Kubernetes 1.34, strict)" in result.stdout


def test_unknown_field_is_reported_with_file_line_and_suggestion(tmp_path):
    write(tmp_path, "web.yaml", GOOD.replace("        image: nginx:1.27", "        image: nginx:1.27\n        imagePulPolicy: Always"))
    result = run_mlkube("validate", str(tmp_path))
    assert result.returncode == 1
    assert f"{tmp_path}/web.yaml:15: spec.template.spec.containers[0].imagePulPolicy: Deployment/web: unknown field 'imagePulPolicy'; did you mean 'imagePullPolicy'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_cross_object_check_names_the_service(tmp_path):
    write(tmp_path, "web.yaml", GOOD.replace("  selector: {app: web}\n  ports", "  selector: {app: webb}\n  ports"))
    result = run_mlkube("validate", str(tmp_path))
    assert result.returncode == 1
    assert "Service 'web' selects no pods" in result.stderr
    assert f"{tmp_path}/web.yaml:21: spec.selector" in result.stderr


def test_kind_without_schema_is_reported_and_fails_with_strict(tmp_path):
    write(tmp_path, "cr.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 1}\n")
    lenient = run_mlkube("validate", str(tmp_path))
    assert lenient.returncode == 0 and "no schema for Widget (example.com/v1)" in lenient.stderr
    strict = run_mlkube("validate", "--strict", str(tmp_path))
    assert strict.returncode == 1 and "no schema for Widget (example.com/v1)" in strict.stderr


def test_crd_schemas_folder_validates_custom_resources(tmp_path):
    schemas = tmp_path / "schemas" / "example.com"
    schemas.mkdir(parents=True)
    (schemas / "widget_v1.json").write_text(json.dumps({
        "type": "object", "additionalProperties": False,
        "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
                       "spec": {"type": "object", "additionalProperties": False, "properties": {"size": {"type": "integer"}}}}}))
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    write(manifests, "cr.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {sise: 1}\n")
    result = run_mlkube("validate", "--strict", "--crd-schemas", str(tmp_path / "schemas"), str(manifests))
    assert result.returncode == 1
    assert "spec.sise: Widget/w: unknown field 'sise'; did you mean 'size'?" in result.stderr


def test_invalid_yaml_is_a_clear_error(tmp_path):
    write(tmp_path, "bad.yaml", "apiVersion: v1\nkind: [unclosed\n")
    result = run_mlkube("validate", str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path}/bad.yaml:3:1: not valid YAML" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_path_is_a_clear_error(tmp_path):
    result = run_mlkube("validate", str(tmp_path / "nope"))
    assert result.returncode == 2 and "does not exist" in result.stderr
