"""Declarative YAML blueprints (apps/<team>/mlkube.yaml) onto the same specs as the Python constructs."""

from .document import API_VERSION, KIND, BlueprintSpec
from .loader import BLUEPRINT_FILE_NAME, Blueprint, Workload, find_blueprint_files, load_blueprint_files, load_blueprints, parse_blueprints
from .registry import WorkloadKind, register_kind, workload_kinds
from .schema import DOCUMENT_TYPES, blueprint_json_schema, schema_files, write_schemas
from .starter import starter_blueprint

__all__ = [
    "API_VERSION", "KIND", "BlueprintSpec", "BLUEPRINT_FILE_NAME", "Blueprint", "Workload", "find_blueprint_files",
    "load_blueprint_files", "load_blueprints", "parse_blueprints", "WorkloadKind", "register_kind", "workload_kinds",
    "DOCUMENT_TYPES", "blueprint_json_schema", "schema_files", "write_schemas", "starter_blueprint",
]
