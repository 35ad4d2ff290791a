"""OpenAPI v3 schemas of CustomResourceDefinitions, converted into strict JSON Schemas (draft 2020-12).

The rules follow what the API server does with a structural schema, so that what these schemas
reject is what ``kubectl apply`` (server-side field validation ``Strict``) would reject:

- an object with ``properties`` and no ``additionalProperties`` gets ``additionalProperties: false``;
  so does a bare ``type: object`` (the API server prunes every field of such an object, so a value
  there would be silently dropped);
- ``x-kubernetes-preserve-unknown-fields: true`` keeps an object open;
- ``x-kubernetes-int-or-string`` becomes ``anyOf: [integer, string]`` (its ``pattern`` applies to
  strings only), ``nullable: true`` adds ``"null"`` to the type (and to an ``enum``) and is kept as a
  marker for :mod:`mlkube.crd_import.normalize`;
- ``null`` is also accepted for a property (or a map value) that is not nullable, unless it is
  required and has no default: the API server prunes such a null before validating (or replaces it
  with the default), so it never reaches validation. Cited: kubernetes/apiextensions-apiserver
  ``pkg/apiserver/schema/defaulting/prunenulls.go`` (PruneNonNullableNullsWithoutDefaults, called by
  ``unstructuredSchemaCoercer.apply`` in ``pkg/apiserver/customresource_handler.go``) and
  ``defaulting/algorithm.go``. A null list item is not pruned and stays refused;
- OpenAPI's boolean ``exclusiveMinimum``/``exclusiveMaximum`` become JSON Schema's numeric ones;
- ``x-kubernetes-list-type: set`` becomes ``uniqueItems``;
- ``x-kubernetes-embedded-resource`` objects get ``apiVersion`` and ``kind`` (required, not empty:
  ``validateEmbeddedResource`` in ``pkg/apiserver/schema/objectmeta/validation.go``) and a strict
  ``metadata``;
- ``x-kubernetes-validations`` (CEL rules) and ``default`` are kept: :mod:`mlkube.crd_import.cel`
  evaluates the rules on the defaulted object.

Branches of ``allOf``/``anyOf``/``oneOf``/``not`` are value validations, not structure: they are
converted but never closed, or a branch that names one property would forbid all the others.
"""

from __future__ import annotations

import re
from typing import Any

from .object_meta import OBJECT_META_REF

__all__ = ["convert_schema", "convert_root", "portable_pattern", "JSON_SCHEMA_DIALECT"]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]
_LOGIC = ("allOf", "anyOf", "oneOf")
_LATE_FLAGS = re.compile(r"^\^\(\?([ims]+)\)(.*)$", re.DOTALL)


def convert_schema(node: dict[str, Any], *, structural: bool = True) -> dict[str, Any]:
    """A converted copy of one schema node and everything under it."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties") and isinstance(value, dict):
            required = set(node.get("required") or ()) if key == "properties" else set()
            out[key] = {name: _pruned_null(convert_schema(sub, structural=structural), sub, name in required)
                        for name, sub in value.items()}
        elif key == "additionalProperties" and isinstance(value, dict):
            out[key] = _pruned_null(convert_schema(value, structural=structural), value, required=False)
        elif key in ("items", "not") and isinstance(value, dict):
            out[key] = convert_schema(value, structural=structural and key != "not")
        elif key in _LOGIC and isinstance(value, list):
            out[key] = [convert_schema(sub, structural=False) for sub in value]
        elif key == "pattern" and isinstance(value, str):
            out[key] = portable_pattern(value)
        else:
            out[key] = value
    _int_or_string(out)
    _exclusive_bounds(out)
    if node.get("nullable") is True:
        _nullable(out)
    if node.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if node.get("x-kubernetes-embedded-resource") is True:
        _embedded_resource(out)
    if structural:
        _close(out)
    return out


def portable_pattern(pattern: str) -> str:
    """The API server matches ``pattern`` with Go's RE2, which takes ``^(?i)...`` (flags after the anchor);
    Python's re refuses that and Rust's regex agrees with Go. ``^(?i:...)`` means the same to all three."""
    try:
        re.compile(pattern)
        return pattern
    except re.error:
        match = _LATE_FLAGS.match(pattern)
        return f"^(?{match.group(1)}:{match.group(2)})" if match else pattern


def convert_root(open_api: dict[str, Any], *, group: str, version: str, kind: str,
                 defs: dict[str, Any]) -> dict[str, Any]:
    """The whole schema of one served version: fixed apiVersion/kind, strict metadata, ``$defs``."""
    schema = convert_schema(open_api)
    properties = schema.setdefault("properties", {})
    properties["apiVersion"] = {**_described(open_api, "apiVersion"), "type": "string", "enum": [f"{group}/{version}"]}
    properties["kind"] = {**_described(open_api, "kind"), "type": "string", "enum": [kind]}
    properties["metadata"] = {**_described(open_api, "metadata"), **_metadata_constraints(open_api), "$ref": OBJECT_META_REF}
    schema["required"] = ["apiVersion", "kind", *(name for name in schema.get("required", []) if name not in ("apiVersion", "kind"))]
    schema.setdefault("type", "object")
    _close(schema)
    return {"$schema": JSON_SCHEMA_DIALECT, **schema, "$defs": defs}


def _described(open_api: dict[str, Any], name: str) -> dict[str, Any]:
    description = ((open_api.get("properties") or {}).get(name) or {}).get("description")
    return {"description": description} if isinstance(description, str) else {}


def _metadata_constraints(open_api: dict[str, Any]) -> dict[str, Any]:
    # A CRD may constrain metadata.name (a pattern, a max length): keep that beside the strict
    # ObjectMeta, never closed, as ObjectMeta already rejects unknown fields.
    declared = ((open_api.get("properties") or {}).get("metadata") or {}).get("properties")
    if not isinstance(declared, dict):
        return {}
    return {"properties": {name: convert_schema(sub, structural=False) for name, sub in declared.items()}}


def _int_or_string(out: dict[str, Any]) -> None:
    if out.get("x-kubernetes-int-or-string") is not True:
        return
    out.pop("type", None)  # a "type: string" beside the marker would reject the integers it allows
    existing = out.get("anyOf")
    if existing and not all(set(branch) == {"type"} for branch in existing):
        out["allOf"] = [*out.get("allOf", []), {"anyOf": existing}]
    out["anyOf"] = [dict(branch) for branch in _INT_OR_STRING]


def _exclusive_bounds(out: dict[str, Any]) -> None:
    # OpenAPI 3.0 says "minimum: 0, exclusiveMinimum: true"; JSON Schema says "exclusiveMinimum: 0".
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if isinstance(out.get(exclusive), bool) and out.pop(exclusive) and bound in out:
            out[exclusive] = out.pop(bound)


def _nullable(out: dict[str, Any]) -> None:
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        out["type"] = [*kind, "null"]
    elif kind is None and "anyOf" in out:
        out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    if isinstance(out.get("enum"), list) and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]


def _pruned_null(out: dict[str, Any], original: dict[str, Any], required: bool) -> dict[str, Any]:
    # A null the API server prunes (or defaults) before validation is never refused for being null.
    if original.get("nullable") is not True and (not required or "default" in original):
        _nullable(out)
    return out


def _embedded_resource(out: dict[str, Any]) -> None:
    properties = out.setdefault("properties", {})
    properties.setdefault("apiVersion", {"type": "string", "minLength": 1})
    properties.setdefault("kind", {"type": "string", "minLength": 1})
    properties.setdefault("metadata", {"$ref": OBJECT_META_REF})
    out["required"] = sorted({*out.get("required", []), "apiVersion", "kind"})


def _close(out: dict[str, Any]) -> None:
    if "additionalProperties" in out or out.get("x-kubernetes-preserve-unknown-fields") is True:
        return
    kind = out.get("type")
    is_object = kind == "object" or (isinstance(kind, list) and "object" in kind)
    if "properties" in out or is_object:
        out["additionalProperties"] = False
