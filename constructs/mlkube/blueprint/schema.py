"""JSON Schemas of the blueprint documents, generated from the spec classes (schemas/ at the repo root).

Editors (yaml-language-server) complete and check blueprint files with them. Descriptions and
defaults come from the spec fields; output is deterministic so a test can fail when it is stale.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, Union, cast

from pydantic import BaseModel, Field, create_model
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

from ..core.image import _coerce_image
from ..core.model import _coerce as _coerce_model
from ..core.runtimes import PRESETS
from ..core.runtimes import _coerce as _coerce_runtime
from ..core.spec import DnsLabel, in_yaml_casing, yaml_aliases
from ..kube.quantity import _coerce as _coerce_quantity
from ..output import replace_tree
from .document import BlueprintSpec
from .references import ModelFromVolume, VolumeMount
from .registry import workload_kinds

__all__ = ["DOCUMENT_TYPES", "blueprint_model", "blueprint_json_schema", "schema_files", "write_schemas", "SCHEMA_BASE_URL"]

SCHEMA_BASE_URL = "https://mlkube.dev/schemas/"

#: Before-validators that accept a shorter form than the type they produce: the schema accepts it too.
_SHORTHANDS: dict[Callable[..., Any], dict[str, Any]] = {
    _coerce_image: {"type": "string", "description": "An image reference, e.g. 'ghcr.io/acme/server:1.2.0' or 'repo@sha256:...'."},
    _coerce_model: {"type": "string", "description": "A model URI: s3://, gs://, hf://, oci://, https://, azureblob://, or pvc://<claim>/<path>."},
    _coerce_quantity: {"type": "number", "description": "A number of cores or bytes, e.g. 2 or 0.5."},
    _coerce_runtime: {"type": "string", "enum": sorted(PRESETS), "description": "A server preset by name, e.g. 'vllm'."},
}


class _BlueprintJsonSchema(GenerateJsonSchema):
    """Pydantic's generator, plus the string forms that before-validators accept."""

    def function_before_schema(self, schema: core_schema.BeforeValidatorFunctionSchema) -> dict[str, Any]:
        inner = super().function_before_schema(schema)
        function = schema["function"]["function"]
        shorthand = _SHORTHANDS.get(function)
        if function is _coerce_model:  # blueprints also name a CheckpointVolume of theirs: model: {volume, path}
            return {"anyOf": [dict(_SHORTHANDS[_coerce_model]), _volume_reference_schema(), inner]}
        return {"anyOf": [dict(shorthand), inner]} if shorthand is not None else inner


def _volume_reference_schema() -> dict[str, Any]:
    schema = ModelFromVolume.model_json_schema()
    schema.pop("title", None)
    return schema


def _workload_model(name: str, spec: type[BaseModel], mounts_volumes: bool) -> type[BaseModel]:
    """The spec class plus its ``kind`` discriminator (only for the schema; loading pops ``kind``), and ``mounts``."""
    extra: dict[str, Any] = {}
    if mounts_volumes:
        extra["mounts"] = (list[VolumeMount], Field(default_factory=list, description="CheckpointVolumes of this blueprint "
                                                    "mounted into every pod, by workload id. Default: none."))
    return create_model(
        f"{name}Workload", __base__=spec, __doc__=spec.__doc__,
        # A Literal of a value known only at run time: Any to mypy, the Literal to pydantic.
        kind=(cast(Any, Literal)[name], Field(description=f"Type of workload: {name}.")),
        **extra,
    )


def blueprint_model() -> type[BaseModel]:
    """BlueprintSpec with ``workloads`` typed as the union of every registered kind."""
    from ..core.construct import MountsVolumes

    models = tuple(_workload_model(kind.name, kind.spec, issubclass(kind.construct, MountsVolumes)) for kind in workload_kinds().values())
    workload = Annotated[Union[models], Field(discriminator="kind")] if len(models) > 1 else models[0]  # noqa: UP007
    described = BlueprintSpec.model_fields["workloads"]
    return create_model(
        "Blueprint", __base__=BlueprintSpec, __doc__=BlueprintSpec.__doc__,
        # A union of the kinds registered at run time: Any to mypy, the discriminated union to pydantic.
        workloads=(cast(Any, dict)[DnsLabel, workload], Field(default_factory=dict, description=described.description)),
    )


def _described_in_yaml_casing(schema: Any, aliases: dict[str, str]) -> Any:
    """Descriptions come from the Python specs: the field names they mention are written as the blueprint's keys."""
    if isinstance(schema, dict):
        return {key: in_yaml_casing(value, aliases) if key == "description" and isinstance(value, str)
                else _described_in_yaml_casing(value, aliases) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_described_in_yaml_casing(item, aliases) for item in schema]
    return schema


def blueprint_json_schema() -> dict[str, Any]:
    """The schema of blueprint files: properties by alias (camelCase, what the loader reads), pydantic's default."""
    schema = blueprint_model().model_json_schema(by_alias=True, schema_generator=_BlueprintJsonSchema, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_BASE_URL + "blueprint.schema.json",
            **_described_in_yaml_casing(schema, yaml_aliases())}


#: One JSON Schema per document type: file name -> generator.
DOCUMENT_TYPES: dict[str, Callable[[], dict[str, Any]]] = {
    "blueprint.schema.json": blueprint_json_schema,
}


def schema_files() -> dict[str, bytes]:
    """File name -> content of every schema (deterministic)."""
    return {name: (json.dumps(generate(), indent=2, ensure_ascii=False) + "\n").encode() for name, generate in DOCUMENT_TYPES.items()}


def write_schemas(out_dir: str | Path) -> list[Path]:
    """Make ``out_dir`` hold exactly the schemas (all-or-nothing); returns the written paths."""
    files = schema_files()
    replace_tree(Path(out_dir), files)
    return [Path(out_dir) / name for name in sorted(files)]
