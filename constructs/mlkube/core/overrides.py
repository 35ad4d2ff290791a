"""Per-environment overrides of a construct's spec, merged into its fields before validation.

An environment's ``overrides["<app>/<construct id>"]`` is a WorkloadOverride; each of its fields maps
to a path in the construct's spec. An override naming a path the spec does not have is an error, so
a typo in prod's overrides cannot silently leave the blueprint's value in place.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from ..errors import Problem
from ..kube.quantity import parse_quantity
from .gitops_settings import WorkloadOverride
from .spec import _unwrap

__all__ = ["apply_override", "override_key", "OVERRIDE_PATHS"]

#: Typed override field -> the spec path it sets.
OVERRIDE_PATHS: dict[str, tuple[str, ...]] = {
    "replicas": ("replicas",),
    "min_replicas": ("autoscaling", "min_replicas"),
    "max_replicas": ("autoscaling", "max_replicas"),
    "gpu_product": ("resources", "gpu", "product"),
    "hostnames": ("hostnames",),
}
_SCALED = ("cpu", "memory", "cpu_limit", "memory_limit")


def override_key(construct_path: str) -> str:
    """``dev/fraud-scoring/server`` -> ``fraud-scoring/server`` (the key within an environment)."""
    return construct_path.partition("/")[2]


def _spec_model_at(model: type[BaseModel], path: tuple[str, ...]) -> type[BaseModel] | None:
    """The model that owns the last element of ``path``, or None when a step does not exist."""
    current: type[BaseModel] = model
    for part in path[:-1]:
        info = current.model_fields.get(part)
        nested = _unwrap(info.annotation) if info is not None else None
        if nested is None:
            return None
        current = nested
    return current if path[-1] in current.model_fields else None


def _default_of(model: type[BaseModel], name: str) -> Any:
    value = model.model_fields[name].get_default(call_default_factory=True)
    return value.model_dump(exclude_unset=False) if isinstance(value, BaseModel) else copy.deepcopy(value)


def _child(node: dict[str, Any], key: str) -> dict[str, Any]:
    """``node[key]`` as a plain dict (a nested spec given as a model is dumped as the user set it)."""
    value = node.get(key)
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_unset=True)
    child: dict[str, Any] = value if isinstance(value, dict) else {}
    node[key] = child
    return child


def _requests_gpu(data: dict[str, Any]) -> bool:
    resources = data.get("resources")
    gpu = getattr(resources, "gpu", None) if isinstance(resources, BaseModel) else (resources or {}).get("gpu")
    return gpu is not None


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = data
    for part in path[:-1]:
        node = _child(node, part)
    node[path[-1]] = value


def _scale(quantity: Any, factor: float) -> str:
    """``"2Gi" * 1.5`` -> ``"3Gi"``, ``"500m" * 3`` -> ``"1500m"``: exact, in the largest unit that fits."""
    value = parse_quantity(str(quantity)) * Decimal(str(factor))
    millis = int((value * 1000).to_integral_value())
    if millis % 1000:
        return f"{millis}m"
    whole = millis // 1000
    for suffix, size in (("Gi", 1 << 30), ("Mi", 1 << 20)):
        if whole >= size and whole % size == 0:
            return f"{whole // size}{suffix}"
    return str(whole)


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def apply_override(model: type[BaseModel], data: dict[str, Any], override: WorkloadOverride, where: str,
                   field_prefix: str) -> tuple[dict[str, Any], list[Problem]]:
    """Return ``data`` (the spec's fields) with ``override`` applied, and the problems found."""
    data = copy.deepcopy(data)
    problems: list[Problem] = []
    allowed = sorted(name for name, path in OVERRIDE_PATHS.items() if _spec_model_at(model, path) is not None)

    def missing(name: str, path: tuple[str, ...]) -> None:
        problems.append(Problem(where, f"{field_prefix}.{name}", f"{model.__name__} has no field '{'.'.join(path)}'",
                                f"override fields this construct accepts: {', '.join(allowed + ['resource_scale', 'spec']) if allowed else 'spec'}"))

    for name, path in OVERRIDE_PATHS.items():
        value = getattr(override, name)
        if value is None:
            continue
        if _spec_model_at(model, path) is None:
            missing(name, path)
            continue
        if name == "gpu_product" and not _requests_gpu(data):
            problems.append(Problem(where, f"{field_prefix}.{name}", "the workload requests no GPU, so there is no GPU product to override",
                                    "remove gpu_product, or give the workload resources.gpu in the blueprint"))
            continue
        # A fixed count and an autoscaling range exclude each other: the override wins over the blueprint.
        if name == "replicas":
            data.pop("autoscaling", None)
        elif name in ("min_replicas", "max_replicas"):
            data.pop("replicas", None)
        _set(data, path, value)
    if override.resource_scale is not None:
        if _spec_model_at(model, ("resources", "cpu")) is None:
            missing("resource_scale", ("resources",))
        else:
            resources = _child(data, "resources") if data.get("resources") is not None else data.setdefault("resources", _default_of(model, "resources"))
            for key in _SCALED:
                if resources.get(key) is not None:
                    resources[key] = _scale(resources[key], override.resource_scale)
    for name in override.spec:
        if name not in model.model_fields:
            missing(f"spec.{name}", (name,))
    if override.spec:
        _deep_merge(data, {k: v for k, v in override.spec.items() if k in model.model_fields})
    return data, problems
