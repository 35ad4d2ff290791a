"""values.schema.json: the blueprint JSON Schema of each workload's kind, narrowed to what the chart renders.

Built from the same generator as schemas/blueprint.schema.json (blueprint/schema.py), so a parameter
has the spec's own type, bounds and description, and an unknown key is refused (the specs forbid
extra fields). Every field that is not a parameter is narrowed to its exported value (``const``):
the templates render it as exported, so Helm refuses a change instead of ignoring it. Helm checks
values against this file on install, upgrade, lint and template
(https://helm.sh/docs/topics/charts/#schema-files).
"""

from __future__ import annotations

import json
from typing import Any

from ..blueprint.schema import blueprint_json_schema
from .parameters import Parameter

__all__ = ["values_schema", "schema_bytes", "IMAGE_TAG_PATTERN", "DIGEST_PATTERN", "QUANTITY_PATTERN"]

#: A tag per the OCI distribution spec: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}
#: (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests); empty: no tag.
IMAGE_TAG_PATTERN = r"^([A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$"
DIGEST_PATTERN = r"^sha256:[a-f0-9]{64}$"
#: A non-negative resource quantity: <number><suffix>, suffix binary SI, decimal SI or an exponent
#: (k8s.io/apimachinery/pkg/api/resource/quantity.go). The specs accept any string and check it in Python; Helm cannot.
QUANTITY_PATTERN = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"

_PARAMETER = object()
_QUANTITY = object()


class _Own:
    """A parameter with its own schema (a model URI: chart/fixed.py), instead of the spec's."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema


def _image_schema(parameter: Parameter) -> dict[str, Any]:
    pinned = bool(parameter.default.get("digest"))
    digest: dict[str, Any] = {"type": "string", "pattern": DIGEST_PATTERN if pinned else "^(sha256:[a-f0-9]{64})?$",
                              "description": "Image digest (sha256:...)." + (" Required: the image was exported pinned." if pinned else " Empty: by tag.")}
    return {"type": "object", "description": "Image: repository[:tag][@digest].", "additionalProperties": False,
            "required": ["repository", "tag", "digest"],
            "properties": {"repository": {"type": "string", "minLength": 1, "description": "Image repository, e.g. ghcr.io/acme/server."},
                           "tag": {"type": "string", "pattern": IMAGE_TAG_PATTERN, "description": "Image tag; empty: none."},
                           "digest": digest}}


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The object schema behind a $ref or an ``X | None`` anyOf."""
    while "$ref" in schema:
        schema = {**defs[schema["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in schema.items() if k != "$ref"}}
    for branch in schema.get("anyOf", ()):
        resolved = _resolve(branch, defs)
        if resolved.get("type") == "object" or "properties" in resolved:
            return resolved
    return schema


def _quantity_schema(schema: dict[str, Any]) -> dict[str, Any]:
    described = {"description": schema["description"]} if "description" in schema else {}
    return {**described, "anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": QUANTITY_PATTERN}]}


def _no_credential(schema: dict[str, Any]) -> dict[str, Any]:
    """A string value that holds a credential of a known format is refused, as synth's policy refuses it in the objects
    (credential_patterns: gitleaks' formats, a URI with a password): a chart value must reference a Secret instead."""
    from ..credential_patterns import credential_patterns

    return {**schema, "not": {"anyOf": [{"type": "string", "pattern": pattern} for pattern in credential_patterns()]}}


def _narrow(schema: dict[str, Any], value: Any, tree: Any, defs: dict[str, Any], image: dict[str, Any] | None) -> dict[str, Any]:
    if tree is _QUANTITY:
        return _quantity_schema(schema)
    if isinstance(tree, _Own):
        return _no_credential(tree.schema)
    if tree is _PARAMETER:
        if image is not None:
            return image
        return _no_credential(schema) if isinstance(value, str) else schema
    described = {"description": schema["description"]} if "description" in schema else {}
    if tree is None and isinstance(value, dict) and value:
        tree = {}  # a fixed mapping: each field const, so Helm names the field that changed
    if not isinstance(tree, dict):
        return {**described, "const": value}
    resolved = _resolve(schema, defs)
    properties = resolved.get("properties", {})
    extra = resolved.get("additionalProperties")
    narrowed = {}
    for key, item in value.items():
        child = properties.get(key) or (extra if isinstance(extra, dict) else {})
        narrowed[key] = _narrow(child, item, tree.get(key), defs, image if key == "image" else None)
    return {**described, "type": "object", "properties": narrowed, "additionalProperties": False, "required": sorted(value)}


def _used_defs(schema: Any, defs: dict[str, Any], used: set[str]) -> set[str]:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] not in used:
            used.add(ref[8:])
            _used_defs(defs[ref[8:]], defs, used)
        for item in schema.values():
            _used_defs(item, defs, used)
    elif isinstance(schema, list):
        for item in schema:
            _used_defs(item, defs, used)
    return used


def _leaf(parameter: Parameter, pinned_models: bool) -> Any:
    from .fixed import model_value_schema

    if parameter.type == "quantity":
        return _QUANTITY
    if parameter.path[0] == "model":
        return _Own(model_value_schema(parameter, pinned_models, {"description": "Model URI."}))
    return _PARAMETER


def values_schema(values: dict[str, dict[str, Any]], parameters: list[Parameter], pinned_models: bool = False) -> dict[str, Any]:
    """``pinned_models``: the environment requires pinned models (a model parameter then only takes an immutable hf:// or oci://)."""
    blueprint = blueprint_json_schema()
    defs: dict[str, Any] = blueprint["$defs"]
    workloads: dict[str, Any] = {}
    for workload, workload_values in values.items():
        tree: dict[str, Any] = {}
        images = {p.path: p for p in parameters if p.workload == workload and not p.fixed and p.type == "image"}
        for parameter in parameters:
            if parameter.workload == workload and not parameter.fixed:
                node = tree
                for part in parameter.path[:-1]:
                    node = node.setdefault(part, {})
                node[parameter.path[-1]] = _leaf(parameter, pinned_models)
        kind_schema = {"$ref": f"#/$defs/{workload_values['kind']}Workload"}
        image = _image_schema(images[("image",)]) if ("image",) in images else None
        workloads[workload] = _narrow(kind_schema, workload_values, tree, defs, image)
    body = {"type": "object", "additionalProperties": False, "required": ["workloads"],
            "properties": {"workloads": {"type": "object", "description": "The app's workloads by construct id, in YAML blueprint form.",
                                         "additionalProperties": False, "required": sorted(workloads), "properties": workloads}}}
    used = _used_defs(body, defs, set())
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **body, "$defs": {name: defs[name] for name in sorted(used)}}


def schema_bytes(schema: dict[str, Any]) -> bytes:
    return (json.dumps(schema, indent=2, ensure_ascii=False) + "\n").encode()
