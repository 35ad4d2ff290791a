"""The synth pipeline: collect objects, transform, validate everything, render, write atomically.

Each stage is a list of steps so that capabilities (images, pinning, policy, GitOps objects) plug
in at one visible place, in a fixed order. Nothing is written unless every check passed.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MlkubeError, Problem
from ..incremental import steps as incremental
from ..kube.manifest import Manifest
from ..kube.render import file_name
from ..output.guard import writes_output
from ..validation import SchemaCatalog, ValidationSettings, check_cross_object
from .cdk8s_tree import read_cdk8s_tree
from .escape_hatch import apply_json_patches

if TYPE_CHECKING:
    from .platform import Platform

__all__ = ["SynthContext", "SynthResult", "SchemaMemo", "checked_context", "synthesize", "TRANSFORMS", "CHECKS", "OUTPUTS"]


@dataclass
class SynthContext:
    """What the steps of one synth share."""

    platform: Platform
    out_dir: Path
    manifests: list[Manifest] = field(default_factory=list)
    #: Files beside the manifests (Dockerfiles, lock, workflows), relative to the output folder.
    files: dict[str, bytes] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Per-object results reused from earlier synths or computed in parallel (mlkube.incremental); None: computed here.
    store: Any = None
    #: The manifest written at each relative path (filled by ``render``).
    written: dict[str, Manifest] = field(default_factory=dict)


Step = Callable[[SynthContext], None]

#: What synth says about a custom resource with no schema (a `cdk8s import` class, a raw ApiObject).
MISSING_SCHEMA_HINT = ("give the platform its CRD's JSON schemas: Platform(crd_schemas=['DIR']), a folder that "
                       "`mlkube schemas import CRD.yaml --out DIR` writes ({group}/{kind}_{version}.json)")

#: Steps that change or add objects after the constructs built them (before validation).
TRANSFORMS: list[Step] = []
#: Checks beyond the schemas and cross-object rules (policy); they append to ``ctx.problems``.
CHECKS: list[Step] = []
#: Steps that add files beside the manifests.
OUTPUTS: list[Step] = []

# Built images (Dockerfiles, images.json) and digest pinning (the lock, kept across synths).


@dataclass
class SynthResult:
    out_dir: Path
    files: dict[str, bytes]
    manifests: list[Manifest]
    warnings: list[str]
    seconds: float

    def summary(self) -> str:
        environments = sorted({m.environment for m in self.manifests})
        apps = {(m.environment, m.app) for m in self.manifests}
        lines = [f"mlkube: {len(self.manifests)} objects, {len(apps)} apps in {len(environments)} "
                 f"environment{'s' if len(environments) != 1 else ''} ({', '.join(environments)}) "
                 f"written to {self.out_dir}/ in {self.seconds:.2f}s"]
        lines += [f"warning: {text}" for text in self.warnings]
        return "\n".join(lines)


def collect(ctx: SynthContext) -> None:
    """mlkube's objects (with their escape-hatch patches applied), then those of plain cdk8s charts, per app."""
    platform = ctx.platform
    ctx.problems += platform.problems
    tree = read_cdk8s_tree(platform)
    ctx.problems += tree.problems
    for app in platform.apps:
        ctx.problems += app.problems
        ctx.problems += apply_json_patches(app)
        ctx.warnings += app.warnings
        ctx.manifests += app.manifests
        ctx.manifests += tree.objects.get(id(app), [])


class SchemaMemo:
    """Schema issues already found, by Kubernetes version and object: a caller that synthesizes the same
    platform many times with few changes (mlkube chart's probes) validates each distinct object once.
    Schema validation depends only on the object and the version's catalog (the settings below, with the platform's
    CRD schema folders): one memo serves builds of one platform."""

    def __init__(self) -> None:
        self.catalogs: dict[str, SchemaCatalog] = {}
        self._issues: dict[tuple[str, str], list[Any]] = {}

    def issues(self, version: str, catalog: SchemaCatalog, obj: dict[str, Any]) -> list[Any]:
        key = (version, json.dumps(obj, sort_keys=True, default=str))
        if key not in self._issues:
            self._issues[key] = list(catalog.validate(obj))
        return self._issues[key]


def validate(ctx: SynthContext, memo: SchemaMemo | None = None) -> None:
    """Schema-validate every object, then run cross-object checks per environment."""
    incremental.prepare(ctx)
    catalogs: dict[str, SchemaCatalog] = memo.catalogs if memo is not None else {}
    versions = {env.name: env.kubernetes_version for env in ctx.platform.environments}
    by_environment: dict[str, list[Manifest]] = defaultdict(list)
    for manifest in ctx.manifests:
        by_environment[manifest.environment].append(manifest)
    for environment, manifests in by_environment.items():
        version = versions.get(environment, "")
        try:
            catalog = catalogs.get(version) or catalogs.setdefault(version, SchemaCatalog(ValidationSettings(
                kubernetes_version=version, crd_schema_dirs=ctx.platform.crd_schemas, strict_unknown_kinds=True,
                missing_schema_hint=MISSING_SCHEMA_HINT)))
        except MlkubeError as error:
            ctx.problems += [Problem(f"environment {environment}", "kubernetes_version", p.message, p.hint) for p in error.problems]
            continue
        for manifest in manifests:
            for issue in (memo.issues(version, catalog, manifest.obj) if memo is not None else incremental.schema_issues(ctx, manifest, catalog)):
                ctx.problems.append(Problem(manifest.where, issue.field, f"{manifest.describe()}: {issue.message}"))
        ctx.problems += check_cross_object(manifests)
    for check in CHECKS:
        check(ctx)


def render(ctx: SynthContext) -> None:
    seen: dict[str, Manifest] = {}
    for manifest in ctx.manifests:
        relative = f"{manifest.environment}/{manifest.app}/{file_name(manifest.obj)}"
        if relative in seen:
            ctx.problems.append(Problem(manifest.where, "metadata.name", f"{manifest.describe()} would overwrite the file "
                                        f"of the object at {seen[relative].where}", "give the objects distinct names"))
            continue
        seen[relative] = manifest
        ctx.files[relative] = incremental.rendered(ctx, manifest)
    ctx.written = seen


def checked_context(platform: Platform, out_dir: Path, store: Any = None, memo: SchemaMemo | None = None) -> SynthContext:
    """The stages before rendering: collect the objects, transform them, validate them (problems in ``ctx.problems``);
    ``memo``: schema results kept in memory across calls (see SchemaMemo)."""
    ctx = SynthContext(platform, out_dir, store=store)
    collect(ctx)
    if not ctx.problems:
        for step in TRANSFORMS:
            step(ctx)
    if not ctx.problems:
        validate(ctx, memo)
    return ctx


@writes_output("out_dir", replaces=True)  # the lock is read, and the tree replaced, under one output lock
def synthesize(platform: Platform, out_dir: Path) -> SynthResult:
    from ..output import replace_tree

    started = time.perf_counter()
    ctx = checked_context(platform, out_dir, incremental.start(out_dir, platform))
    if not ctx.problems:
        render(ctx)
    if not ctx.problems:
        for step in OUTPUTS:
            step(ctx)
    if ctx.problems:
        raise MlkubeError(ctx.problems, title="synth failed; nothing was written")
    replace_tree(out_dir, ctx.files, unchanged=incremental.unchanged_files(ctx, ctx.written))
    incremental.finish(ctx, ctx.written)
    return SynthResult(out_dir, ctx.files, ctx.manifests, ctx.warnings, time.perf_counter() - started)


def _register_steps() -> None:
    """Every capability's steps, in the order they run (imported here: they use the lists above)."""
    from ..chart.argocd import use_chart_sources
    from ..gitops import steps as gitops
    from ..gitops.tenancy_checks import check_tenancy
    from ..images.manifest import write_image_files
    from ..incremental.steps import check_apiserver_rules as check_apiserver_rules_reusing
    from ..incremental.steps import check_connectivity_step as check_connectivity_reusing
    from ..incremental.steps import check_policy_step as check_policy_reusing
    from ..kueue.capacity import add_kueue_objects, check_kueue_capacity
    from ..kueue.local_queues import add_local_queues
    from ..pinning.models import apply_model_lock, require_pinned_models
    from ..pinning.served_snapshots import served_snapshots
    from ..pinning.synth_steps import apply_lock, require_pinned_images, write_lock
    from ..policy.capability_namespaces import lower_enforce_for_capabilities
    from ..policy.credentials import check_output_files
    from ..traffic.senders import add_cross_namespace_senders
    from ..validation.volume_sharing import volume_sharing_step
    from .checkpoint_volume import new_volume_snapshots

    # Platform objects first, so the lock, sync waves and Argo CD's kind list see every object.
    # LocalQueues for the queues jobs name come after the namespace objects, so a 'default' LocalQueue is not emitted twice.
    TRANSFORMS.extend([add_cross_namespace_senders, gitops.add_platform_objects, add_local_queues,
                       lower_enforce_for_capabilities, add_kueue_objects, apply_lock, apply_model_lock, gitops.add_sync_waves,
                       gitops.add_argocd_objects, use_chart_sources])  # use_chart_sources: GitOps(source='chart') deploys the locked chart
    CHECKS.extend([
        volume_sharing_step,           # single-writer volumes are not written by several pods at once
        new_volume_snapshots,          # a snapshot never copies a volume created in the same change
        require_pinned_images,         # production (and opted-in) environments run only pinned images
        require_pinned_models,         # ... and serve only models pinned to one content
        served_snapshots,              # ... pvc:// models from snapshot versions that already exist
        check_policy_reusing,          # security policy: unwaived errors fail synth, warnings are printed
        check_connectivity_reusing,    # every declared connection is allowed by the NetworkPolicies, both ways
        check_kueue_capacity,          # every queued job fits a flavor of its ClusterQueue
        gitops.check_overrides_used,   # an override naming no construct is a typo
        check_tenancy,                 # apps stay in their namespace, declared kinds, secret keys and priority classes
        check_apiserver_rules_reusing,  # keys, env names, sub-paths, int ranges, names the API server would refuse
    ])
    OUTPUTS.extend([write_image_files, write_lock, gitops.write_workflows])  # write_lock: the lock survives every synth
    OUTPUTS.append(check_output_files)  # last: settings that reached files beside the manifests carry no credential


_register_steps()
