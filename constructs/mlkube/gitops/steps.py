"""The GitOps steps of the synth pipeline (registered in synth.py, in this order)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.pipeline import independent_check
from ..errors import Problem
from ..kube.manifest import Manifest
from .argocd import argocd_manifests
from .platform_objects import platform_manifests
from .sync_waves import annotate
from .tenancy_checks import tenancy_of

if TYPE_CHECKING:
    from ..core.synth import SynthContext

__all__ = ["add_platform_objects", "add_sync_waves", "add_argocd_objects", "check_overrides_used", "write_workflows"]



def _apps_by_environment(ctx: SynthContext) -> dict[str, list[str]]:
    apps: dict[str, list[str]] = {env.name: [] for env in ctx.platform.environments}
    for app in ctx.platform.apps:
        apps[app.environment.name].append(app.app_name)
    return apps


def add_platform_objects(ctx: SynthContext) -> None:
    if ctx.platform.gitops is None:
        return
    apps = _apps_by_environment(ctx)
    for environment in ctx.platform.environments:
        ctx.manifests += platform_manifests(environment, apps[environment.name])


def add_sync_waves(ctx: SynthContext) -> None:
    if ctx.platform.gitops is None:
        return
    for manifest in ctx.manifests:
        annotate(manifest.obj)


def add_argocd_objects(ctx: SynthContext) -> None:
    gitops = ctx.platform.gitops
    if gitops is None:
        return
    if gitops.repo_url is None:
        ctx.warnings.append("no gitops.repo_url on the Platform: no Argo CD objects were written")
        return
    added: list[Manifest] = []
    for environment in ctx.platform.environments:
        added += argocd_manifests(environment, gitops, [m for m in ctx.manifests if m.environment == environment.name],
                                  tenancy_of(ctx.platform)[0])
    ctx.manifests += added


@independent_check
def check_overrides_used(ctx: SynthContext) -> None:
    """An override key that names no construct is a typo: report it rather than ignore it."""
    for environment in ctx.platform.environments:
        for key in sorted(environment.overrides):
            if f"{environment.name}/{key}" not in ctx.platform.used_overrides:
                known = sorted(m.where.partition("/")[2] for m in ctx.manifests if m.environment == environment.name and not m.app.startswith("_"))
                ctx.problems.append(Problem(f"environment {environment.name}", f"overrides[{key}]", f"no construct '{key}' in environment "
                                            f"{environment.name!r}", f"keys are '<app>/<construct id>', e.g. {', '.join(sorted(set(known))[:5]) or 'none'}"))


def write_workflows(ctx: SynthContext) -> None:
    if ctx.platform.gitops is not None:
        # Imported here: the workflow writer and ruamel.yaml cost a one-app synth about 25 ms of start-up (issue 22).
        from .workflows import WORKFLOWS_FOLDER, render_workflows, repo_folders

        for name, data in render_workflows(ctx.platform.gitops, repo_folders(ctx.platform.crd_schemas)).items():
            ctx.files[f"{WORKFLOWS_FOLDER}/{name}"] = data
