"""``mlkube chart``: a Helm chart (apiVersion v2) of one app in one environment.

Design, and why:
- values.yaml holds the app's workload specs in YAML blueprint form (what the issue asks, and what a
  team already reads in apps/<team>/mlkube.yaml), keyed by construct id under ``workloads``. The
  values of the chosen environment are the effective ones (its overrides applied), so the defaults
  render exactly dist/<env>/<app>/.
- Templates are the objects synth writes, not a re-implementation of the constructs in Go templates:
  a second implementation would drift from the Python one. Only the fields the issue names as the
  values that matter (image repository/tag/digest, replicas and the autoscaling range, cpu, memory
  and GPU count, the model URI, env values) become expressions, and only after a rebuild with other
  values proved that they change nothing else (parameters.py). The rest is fixed at export, refused
  by values.schema.json when changed, and listed in the chart's README with the reason.
- The version is derived from the chart's content (``0.1.0-<env>.c<hash>``) unless given, so the
  same input exports the same bytes and a changed chart gets a new version; appVersion is the tag
  (content tag) or digest of the first image parameter.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..core.platform import Platform
from ..errors import MlkubeError
from .build import EnvironmentBuilder
from .fixed import fixed_images, refuse_unpinned_fixed_images
from .parameters import Parameter, find_parameters
from .readme import chart_readme
from .schema import schema_bytes, values_schema
from .templates import HELPERS, chart_templates

__all__ = ["ChartExport", "export_chart", "export_charts", "default_environment", "SEMVER"]

#: SemVer 2 (https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string), which Helm requires of a chart version.
SEMVER = (r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
          r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$")


@dataclass
class ChartExport:
    name: str
    version: str
    environment: str
    files: dict[str, bytes]
    parameters: list[Parameter]
    #: file name under templates/ -> the object synth writes (what the chart renders with default values).
    objects: dict[str, dict[str, Any]]


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1 << 16)


def default_environment(platform: Platform, app: str) -> str:
    if app not in platform.builders:
        raise MlkubeError.single(f"the platform has no app '{app}'", hint=f"apps: {', '.join(sorted(platform.builders))}")
    allowed = platform.builders[app][1]
    return next(env.name for env in platform.environments if allowed is None or env.name in allowed)


def _chart_values(values: dict[str, dict[str, Any]], parameters: list[Parameter]) -> dict[str, Any]:
    workloads = {workload: dict(data) for workload, data in values.items()}
    for parameter in parameters:
        if parameter.type == "image" and not parameter.fixed:
            workloads[parameter.workload]["image"] = dict(parameter.default)
    return {"workloads": workloads}


def _app_version(parameters: list[Parameter], dist: Path, environment: str) -> str:
    """The first image's tag; for an image the lock pinned (its tag dropped), the locked tag (a content tag), else its digest."""
    from ..pinning.lock import load_lock

    for parameter in parameters:
        if parameter.type == "image":
            image = parameter.default
            if image.get("tag"):
                return str(image["tag"])
            locked = [entry.tag for entry in load_lock(dist).environments.get(environment, {}).values()
                      if entry.repository == image["repository"] and entry.digest == image.get("digest")]
            return locked[0] if locked else str(image.get("digest"))
    return "none"


def export_chart(platform: Platform, app: str, environment: str | None, dist: Path, version: str | None = None,
                 builder: EnvironmentBuilder | None = None) -> ChartExport:
    """Every file of the chart (relative path -> bytes); nothing is written. ``builder``: the environment's builds,
    shared when several apps of it are exported (its default build and schema results are reused)."""
    import re

    if version is not None and not re.match(SEMVER, version):
        raise MlkubeError.single(f"chart version {version!r} is not SemVer 2", where="--version", hint="e.g. 1.4.0 or 1.4.0-rc.1")
    environment = environment or default_environment(platform, app)
    if builder is None or builder.environment != environment:
        builder = EnvironmentBuilder(platform, environment, dist)
    default, values, parameters = find_parameters(builder, app)
    images = fixed_images(default.objects, parameters)
    refuse_unpinned_fixed_images(app, environment, images)
    chosen = next(env for env in platform.environments if env.name == environment)
    # As pinning/models.require_pinned_models: production and require_pinned_images environments serve pinned models only.
    pinned_models = bool(chosen.production or chosen.require_pinned_images)
    chart_values = _chart_values(values, parameters)
    header = (f"# Values of the chart {app} (environment {environment}), exported by mlkube chart: each workload's spec in\n"
              "# YAML blueprint form. values.schema.json lists which fields may change; see README.md.\n")
    body: dict[str, bytes] = {
        "values.yaml": (header + _dump(chart_values)).encode(),
        "values.schema.json": schema_bytes(values_schema(chart_values["workloads"], parameters, pinned_models)),
        "templates/_helpers.tpl": HELPERS.encode(),
        **{path: text.encode() for path, text in chart_templates(default.objects, parameters).items()},
    }
    digest = hashlib.sha256(b"".join(path.encode() + b"\0" + data + b"\0" for path, data in sorted(body.items()))).hexdigest()
    version = version or f"0.1.0-{environment}.c{digest[:12]}"
    chart = {"apiVersion": "v2", "name": app, "description": f"The app {app} of the mlkube platform, environment {environment}.",
             "type": "application", "version": version, "appVersion": _app_version(parameters, dist, environment),
             "annotations": {"mlkube.dev/environment": environment}}
    # .helmignore: mlkube's ownership marker of the folder (mlkube.output) stays out of the packaged chart.
    files = {"Chart.yaml": _dump(chart).encode(), ".helmignore": b".mlkube-output\n", **body,
             "README.md": chart_readme(app, environment, version, chart_values["workloads"], parameters, list(default.objects),
                                       images, pinned_models).encode()}
    return ChartExport(app, version, environment, dict(sorted(files.items())), parameters, default.objects)


def export_charts(platform: Platform, apps: list[str] | None, environments: list[str] | None, dist: Path,
                  version: str | None = None) -> list[ChartExport]:
    """Charts of several apps and environments (``apps`` None: every app of each environment; ``environments`` None:
    each app's first, or with every app, every environment), in one build of each environment (EnvironmentBuilder)."""
    known = [env.name for env in platform.environments]
    if apps is None:
        wanted = [(environment, app) for environment in (environments or known)
                  for app in EnvironmentBuilder(platform, environment, dist).apps()]
    else:
        chosen: list[str | None] = list(environments) if environments else [None]
        wanted = [(environment or default_environment(platform, app), app) for app in apps for environment in chosen]
    builders: dict[str, EnvironmentBuilder] = {}
    exports = []
    for environment, app in wanted:
        builder = builders.get(environment) or builders.setdefault(environment, EnvironmentBuilder(platform, environment, dist))
        exports.append(export_chart(platform, app, environment, dist, version, builder))
    return exports
