"""Which spec fields become chart parameters, and where each one lands in the objects, found by rebuilding.

A chart parameter is only safe when changing it changes nothing but the fields that render it. That
is not read off the constructs' code (which would drift): for each candidate field the app is rebuilt
with two other values (``build.build_app`` with a spec patch), and every object field that changed must
be the parameter itself (the same number, or its text) in the default build and in both probes. Then
those fields become template expressions. A candidate that changes anything else (a new argument, a
derived number, a checksum, a different set of objects), that has no effect, or whose probe values the
spec refuses, is fixed at export: ``values.schema.json`` allows only its exported value and the chart's
README lists it with the reason.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.image import is_digest_reference
from ..core.spec import yaml_key
from ..errors import MlkubeError
from .build import AppBuild, EnvironmentBuilder
from .values import image_parts, image_reference, workload_values

__all__ = ["Parameter", "Binding", "find_parameters", "PROBE_TAGS", "PROBE_DIGESTS"]

Leaf = tuple[str | int, ...]

#: Image references that exist nowhere: only used to see which fields an image change touches.
PROBE_TAGS = ("registry.invalid/mlkube-chart-probe:probe-1", "registry.invalid/mlkube-chart-probe:probe-2")
PROBE_DIGESTS = ("registry.invalid/mlkube-chart-probe@sha256:" + "a" * 64, "registry.invalid/mlkube-chart-probe@sha256:" + "b" * 64)


@dataclass(frozen=True)
class Binding:
    """One object field rendered from a parameter: ``form`` 'value' (as is) or 'text' (a number written as a string)."""

    file: str
    path: Leaf
    form: str


@dataclass
class Parameter:
    workload: str
    path: tuple[str, ...]          # under workloads.<id> in values.yaml
    type: str                      # integer | quantity | string | image
    default: Any
    bindings: list[Binding] = field(default_factory=list)
    fixed: str = ""                # why it is fixed at export ("" when it is a parameter)
    spec_by_digest: bool = False   # images: the spec names the image by digest (not a tag the lock pins)

    @property
    def values_path(self) -> str:
        return ".".join(("workloads", self.workload, *self.path))


def _leaves(value: Any, prefix: Leaf = ()) -> dict[Leaf, Any]:
    if isinstance(value, dict):
        return {leaf: item for key, child in value.items() for leaf, item in _leaves(child, (*prefix, key)).items()} or {prefix: {}}
    if isinstance(value, list):
        return {leaf: item for index, child in enumerate(value) for leaf, item in _leaves(child, (*prefix, index)).items()} or {prefix: []}
    return {prefix: value}


def _get(data: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _candidates(workload: str, values: dict[str, Any], image_default: str | None) -> list[Parameter]:
    """The fields the issue names as the values that matter, where this workload has them."""
    found: list[Parameter] = []

    def add(path: tuple[str, ...], kind: str) -> None:
        value = _get(values, path)
        if value is not None:
            found.append(Parameter(workload, path, kind, value))

    if values.get("image") is not None and image_default is not None:
        by_digest = isinstance(values["image"], str) and is_digest_reference(values["image"])
        found.append(Parameter(workload, ("image",), "image", image_parts(image_default), spec_by_digest=by_digest))
    add(("replicas",), "integer")
    add(("autoscaling", yaml_key("min_replicas")), "integer")
    add(("autoscaling", yaml_key("max_replicas")), "integer")
    add(("resources", "cpu"), "quantity")
    add(("resources", "memory"), "quantity")
    add(("resources", "gpu", "count"), "integer")
    model = values.get("model")
    add(("model", "uri") if isinstance(model, dict) else ("model",), "string")
    for mapping in ("env", "config"):  # environment overrides: as variables, and as the ConfigMap the pods read
        for name in sorted(values.get(mapping) or {}):
            add((mapping, name), "string")
    return found


def _probe_values(parameter: Parameter) -> list[Any]:
    """Other values to rebuild with (the first two the spec accepts are used)."""
    default = parameter.default
    if parameter.type == "integer":
        return [value for value in (default + 1, default - 1, default + 2) if value >= 1]
    if parameter.type == "quantity":
        # The same unit, one and two more: a probe far from the default could break unrelated rules (shm within memory).
        match = re.fullmatch(r"([0-9]+)([a-zA-Z]*)", str(default))
        return [f"{int(match[1]) + step}{match[2]}" for step in (1, 2)] if match else []
    if parameter.type == "image":
        # Probes of the form the spec wrote (the lock pins a tag after the pod was built, so the pull policy follows the spec).
        return list(PROBE_DIGESTS if parameter.spec_by_digest else PROBE_TAGS)
    return [f"{default}-probe", f"{default}-probe-2"]


def _rendered(parameter: Parameter, value: Any, form: str) -> Any:
    """What the template writes for ``value`` (the Go side is templates.expression)."""
    if parameter.type == "image":
        return image_reference(value) if isinstance(value, dict) else value
    if parameter.type == "integer":
        return value if form == "value" else str(value)
    return str(value)


def _forms(parameter: Parameter) -> tuple[str, ...]:
    return ("value", "text") if parameter.type == "integer" else ("value",)


def _patched(values: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """The top-level field of ``path`` with ``value`` set at ``path`` (a spec patch for build_app)."""
    top = copy.deepcopy(values.get(path[0]))
    if len(path) == 1:
        return {path[0]: value}
    node: Any = top
    for part in path[1:-1]:
        node = node[part]
    node[path[-1]] = value
    return {path[0]: top}


def _bind(parameter: Parameter, default: AppBuild, probes: list[tuple[Any, AppBuild]]) -> str:
    """Fill ``parameter.bindings``; return why it cannot be a parameter ("" when it can)."""
    base = {file: _leaves(obj) for file, obj in default.objects.items()}
    probed: list[tuple[Any, dict[str, dict[Leaf, Any]]]] = []
    changed: set[tuple[str, Leaf]] = set()
    for value, build in probes:
        if set(build.objects) != set(default.objects):
            return "changing it adds or removes objects"
        probed.append((value, {file: _leaves(obj) for file, obj in build.objects.items()}))
        for file, leaves in probed[-1][1].items():
            if set(leaves) != set(base[file]):
                return f"changing it changes the structure of {file} (fields added or removed)"
            changed |= {(file, leaf) for leaf, item in leaves.items() if item != base[file][leaf] or type(item) is not type(base[file][leaf])}
    if not changed:
        return "it has no effect on the objects in this environment"
    for file, leaf in sorted(changed, key=str):
        form = next((form for form in _forms(parameter)
                     if base[file][leaf] == _rendered(parameter, parameter.default, form)
                     and all(leaves[file][leaf] == _rendered(parameter, value, form) for value, leaves in probed)), None)
        if form is None:
            where = ".".join(str(part) for part in leaf)
            return f"it also changes {file} {where} (a value derived from it, not the value itself)"
        parameter.bindings.append(Binding(file, leaf, form))
    return ""


def _image_default(build: Callable[[dict[str, Any]], AppBuild], default: AppBuild) -> str | None:
    """The reference the workload's image is written as (after the lock pinned it): the field an image probe changes."""
    for reference in (PROBE_TAGS[0], PROBE_DIGESTS[0]):
        try:
            probe = build({"image": reference})
        except MlkubeError:
            continue  # e.g. a production environment refuses an image by tag
        found: set[Any] = set()
        for file, obj in probe.objects.items():
            base = _leaves(default.objects.get(file, {}))
            found |= {base.get(leaf) for leaf, item in _leaves(obj).items() if item == reference}
        return found.pop() if len(found) == 1 and isinstance(next(iter(found)), str) else None
    return None


def find_parameters(builder: EnvironmentBuilder, app: str) -> tuple[AppBuild, dict[str, dict[str, Any]], list[Parameter]]:
    """The default build, the values of each workload, and every candidate parameter (bound or fixed)."""
    default = builder.default(app)
    values = {workload: workload_values(kind, spec) for workload, (kind, spec) in default.specs.items()}
    parameters: list[Parameter] = []
    for workload, workload_vals in values.items():
        def build(patch: dict[str, Any], workload: str = workload) -> AppBuild:
            return builder.build(app, {workload: patch}, allow_unpinned="image" in patch)

        candidates = _candidates(workload, workload_vals, _image_default(build, default) if "image" in workload_vals else None)
        for parameter in candidates:
            probes: list[tuple[Any, AppBuild]] = []
            for value in _probe_values(parameter):
                if len(probes) == 2:
                    break
                try:
                    probes.append((value, build(_patched(workload_vals, parameter.path, value))))
                except MlkubeError:
                    continue
            if len(probes) < 2:
                parameter.fixed = "the spec refuses other values here, so the chart cannot be checked for them"
            else:
                parameter.fixed = _bind(parameter, default, probes)
                if parameter.fixed:
                    parameter.bindings.clear()
            parameters.append(parameter)
    _drop_shared_fields(parameters)
    return default, values, parameters


def _drop_shared_fields(parameters: list[Parameter]) -> None:
    """A field two parameters both change cannot follow either: both are fixed."""
    owners: dict[tuple[str, Leaf], list[Parameter]] = {}
    for parameter in parameters:
        for binding in parameter.bindings:
            owners.setdefault((binding.file, binding.path), []).append(parameter)
    for (file, leaf), sharing in owners.items():
        if len(sharing) > 1:
            for parameter in sharing:
                others = ", ".join(other.values_path for other in sharing if other is not parameter)
                parameter.fixed = f"{file} {'.'.join(map(str, leaf))} also follows {others}"
                parameter.bindings.clear()
