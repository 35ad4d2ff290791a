"""Upstream CRD schemas as an independent oracle: a minimal OpenAPI-v3-to-JSON-Schema converter.

Deliberately small and separate from mlkube's own code: it closes objects that declare properties
(what the API server's strict field validation does), maps int-or-string and nullable, and keeps
``x-kubernetes-preserve-unknown-fields`` objects open.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

__all__ = ["crd_json_schema", "schema_errors", "catalog_schema"]


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _convert(value) for key, value in node.items() if key != "nullable"}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if "properties" in node and "additionalProperties" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def crd_json_schema(crd_file: Path, version: str) -> dict[str, Any]:
    """The strict JSON Schema of one served version of a CRD file."""
    crd = yaml.safe_load(crd_file.read_text())
    served = next(v for v in crd["spec"]["versions"] if v["name"] == version)
    return _convert(served["schema"]["openAPIV3Schema"])


def catalog_schema(shared: Path, group: str, kind: str, version: str) -> dict[str, Any]:
    """A schema of ../shared/crd-schemas ({group}/{kind}_{version}.json)."""
    return json.loads((shared / "crd-schemas" / group / f"{kind.lower()}_{version}.json").read_text())


def schema_errors(schema: dict[str, Any], obj: dict[str, Any]) -> list[str]:
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)(schema)
    return [f"{'.'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(obj)]
