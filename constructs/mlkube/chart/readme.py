"""The chart's README.md: what it deploys, the values table (name, type, default, description), and what is fixed."""

from __future__ import annotations

import json
import typing
from typing import Any

from pydantic import BaseModel

from ..blueprint import workload_kinds
from ..core.spec import field_named, in_yaml_casing
from .parameters import Parameter

__all__ = ["chart_readme", "description_of"]

_TYPES = {"integer": "integer", "quantity": "quantity (string or number)", "string": "string"}


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def description_of(kind: str, path: tuple[str, ...]) -> str:
    """The spec field's own description (``env.NAME``: the variable)."""
    model: Any = workload_kinds()[kind].spec
    if path[0] == "env" and len(path) == 2:
        return f"Environment variable {path[1]} of the main container."
    description = ""
    for part in path:
        field = field_named(model, part) if model is not None else None
        if field is None:
            break
        description = in_yaml_casing(field.description or "")
        model = _model_in(field.annotation)
    return description


def _cell(value: Any) -> str:
    return "`" + json.dumps(value, ensure_ascii=False).replace("|", "\\|") + "`"


def _model_row(parameter: Parameter, pinned_models: bool) -> str:
    from .fixed import model_rule

    return model_rule(parameter, pinned_models) if parameter.path[0] == "model" else ""


def _volume_models(values: dict[str, dict[str, Any]]) -> list[str]:
    return [f"- `workloads.{workload}.model` (`pvc://{data['model'].get('claim')}/{data['model'].get('path', '')}`): a model read from a "
            "volume is fixed: its claim decides the pod's volumes, and what the claim holds is not pinned by the chart"
            for workload, data in values.items() if isinstance(data.get("model"), dict) and data["model"].get("source") == "pvc"]


def chart_readme(app: str, environment: str, version: str, values: dict[str, dict[str, Any]], parameters: list[Parameter],
                 files: list[str], images: list[tuple[str, str, str, str]] = (), pinned_models: bool = False) -> str:  # type: ignore[assignment]
    kinds = {workload: data["kind"] for workload, data in values.items()}
    lines = [f"# {app}", "",
             f"The objects `mlkube synth` writes for the app **{app}** in the environment **{environment}** (`dist/{environment}/{app}/`), "
             f"as a Helm chart (version {version}), exported by `mlkube chart`. With its default values, `helm template` gives exactly "
             "those objects.", "",
             "`values.yaml` holds each workload's spec in YAML blueprint form; `values.schema.json` (generated from the same specs) "
             "makes Helm refuse a wrong type, an unknown key, or a change to a field the chart cannot render.", "",
             "## Values", "", "| name | type | default | description |", "|---|---|---|---|"]
    for parameter in parameters:
        if not parameter.fixed and parameter.type == "image":
            pinned = " Required: exported pinned." if parameter.default.get("digest") else " Empty: by tag."
            for part, text in (("repository", "Image repository."), ("tag", "Image tag; empty: none."), ("digest", "Image digest (sha256:...)." + pinned)):
                lines.append(f"| `{parameter.values_path}.{part}` | string | {_cell(parameter.default[part])} | {text} |")
        elif not parameter.fixed:
            lines.append(f"| `{parameter.values_path}` | {_TYPES[parameter.type]} | {_cell(parameter.default)} | "
                         f"{description_of(kinds[parameter.workload], parameter.path).replace('|', '/')}"
                         f"{_model_row(parameter, pinned_models)} |")
    lines += ["", "Each parameter was checked at export: mlkube rebuilt the app with two other values and every field that changed "
              "was the value itself, so the templates render what synth would.", "",
              "## Fixed at export", "",
              "Every other field of `values.yaml` is fixed: the schema allows only its exported value. Candidates that could not be "
              "parameters, and why:", ""]
    fixed = [p for p in parameters if p.fixed]
    lines += [f"- `{p.values_path}` ({_cell(p.default)}): {p.fixed}" for p in fixed] + _volume_models(values) or ["- none"]
    lines += ["", "### Images fixed at export", "",
              "Images that are not parameters (sidecars, init containers, the model downloader) are written as exported, pinned by "
              "digest (an image by tag is refused at export): the chart's own digest then names every image that runs.", ""]
    lines += [f"- `templates/{file}` `{field}` (container `{container}`): `{image}`" for file, field, container, image in images] or ["- none"]
    lines += ["", "Rules between two values, which a JSON Schema cannot state, are checked by `templates/checks.yaml` "
              "(`minReplicas` <= `maxReplicas`); other rules of the specs are not: check a rendered chart with "
              "`mlkube validate --strict --policy`.", "",
              "## Objects", ""] + [f"- `templates/{file}`" for file in sorted(files)] + [""]
    return "\n".join(lines)
