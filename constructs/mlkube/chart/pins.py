"""Chart pins under the promotion rules of images.

A chart exported by ``mlkube chart`` renders its environment's objects, images included. The images of a
gated environment (production, or ``promote_from``) change only through ``mlkube promote``, so its charts
follow the same rule, with one difference: the chart of the source environment is not copied, because it
renders the source's objects (its replicas, hostnames, clusters...). Instead:

- a gated environment's chart may be recorded only while its lock holds exactly what its last promotion
  copied (the promotion fingerprint, pinning/lock.py), and the entry records that fingerprint;
- ``mlkube promote`` drops the target's chart pins of an earlier promotion: they render the images it
  replaces. The promotion workflow then exports and pushes the target's charts (``mlkube chart --all --env
  TARGET --push``) before synth, so Argo CD deploys the promoted images by chart digest;
- ``mlkube check --pinned`` finds every chart source of the Argo CD objects: it must name the chart by the
  digest the lock records (a tag or version can be moved to other bytes, a digest cannot), and in a gated
  environment the locked chart must belong to the current promotion.

The rules on the lock are in mlkube.pinning.chart_pins (promote and the chart push use them); this module
checks the Argo CD objects of a synthesized tree against them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..core.image import DIGEST
from ..errors import MlkubeError, Problem
from ..gitops.argocd import ARGOCD_FOLDER
from ..pinning.chart_pins import current_promotion
from ..pinning.lock import Lock

__all__ = ["check_chart_pins"]


def _line_of(text: str, value: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if value and value in line:
            return number
    return 1


def _sources(obj: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """(field path, source, app) of every OCI source of an Application or ApplicationSet."""
    spec = obj.get("spec") or {}
    found: list[tuple[str, dict[str, Any], str]] = []
    if obj.get("kind") == "Application":
        name = str((obj.get("metadata") or {}).get("name", ""))
        sources = [("spec.source", spec.get("source"))] + [(f"spec.sources[{i}]", s) for i, s in enumerate(spec.get("sources") or [])]
        found += [(path, source, name) for path, source in sources if isinstance(source, dict)]
    elif obj.get("kind") == "ApplicationSet":
        for generator in spec.get("generators") or []:
            for inner in ((generator.get("matrix") or {}).get("generators") or [generator]):
                for index, element in enumerate(((inner or {}).get("list") or {}).get("elements") or []):
                    if isinstance(element, dict) and "chartRepoURL" in element:
                        found.append((f"spec.generators...list.elements[{index}]", {"repoURL": element["chartRepoURL"],
                                      "targetRevision": element.get("chartDigest")}, str(element.get("folder", ""))))
        template = ((spec.get("template") or {}).get("spec") or {}).get("source") or {}
        if template.get("repoURL") == "{{chartRepoURL}}" and template.get("targetRevision") != "{{chartDigest}}":
            found.append(("spec.template.spec.source", {"repoURL": "oci://(each element)", "targetRevision": template.get("targetRevision")}, ""))
    return [item for item in found if str(item[1].get("repoURL", "")).startswith("oci://")]


def _source_problems(lock: Lock, environment: str, where: str, path: str, source: dict[str, Any], app: str) -> list[Problem]:
    repository = str(source["repoURL"]).removeprefix("oci://")
    revision = str(source.get("targetRevision") or "")
    charts = lock.charts.get(environment, {})
    entry = charts.get(app.removeprefix(f"{environment}-")) or next((e for e in charts.values() if e.repository == repository), None)
    field = f"{path}.targetRevision"
    if not DIGEST.match(revision):
        locked = f" (the lock records {entry.digest})" if entry is not None else ""
        return [Problem(where, field, f"chart oci://{repository} is referenced by tag or version {revision!r}, not by digest{locked}: "
                        "a tag can be pushed again with other bytes", "deploy it with GitOps(source='chart') and run mlkube synth")]
    if entry is None or entry.repository != repository:
        hint = (f"mlkube promote {lock.sources[environment]} {environment}, then push its charts" if environment in lock.sources
                else f"mlkube chart {app.removeprefix(f'{environment}-') or 'APP'} --env {environment} --out DIR --push REGISTRY")
        return [Problem(where, field, f"chart oci://{repository} is not in the lock of {environment}", hint)]
    if entry.digest != revision:
        return [Problem(where, field, f"chart oci://{repository} digest {revision} is not the one locked in {environment} ({entry.digest})",
                        "run mlkube synth to apply the lock")]
    if environment in lock.sources and (not entry.promotion or entry.promotion != current_promotion(lock, environment)):
        return [Problem(where, field, f"chart oci://{repository}@{revision} was not recorded for {environment}'s current promotion: "
                        "it may render images that did not come through `mlkube promote`",
                        f"mlkube promote {lock.sources[environment]} {environment}, then export and push its charts")]
    return []


def check_chart_pins(dist: Path, lock: Lock, environments: frozenset[str] | None) -> tuple[list[Problem], int]:
    """(problems, number of chart references checked) of the Argo CD objects of ``dist/<env>/_argocd/``."""
    problems: list[Problem] = []
    checked = 0
    for folder in sorted(dist.glob(f"*/{ARGOCD_FOLDER}")):
        environment = folder.parent.name
        if environments is not None and environment not in environments:
            continue
        for path in sorted(folder.glob("*.yaml")):
            try:
                text = path.read_text(encoding="utf-8")
                objects = [obj for obj in yaml.safe_load_all(text) if isinstance(obj, dict)]
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
                raise MlkubeError.single(f"cannot read {path}: {error}", where=str(path)) from None
            for obj in objects:
                for field, source, app in _sources(obj):
                    checked += 1
                    where = f"{path}:{_line_of(text, str(source.get('targetRevision') or ''))}"
                    problems += _source_problems(lock, environment, where, field, source, app)
    return problems, checked
