"""``mlkube schemas import``: files written, and bad input refused with file:line, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlkube.cli import main

WIDGET_CRD = (Path(__file__).parent / "widget_crd.yaml").read_text()
CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n"


def _import(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["schemas", "import", *map(str, args)])


def _line(text: str, needle: str) -> int:
    return text.splitlines().index(needle) + 1


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_writes_one_file_per_served_version(widget_crd: Path, tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    result = _import(widget_crd, "--out", out)
    assert result.exit_code == 0, result.output
    assert _files(out) == ["example.com/widget_v1.json", "example.com/widget_v1beta1.json"]
    assert result.stdout.splitlines()[-1] == f"2 schemas written to {out}"
    assert (out / "example.com" / "widget_v1.json").stat().st_mode & 0o644 == 0o644
    assert json.loads((out / "example.com" / "widget_v1.json").read_text())["properties"]["kind"]["enum"] == ["Widget"]


def test_compact_writes_one_line_without_descriptions(widget_crd: Path, tmp_path: Path) -> None:
    result = _import(widget_crd, "--out", tmp_path, "--compact")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "example.com" / "widget_v1.json").read_text()
    assert text.count("\n") == 1 and '"description"' not in text
    assert json.loads(text)["properties"]["kind"]["enum"] == ["Widget"]


def test_keeps_other_files_and_replaces_its_own(widget_crd: Path, tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    (out / "example.com").mkdir(parents=True)
    (out / "example.com" / "widget_v1.json").write_text("{}\n")
    (out / "other.io").mkdir()
    (out / "other.io" / "thing_v1.json").write_text("{}\n")
    assert _import(widget_crd, "--out", out).exit_code == 0
    assert (out / "other.io" / "thing_v1.json").read_text() == "{}\n"
    assert (out / "example.com" / "widget_v1.json").read_text() != "{}\n"


def test_reads_multi_document_files_with_several_crds(tmp_path: Path) -> None:
    second = WIDGET_CRD.replace("widgets.example.com", "gadgets.example.com").replace("kind: Widget", "kind: Gadget")
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text(WIDGET_CRD + "---\n" + second)
    out = tmp_path / "schemas"
    assert _import(bundle, "--out", out).exit_code == 0
    assert _files(out) == ["example.com/gadget_v1.json", "example.com/gadget_v1beta1.json",
                           "example.com/widget_v1.json", "example.com/widget_v1beta1.json"]


def test_skip_other_kinds_ignores_objects_that_are_not_crds(tmp_path: Path) -> None:
    bundle = tmp_path / "install.yaml"
    bundle.write_text(CONFIG_MAP + "---\n" + WIDGET_CRD)
    out = tmp_path / "schemas"
    result = _import(bundle, "--out", out, "--skip-other-kinds")
    assert result.exit_code == 0, result.output
    assert _files(out) == ["example.com/widget_v1.json", "example.com/widget_v1beta1.json"]


def _fails(tmp_path: Path, *files: tuple[str, str]) -> str:
    """Import the files; assert exit 2, no traceback, nothing written; return the error text."""
    paths = []
    for name, text in files:
        (tmp_path / name).write_text(text)
        paths.append(tmp_path / name)
    out = tmp_path / "schemas"
    result = _import(*paths, "--out", out)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert _files(out) == []
    return result.stderr


def test_fails_when_yaml_is_invalid(tmp_path: Path) -> None:
    error = _fails(tmp_path, ("good.yaml", WIDGET_CRD), ("bad.yaml", "kind: [CustomResourceDefinition\nspec: {}\n"))
    assert f"{tmp_path / 'bad.yaml'}:2:5: not valid YAML: did not find expected ',' or ']'" in error


def test_fails_when_a_document_is_not_a_crd(tmp_path: Path) -> None:
    text = WIDGET_CRD + "---\n" + CONFIG_MAP
    error = _fails(tmp_path, ("crds.yaml", text))
    line = _line(text, "kind: ConfigMap")
    assert f"{tmp_path / 'crds.yaml'}:{line}: kind: ConfigMap 'settings' is not a CustomResourceDefinition" in error
    assert "hint: give only CRD files, or --skip-other-kinds" in error


def test_fails_when_versions_are_missing(tmp_path: Path) -> None:
    text = WIDGET_CRD.split("  versions:")[0] + "  versions: []\n"
    error = _fails(tmp_path, ("crd.yaml", text))
    assert f"crd.yaml:{_line(text, '  versions: []')}: spec.versions: spec.versions is missing or empty" in error


def test_fails_when_a_served_version_has_no_schema(tmp_path: Path) -> None:
    text = WIDGET_CRD.replace("    served: false\n", "    served: true\n").replace("      openAPIV3Schema: {type: object}\n", "")
    assert text.endswith("    schema:\n")  # v1alpha1, now served, has an empty schema
    error = _fails(tmp_path, ("crd.yaml", text))
    line = len(text.splitlines())
    assert f"crd.yaml:{line}: spec.versions[2].schema: version 'v1alpha1' of Widget has no schema.openAPIV3Schema" in error


def test_fails_when_group_is_missing(tmp_path: Path) -> None:
    text = WIDGET_CRD.replace("  group: example.com\n", "")
    error = _fails(tmp_path, ("crd.yaml", text))
    # A missing key is reported at the start of the mapping that should hold it.
    assert f"crd.yaml:{_line(text, 'spec:') + 1}: spec.group: spec.group is missing or not a string" in error


def test_fails_when_crd_is_v1beta1(tmp_path: Path) -> None:
    text = WIDGET_CRD.replace("apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1")
    error = _fails(tmp_path, ("crd.yaml", text))
    assert f"crd.yaml:{_line(text, 'apiVersion: apiextensions.k8s.io/v1beta1')}: apiVersion: apiextensions.k8s.io/v1beta1 CustomResourceDefinitions are not supported" in error


def test_fails_when_a_crd_is_given_twice(tmp_path: Path) -> None:
    error = _fails(tmp_path, ("a.yaml", WIDGET_CRD), ("b.yaml", WIDGET_CRD))
    line = _line(WIDGET_CRD, "  - name: v1")
    assert f"b.yaml:{line}: Widget example.com/v1 is defined twice (also at" in error and f"a.yaml:{line})" in error


def test_fails_when_file_has_no_crd(tmp_path: Path) -> None:
    error = _fails(tmp_path, ("empty.yaml", "# nothing here\n"))
    assert "empty.yaml: no CustomResourceDefinition found" in error


def test_fails_when_file_does_not_exist(tmp_path: Path) -> None:
    result = _import(tmp_path / "missing.yaml", "--out", tmp_path / "schemas")
    assert result.exit_code == 2
    assert "missing.yaml does not exist" in result.stderr


@pytest.mark.parametrize("version", ["1.2", "latest"])
def test_fails_when_kubernetes_version_is_unknown(widget_crd: Path, tmp_path: Path, version: str) -> None:
    result = _import(widget_crd, "--out", tmp_path / "schemas", "--kubernetes-version", version)
    assert result.exit_code == 2
    assert f"error: no Kubernetes schemas for version '{version}'" in result.stderr
    assert not (tmp_path / "schemas").exists()


def test_fails_when_a_sub_schema_is_not_a_mapping(tmp_path: Path) -> None:
    text = WIDGET_CRD.replace("              owner: {type: string, nullable: true}", "              owner: null")
    error = _fails(tmp_path, ("crd.yaml", text))
    field = "spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.owner"
    assert f"crd.yaml:{_line(text, '              owner: null')}: {field}: a schema must be a mapping, not NoneType (None)" in error


def test_fails_when_out_holds_a_file_where_a_group_folder_goes(widget_crd: Path, tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    out.mkdir()
    (out / "example.com").write_text("not a folder\n")
    result = _import(widget_crd, "--out", out)
    assert result.exit_code == 2
    assert f"error: cannot create folder {out / 'example.com'}: File exists" in result.stderr
    assert (out / "example.com").read_text() == "not a folder\n"
