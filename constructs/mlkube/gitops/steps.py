"""The GitOps steps of the synth pipeline (registered in synth.py, in this order)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import Problem
from ..manifest import Manifest
from .argocd import argocd_manifests
from .lock import LOCK_FILE, read_lock, render_lock
from .pinned import apply_locked_digests, production_problems, requires_pinned_images
from .platform_objects import platform_manifests
from .sync_waves import annotate
from .workflows import WORKFLOWS_FOLDER, render_workflows

if TYPE_CHECKING:
    from ..synth import SynthContext

__all__ = ["add_platform_objects", "apply_lock", "add_sync_waves", "add_argocd_objects", "check_pinned_production",
           "check_overrides_used", "write_lock", "write_workflows", "lock_path"]

#: Folder of the lock when synth writes elsewhere. Default: ./dist when ``mlkube synth --out`` redirected
#: the output (the committed lock stays the source of truth), else none.
LOCK_DIR_ENV = "MLKUBE_LOCK_DIR"


def lock_path(ctx: SynthContext) -> Path:
    """The lock beside the output, else the config repo's committed one."""
    from ..platform import OUT_ENV

    fallback = os.environ.get(LOCK_DIR_ENV) or ("dist" if os.environ.get(OUT_ENV) else "")
    for folder in (ctx.out_dir, *([Path(fallback)] if fallback else [])):
        if (folder / LOCK_FILE).exists():
            return folder / LOCK_FILE
    return ctx.out_dir / LOCK_FILE


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


def apply_lock(ctx: SynthContext) -> None:
    lock = read_lock(lock_path(ctx))
    for environment in ctx.platform.environments:
        apply_locked_digests(ctx.manifests, lock, environment.name)


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
        added += argocd_manifests(environment, gitops, [m for m in ctx.manifests if m.environment == environment.name])
    ctx.manifests += added


def check_pinned_production(ctx: SynthContext) -> None:
    for environment in ctx.platform.environments:
        if requires_pinned_images(environment):
            ctx.problems += production_problems(ctx.manifests, environment)


def check_overrides_used(ctx: SynthContext) -> None:
    """An override key that names no construct is a typo: report it rather than ignore it."""
    for environment in ctx.platform.environments:
        for key in sorted(environment.overrides):
            if f"{environment.name}/{key}" not in ctx.platform.used_overrides:
                known = sorted(m.where.partition("/")[2] for m in ctx.manifests if m.environment == environment.name and not m.app.startswith("_"))
                ctx.problems.append(Problem(f"environment {environment.name}", f"overrides[{key}]", f"no construct '{key}' in environment "
                                            f"{environment.name!r}", f"keys are '<app>/<construct id>', e.g. {', '.join(sorted(set(known))[:5]) or 'none'}"))


def write_lock(ctx: SynthContext) -> None:
    """Carry the lock into the output, so a synth elsewhere (a test, diff) gives the same tree."""
    path = lock_path(ctx)
    if path.exists():
        ctx.files[LOCK_FILE] = render_lock(read_lock(path))


def write_workflows(ctx: SynthContext) -> None:
    if ctx.platform.gitops is not None:
        for name, data in render_workflows(ctx.platform.gitops).items():
            ctx.files[f"{WORKFLOWS_FOLDER}/{name}"] = data
