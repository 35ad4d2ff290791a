"""The conversion rules, on a small CRD written for the test (int-or-string, nullable, open and closed objects)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from mlkube.crd_import import import_crds

V1 = "example.com/widget_v1.json"


def _schemas(crd: Path) -> dict[str, dict[str, Any]]:
    return {path: json.loads(data) for path, data in import_crds([crd], kubernetes_version="1.34").items()}


@pytest.fixture
def widget(widget_crd: Path) -> dict[str, Any]:
    return _schemas(widget_crd)[V1]


def _widget(spec: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "ns"},
            "spec": {"port": 8080, **(spec or {})}, **top}


def _errors(schema: dict[str, Any], obj: dict[str, Any]) -> list[str]:
    # No registry: the output must be self-contained, as kubeconform and editors read it.
    validator = jsonschema.Draft202012Validator(schema)
    return sorted(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj))


def test_schema_of_small_crd(widget: dict[str, Any], snapshot: Any) -> None:
    without_object_meta = {key: value for key, value in widget.items() if key != "$defs"}
    assert without_object_meta == snapshot(extension_class=JSONSnapshotExtension)


def test_every_served_version_gets_a_file(widget_crd: Path) -> None:
    schemas = _schemas(widget_crd)
    assert sorted(schemas) == [V1, "example.com/widget_v1beta1.json"]  # v1alpha1 is not served
    assert schemas["example.com/widget_v1beta1.json"]["properties"]["apiVersion"]["enum"] == ["example.com/v1beta1"]


def test_output_is_self_contained_draft_2020_12(widget: dict[str, Any]) -> None:
    assert widget["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "$id" not in json.dumps(widget)  # no $id: nothing can collide in a validator's registry
    assert widget["properties"]["metadata"]["$ref"] == "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    assert sorted(widget["$defs"]) == [f"io.k8s.apimachinery.pkg.apis.meta.v1.{name}" for name in
                                       ("FieldsV1", "ManagedFieldsEntry", "ObjectMeta", "OwnerReference", "Time")]
    jsonschema.Draft202012Validator.check_schema(widget)


def test_output_is_deterministic(widget_crd: Path) -> None:
    first = import_crds([widget_crd], kubernetes_version="1.34")
    assert first == import_crds([widget_crd], kubernetes_version="1.34")
    text = first[V1].decode()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_valid_widget_passes(widget: dict[str, Any]) -> None:
    obj = _widget({"maxSurge": "25%", "size": "10Gi", "owner": None, "mode": "Safe", "ratio": 0.5, "tags": ["a", "b"],
                   "settings": {"any-key": "v"}, "values": {"free": {"form": [1, 2]}},
                   "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}},
                   "source": {"url": "https://example.com", "path": "a/b"}},
                  status={"ready": True})
    obj["metadata"]["labels"] = {"app.kubernetes.io/name": "w"}
    assert _errors(widget, obj) == []


@pytest.mark.parametrize("port", [8080, "http"])
def test_int_or_string_accepts_both(widget: dict[str, Any], port: Any) -> None:
    assert _errors(widget, _widget({"port": port})) == []


@pytest.mark.parametrize("port", [1.5, True, None, ["80"]])
def test_fails_when_int_or_string_is_neither(widget: dict[str, Any], port: Any) -> None:
    assert _errors(widget, _widget({"port": port})) == [f"spec.port: {port!r} is not valid under any of the given schemas"]


def test_int_or_string_beside_type_string_accepts_integers(widget: dict[str, Any]) -> None:
    # "type: string" next to the marker would reject 10; the pattern still applies to strings.
    assert _errors(widget, _widget({"size": 10})) == []
    assert _errors(widget, _widget({"size": "ten"})) == ["spec.size: 'ten' does not match '^[0-9]+(Mi|Gi)$'"]


def test_nullable_accepts_null(widget: dict[str, Any]) -> None:
    assert _errors(widget, _widget({"owner": None, "maxSurge": None, "mode": None})) == []
    assert widget["properties"]["spec"]["properties"]["owner"]["type"] == ["string", "null"]
    assert widget["properties"]["spec"]["properties"]["mode"]["enum"] == ["Fast", "Safe", None]


def test_null_of_an_optional_field_is_accepted_as_the_api_server_prunes_it(widget: dict[str, Any]) -> None:
    # kubernetes/apiextensions-apiserver pkg/apiserver/schema/defaulting/prunenulls.go: a null for a
    # field that is not nullable and has no default is dropped before validation (failed before: refused).
    assert _errors(widget, _widget({"tags": None, "settings": {"k": None}, "source": None})) == []
    assert "nullable" not in widget["properties"]["spec"]["properties"]["tags"]


def test_fails_when_null_where_required(widget: dict[str, Any]) -> None:
    # Pruned, the required field is missing: the API server refuses it (Required value).
    assert _errors(widget, _widget({"port": None})) == ["spec.port: None is not valid under any of the given schemas"]


def test_fails_when_list_item_is_null(widget: dict[str, Any]) -> None:
    # Nulls inside lists are not pruned (PruneNonNullableNullsWithoutDefaults only drops map entries).
    assert _errors(widget, _widget({"tags": ["a", None]})) == ["spec.tags.1: None is not of type 'string'"]


def test_fails_when_enum_value_is_unknown(widget: dict[str, Any]) -> None:
    assert _errors(widget, _widget({"mode": "Slow"})) == ["spec.mode: 'Slow' is not one of ['Fast', 'Safe', None]"]


def test_exclusive_minimum_becomes_numeric(widget: dict[str, Any]) -> None:
    assert _errors(widget, _widget({"ratio": 0})) == ["spec.ratio: 0 is less than or equal to the minimum of 0"]


def test_fails_when_set_list_has_duplicates(widget: dict[str, Any]) -> None:
    assert _errors(widget, _widget({"tags": ["a", "a"]})) == ["spec.tags: ['a', 'a'] has non-unique elements"]


def test_fails_when_field_is_misspelled(widget: dict[str, Any]) -> None:
    errors = _errors(widget, _widget({"prot": 1}))
    assert errors == ["spec: Additional properties are not allowed ('prot' was unexpected)"]


def test_fails_when_top_level_field_is_unknown(widget: dict[str, Any]) -> None:
    assert _errors(widget, _widget(spce={})) == [": Additional properties are not allowed ('spce' was unexpected)"]


def test_preserve_unknown_fields_stays_open(widget: dict[str, Any]) -> None:
    assert _errors(widget, _widget({"values": {"anything": {"goes": True}}})) == []


def test_fails_when_bare_object_has_fields(widget: dict[str, Any]) -> None:
    # The API server prunes every field of a bare "type: object", so a value there would be lost.
    assert _errors(widget, _widget({"bare": {"x": 1}})) == ["spec.bare: Additional properties are not allowed ('x' was unexpected)"]


def test_value_validation_branches_stay_open(widget: dict[str, Any]) -> None:
    assert _errors(widget, _widget({"source": {"url": "u", "path": "p"}})) == []
    assert _errors(widget, _widget({"source": {}})) == ["spec.source: {} is not valid under any of the given schemas"]


def test_fails_when_metadata_is_not_object_meta(widget: dict[str, Any]) -> None:
    obj = _widget()
    obj["metadata"]["labelz"] = {"a": "b"}
    assert _errors(widget, obj) == ["metadata: Additional properties are not allowed ('labelz' was unexpected)"]


@pytest.mark.parametrize(("template", "message"), [
    ({"kind": "ConfigMap"}, "spec.template: 'apiVersion' is a required property"),
    ({"apiVersion": "v1", "kind": ""}, "spec.template.kind: '' should be non-empty"),
])
def test_fails_when_embedded_resource_lacks_api_version_or_kind(widget: dict[str, Any], template: dict[str, Any], message: str) -> None:
    # validateEmbeddedResource (pkg/apiserver/schema/objectmeta/validation.go) requires both, not empty.
    assert _errors(widget, _widget({"template": template})) == [message]


def test_fails_when_embedded_resource_metadata_is_misspelled(widget: dict[str, Any]) -> None:
    template = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"nmae": "c"}}
    assert _errors(widget, _widget({"template": template})) == [
        "spec.template.metadata: Additional properties are not allowed ('nmae' was unexpected)"]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("apiVersion", "example.com/v2", "apiVersion: 'example.com/v2' is not one of ['example.com/v1']"),
    ("kind", "Gadget", "kind: 'Gadget' is not one of ['Widget']"),
])
def test_fails_when_api_version_or_kind_is_wrong(widget: dict[str, Any], field: str, value: str, message: str) -> None:
    assert _errors(widget, {**_widget(), field: value}) == [message]


def test_fails_when_kind_is_missing(widget: dict[str, Any]) -> None:
    obj = _widget()
    del obj["kind"]
    assert _errors(widget, obj) == [": 'kind' is a required property"]


def test_metadata_constraints_of_the_crd_are_kept(tmp_path: Path, widget_crd: Path) -> None:
    crd = tmp_path / "crd.yaml"
    crd.write_text(widget_crd.read_text().replace(
        "          metadata: {type: object}",
        "          metadata:\n            type: object\n            properties:\n              name: {type: string, maxLength: 8}", 1))
    schema = _schemas(crd)[V1]
    obj = _widget()
    assert _errors(schema, obj) == []
    obj["metadata"]["name"] = "much-too-long"
    assert _errors(schema, obj) == ["metadata.name: 'much-too-long' is too long"]
    obj["metadata"]["nmae"] = "w"
    assert "metadata: Additional properties are not allowed ('nmae' was unexpected)" in _errors(schema, obj)


def test_compact_form_accepts_and_refuses_the_same(widget_crd: Path) -> None:
    full = _schemas(widget_crd)[V1]
    compact = json.loads(import_crds([widget_crd], kubernetes_version="1.34", compact=True)[V1])
    text = import_crds([widget_crd], kubernetes_version="1.34", compact=True)[V1].decode()
    assert "\n" not in text.rstrip("\n") and '"description"' not in text
    # ObjectMeta's definitions are large and used once; repeated pieces would be shared under $defs.
    objects = [_widget(), _widget({"port": 1.5}), _widget({"prot": 1}), _widget({"tags": ["a", "a"]}),
               _widget({"template": {"kind": "ConfigMap"}}), _widget({"owner": None, "tags": None})]
    for obj in objects:
        assert _errors(compact, obj) == _errors(full, obj)


def test_repeated_sub_schemas_are_stored_once(tmp_path: Path) -> None:
    from mlkube.crd_import.compact import compact_schema

    big = {"type": "object", "properties": {f"f{i}": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 63} for i in range(40)}}
    schema = {"type": "object", "properties": {"a": big, "b": {"type": "array", "items": big}}}
    out = compact_schema(schema)
    assert out["properties"]["a"] == out["properties"]["b"]["items"]
    ref = out["properties"]["a"]["$ref"]
    assert ref.startswith("#/$defs/shared.") and out["$defs"][ref.split("/")[-1]] == big
    obj = {"a": {"f1": "x"}, "b": [{"f2": "BAD"}]}
    assert [e.message for e in jsonschema.Draft202012Validator(out).iter_errors(obj)] == \
        [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(obj)]
