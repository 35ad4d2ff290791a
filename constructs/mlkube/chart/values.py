"""The chart's values: each workload's spec in YAML blueprint form (camelCase field names, as a blueprint writes them).

Only the fields the author set are written (plus union tags such as ``source``, which the spec needs
to read its own dump back); when that shorter form does not read back into the same spec, every
field is written. Either way ``values.yaml`` is a valid blueprint workload: ``kind`` + the spec's fields.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

__all__ = ["written_fields", "workload_values", "image_parts", "image_reference"]


def _is_tag_field(model: BaseModel, name: str) -> bool:
    annotation = type(model).model_fields[name].annotation
    return typing.get_origin(annotation) is typing.Literal


def _plain(value: Any, owner: BaseModel, name: str) -> Any:
    if isinstance(value, BaseModel):
        return written_fields(value)
    if isinstance(value, (list, tuple)) and any(isinstance(item, BaseModel) for item in value):
        return [written_fields(item) if isinstance(item, BaseModel) else item for item in value]
    if isinstance(value, dict) and any(isinstance(item, BaseModel) for item in value.values()):
        return {key: written_fields(item) if isinstance(item, BaseModel) else item for key, item in value.items()}
    return owner.model_dump(mode="json", include={name}, by_alias=True)[type(owner).model_fields[name].alias or name]


def written_fields(model: BaseModel) -> dict[str, Any]:
    """The fields the author set (and union tags), as JSON values keyed as a blueprint writes them (camelCase)."""
    fields = type(model).model_fields
    return {fields[name].alias or name: _plain(getattr(model, name), model, name) for name in fields
            if name in model.model_fields_set or _is_tag_field(model, name)}


def workload_values(kind: str, spec: BaseModel) -> dict[str, Any]:
    """``{kind: ..., <fields>}``: the workload as a blueprint would declare it."""
    short = written_fields(spec)
    try:
        same = type(spec).model_validate(short, by_alias=True, by_name=False) == spec
    except ValueError:
        same = False
    return {"kind": kind, **(short if same else spec.model_dump(mode="json", by_alias=True))}


def image_parts(reference: str) -> dict[str, str]:
    """``repo:tag@sha256:...`` -> ``{repository, tag, digest}`` (a port in the host is not a tag)."""
    name, _, digest = reference.partition("@")
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        return {"repository": name[:colon], "tag": name[colon + 1:], "digest": digest}
    return {"repository": name, "tag": "", "digest": digest}


def image_reference(parts: dict[str, str]) -> str:
    """The inverse of image_parts; the chart's ``mlkube.core.image`` template does the same in Go."""
    text = parts["repository"]
    if parts.get("tag"):
        text += ":" + parts["tag"]
    if parts.get("digest"):
        text += "@" + parts["digest"]
    return text
