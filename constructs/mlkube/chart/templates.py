"""Helm templates: the objects synth writes, with the fields a parameter renders turned into template expressions.

Each object is dumped by synth's own emitter (render.to_yaml), so a chart rendered with its default
values gives the same objects as dist/. A bound field is first replaced by a plain-word sentinel,
then the sentinel by its expression; any ``{{``/``}}`` already in the objects (Prometheus alert
annotations use them) is escaped so Helm writes it back literally.
"""

from __future__ import annotations

import copy
from typing import Any

from ..kube.render import to_yaml
from .parameters import Parameter

__all__ = ["chart_templates", "HELPERS", "expression"]

#: ``repository[:tag][@digest]``; values.image_reference is the same in Python.
HELPERS = """{{/* The image reference of an image parameter: repository[:tag][@digest]. */}}
{{- define "mlkube.core.image" -}}
{{- .repository -}}{{- if .tag -}}:{{ .tag }}{{- end -}}{{- if .digest -}}@{{ .digest }}{{- end -}}
{{- end -}}
"""

_OPEN, _CLOSE = "\x00open\x00", "\x00close\x00"


def _accessor(parameter: Parameter) -> str:
    keys = " ".join(f'"{part}"' for part in ("workloads", parameter.workload, *parameter.path))
    return f"(index .Values {keys})"


def expression(parameter: Parameter, form: str) -> str:
    """The template expression that writes ``parameter`` as the object field did (JSON is YAML: types are kept)."""
    value = _accessor(parameter)
    if parameter.type == "image":
        return f'{{{{ include "mlkube.core.image" {value} | toJson }}}}'
    if parameter.type == "integer":
        # Values from a YAML file are float64 and from --set int64: int64 writes both as a plain integer.
        return f"{{{{ {value} | int64 | toString | quote }}}}" if form == "text" else f"{{{{ {value} | int64 }}}}"
    return f"{{{{ {value} | toString | toJson }}}}"


def _sentinel(index: int) -> str:
    return f"mlkubechartparameter{index}x"


def _set(obj: Any, path: tuple[str | int, ...], value: Any) -> None:
    for part in path[:-1]:
        obj = obj[part]
    obj[path[-1]] = value


def _escape(text: str) -> str:
    text = text.replace("{{", _OPEN).replace("}}", _CLOSE)
    return text.replace(_OPEN, '{{ "{{" }}').replace(_CLOSE, '{{ "}}" }}')


def range_checks(parameters: list[Parameter]) -> str:
    """templates/checks.yaml: rules between two values that a JSON Schema cannot state (it renders nothing when they hold)."""
    bounds = {(p.workload, p.path[-1]): p for p in parameters if not p.fixed and p.path[:1] == ("autoscaling",)}
    lines = []
    for (workload, name), lower in sorted(bounds.items()):
        upper = bounds.get((workload, "maxReplicas"))
        if name == "minReplicas" and upper is not None:
            lines.append(f"{{{{- if gt ({_accessor(lower)} | int64) ({_accessor(upper)} | int64) }}}}"
                         f"{{{{- fail \"workloads.{workload}.autoscaling: minReplicas must be <= maxReplicas\" }}}}{{{{- end }}}}")
    return "\n".join(lines) + ("\n" if lines else "")


def chart_templates(objects: dict[str, dict[str, Any]], parameters: list[Parameter]) -> dict[str, str]:
    """templates/<file> -> text, one per object (the file names of dist/)."""
    expressions: dict[str, str] = {}
    edited = {file: copy.deepcopy(obj) for file, obj in objects.items()}
    for parameter in parameters:
        for binding in parameter.bindings:
            sentinel = _sentinel(len(expressions))
            expressions[sentinel] = expression(parameter, binding.form)
            _set(edited[binding.file], binding.path, sentinel)
    templates: dict[str, str] = {}
    for file, obj in sorted(edited.items()):
        text = _escape(to_yaml(obj))
        for sentinel, template in expressions.items():
            text = text.replace(sentinel, template)
        templates[f"templates/{file}"] = text
    checks = range_checks(parameters)
    if checks:
        templates["templates/checks.yaml"] = checks
    return templates
