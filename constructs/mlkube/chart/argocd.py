"""``GitOps(source="chart")``: Argo CD deploys each app from the Helm chart ``mlkube chart --push`` pushed, by digest.

A TRANSFORM after the Argo CD objects are made: each app's Application (or the ApplicationSet's
elements) gets an OCI source instead of the config-repo folder. Argo CD 3.1 added OCI sources:
``repoURL: oci://<registry>/<repository>``, ``targetRevision`` a tag *or digest*, and ``path: .`` for a
Helm chart artifact (https://argo-cd.readthedocs.io/en/release-3.1/user-guide/oci/, argoproj/argo-cd
docs/user-guide/oci.md). The digest comes from the lock, like an image's: what was pushed and
recorded is what runs, and an app with no locked chart fails synth with the command that fixes it.
The chart's version is kept as an annotation for people.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.operators import operator_version
from ..errors import Problem
from ..gitops.argocd import ARGOCD_FOLDER
from ..pinning.lock import ChartLockEntry, load_lock

if TYPE_CHECKING:
    from ..core.synth import SynthContext

__all__ = ["use_chart_sources", "chart_source", "MINIMUM_ARGOCD"]

#: OCI sources (and so a Helm chart pinned by digest) need Argo CD 3.1 or later.
MINIMUM_ARGOCD = (3, 1)
VERSION_ANNOTATION = "mlkube.dev/chart-version"


def chart_source(entry: ChartLockEntry) -> dict[str, str]:
    return {"path": ".", "repoURL": f"oci://{entry.repository}", "targetRevision": entry.digest}


def _missing(environment: str, app: str) -> Problem:
    return Problem(f"{environment}/{app}", "gitops.source", f"GitOps(source='chart') but the lock has no chart for '{app}' in '{environment}'",
                   f"run `mlkube chart {app} --env {environment} --out charts/{environment}/{app} --push <registry>/charts`, then synth again")


def _application(obj: dict[str, Any], entry: ChartLockEntry) -> None:
    obj["spec"]["source"] = chart_source(entry)
    obj["metadata"].setdefault("annotations", {})[VERSION_ANNOTATION] = entry.version


def _application_set(obj: dict[str, Any], charts: dict[str, ChartLockEntry], environment: str, problems: list[Problem]) -> None:
    """Each folder element carries its chart; the template reads them (Argo CD fasttemplate ``{{name}}`` parameters)."""
    elements = obj["spec"]["generators"][0]["matrix"]["generators"][0]["list"]["elements"]
    for element in elements:
        entry = charts.get(element["folder"])
        if entry is None:
            problems.append(_missing(environment, element["folder"]))
            continue
        element.update({"chartRepoURL": f"oci://{entry.repository}", "chartDigest": entry.digest, "chartVersion": entry.version})
    template = obj["spec"]["template"]
    template["spec"]["source"] = {"path": ".", "repoURL": "{{chartRepoURL}}", "targetRevision": "{{chartDigest}}"}
    template["metadata"].setdefault("annotations", {})[VERSION_ANNOTATION] = "{{chartVersion}}"


def use_chart_sources(ctx: SynthContext) -> None:
    gitops = ctx.platform.gitops
    if gitops is None or getattr(gitops, "source", "manifests") != "chart" or gitops.repo_url is None:
        return
    from ..core.promotion_chain import promotion_chain

    lock = load_lock(ctx.out_dir)
    chain = promotion_chain(ctx.platform.environments, gitops)[0]
    for environment in ctx.platform.environments:
        declared = operator_version(environment, "argocd")
        if declared is not None and declared < MINIMUM_ARGOCD:
            ctx.problems.append(Problem(f"environment {environment.name}", "gitops.source",
                                        f"Argo CD {declared[0]}.{declared[1]} cannot deploy a chart by digest (OCI sources came in 3.1)",
                                        "declare operators={'argocd': '3.1'} or later, or use GitOps(source='manifests')"))
            continue
        charts = lock.charts.get(environment.name, {})
        source = chain.sources.get(environment.name)
        if not charts and source is not None and environment.name not in lock.promotions:
            # Never promoted: its charts can only be pushed after `mlkube promote` (pinning/chart_pins.py), and promote
            # needs a synthesized tree. Like its images (written by tag with a warning), it deploys its folder meanwhile.
            ctx.warnings.append(f"{environment.name} was never promoted, so it has no charts yet: its Applications deploy the "
                                f"config-repo folder until `mlkube promote {source} {environment.name}` "
                                f"and `mlkube chart --all --env {environment.name} --push REGISTRY`")
            continue
        argocd = [m for m in ctx.manifests if m.environment == environment.name and m.app == ARGOCD_FOLDER]
        for manifest in argocd:
            if manifest.kind == "Application":
                app = manifest.name.removeprefix(f"{environment.name}-")
                entry = charts.get(app)
                if entry is None:
                    ctx.problems.append(_missing(environment.name, app))
                else:
                    _application(manifest.obj, entry)
            elif manifest.kind == "ApplicationSet":
                _application_set(manifest.obj, charts, environment.name, ctx.problems)
            elif manifest.kind == "AppProject":
                repos = manifest.obj["spec"]["sourceRepos"]
                repos += sorted({f"oci://{entry.repository}" for entry in charts.values()} - set(repos))
