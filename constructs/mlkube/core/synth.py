"""The synth stages: collect objects, transform, check everything, render, write atomically.

The steps of each stage are the platform's own (``platform.pipeline``, core/pipeline.py): capabilities
(validation, images, pinning, policy, GitOps objects) plug in there, in a fixed order, and the core
imports none of them. Nothing is written unless every check passed.

Memory (issue 22): each object's YAML is written into the staging tree as soon as it is rendered
(``output.writing_tree``), not held until the end; the tree is swapped in whole, or removed when an
output step finds a problem. ``SynthResult.files`` reads the written files back on access.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MlkubeError, Problem
from ..kube.manifest import Manifest
from ..kube.render import file_name, to_yaml
from ..output.guard import writes_output
from .cdk8s_tree import read_cdk8s_tree
from .escape_hatch import apply_json_patches
from .gc_tuning import freeze_built_objects
from .pipeline import execution_order

if TYPE_CHECKING:
    from ..output import NewTree
    from .platform import Platform

__all__ = ["SynthContext", "SynthResult", "checked_context", "synthesize"]


@dataclass
class SynthContext:
    """What the steps of one synth share."""

    platform: Platform
    out_dir: Path
    manifests: list[Manifest] = field(default_factory=list)
    #: Files beside the manifests (Dockerfiles, lock, workflows), relative to the output folder; the manifests'
    #: files are written as they are rendered and are not in it.
    files: dict[str, bytes] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Per-object results reused from earlier synths or computed in parallel (the pipeline's cache, mlkube.incremental);
    #: None: computed here.
    store: Any = None
    #: Schema results kept in memory across synths of one platform (validation.synth_step.SchemaMemo); None: not kept.
    schema_memo: Any = None
    #: The manifest written at each relative path (filled by ``plan_files``).
    written: dict[str, Manifest] = field(default_factory=dict)

    def manifests_by_environment(self) -> defaultdict[str, list[Manifest]]:
        """The objects of each environment, in order (one environment is one cluster for the checks across objects)."""
        grouped: defaultdict[str, list[Manifest]] = defaultdict(list)
        for manifest in self.manifests:
            grouped[manifest.environment].append(manifest)
        return grouped


@dataclass
class SynthResult:
    out_dir: Path
    #: Every file written, relative to ``out_dir``: read from ``out_dir`` on access (output.TreeFiles).
    files: Mapping[str, bytes]
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


def check(ctx: SynthContext) -> None:
    """Run the platform's checks (schema validation first), each appending to ``ctx.problems``.

    A check that reads the results the cache computes in parallel waits for them: the independent checks after it
    run first, while the workers compute (``pipeline.execution_order``). The problems and warnings are still
    those of running every check in pipeline order, in that order."""
    cache = ctx.platform.pipeline.cache
    if cache is not None:
        cache.prepare(ctx)  # after the transforms: what the cache holds, and what it lacks computed in parallel
    checks = ctx.platform.pipeline.checks
    order = execution_order(checks) if ctx.store is not None else list(range(len(checks)))
    if order == sorted(order):
        for step in checks:
            step(ctx)
        return
    found: dict[int, tuple[list[Problem], list[str]]] = {}
    for index in order:
        problems, warnings = len(ctx.problems), len(ctx.warnings)
        checks[index](ctx)
        found[index] = (ctx.problems[problems:], ctx.warnings[warnings:])
        del ctx.problems[problems:], ctx.warnings[warnings:]
    for index in range(len(checks)):
        ctx.problems += found[index][0]
        ctx.warnings += found[index][1]


def plan_files(ctx: SynthContext) -> None:
    """The file of every object (``ctx.written``); two objects with one file are a problem."""
    seen: dict[str, Manifest] = {}
    for manifest in ctx.manifests:
        relative = f"{manifest.environment}/{manifest.app}/{file_name(manifest.obj)}"
        if relative in seen:
            ctx.problems.append(Problem(manifest.where, "metadata.name", f"{manifest.describe()} would overwrite the file "
                                        f"of the object at {seen[relative].where}", "give the objects distinct names"))
            continue
        seen[relative] = manifest
    ctx.written = seen


def render(ctx: SynthContext, tree: NewTree) -> None:
    """Write every object's YAML into the new tree as it is rendered (a file the output folder already holds
    with the same bytes, by the cache, is linked instead)."""
    cache = ctx.platform.pipeline.cache
    unchanged = cache.unchanged_files(ctx, ctx.written) if cache is not None else set()
    for relative, manifest in ctx.written.items():
        if relative in unchanged and tree.link(relative):
            continue
        tree.write(relative, cache.rendered(ctx, manifest) if cache is not None else to_yaml(manifest.obj).encode())


def checked_context(platform: Platform, out_dir: Path, store: Any = None, memo: Any = None) -> SynthContext:
    """The stages before rendering: collect the objects, transform them, validate them (problems in ``ctx.problems``);
    ``memo``: schema results kept in memory across calls (validation.synth_step.SchemaMemo)."""
    ctx = SynthContext(platform, out_dir, store=store, schema_memo=memo)
    collect(ctx)
    if not ctx.problems:
        for step in platform.pipeline.transforms:
            step(ctx)
    if not ctx.problems:
        check(ctx)
    return ctx


def _failed(ctx: SynthContext) -> MlkubeError:
    return MlkubeError(ctx.problems, title="synth failed; nothing was written")


@writes_output("out_dir", replaces=True)  # the lock is read, and the tree replaced, under one output lock
def synthesize(platform: Platform, out_dir: Path) -> SynthResult:
    from ..output import TreeFiles, writing_tree

    started = time.perf_counter()
    freeze_built_objects()  # the constructs live until synth ends: the collector skips them (core/gc_tuning.py)
    cache = platform.pipeline.cache
    ctx = checked_context(platform, out_dir, cache.start(out_dir, platform) if cache is not None else None)
    if not ctx.problems:
        plan_files(ctx)
    if ctx.problems:
        if cache is not None:
            cache.settle(ctx)  # no worker outlives a failed synth
        raise _failed(ctx)
    with writing_tree(out_dir, ctx.written) as tree:  # removed again unless committed
        render(ctx, tree)
        for step in platform.pipeline.outputs:
            step(ctx)
        if ctx.problems:
            raise _failed(ctx)
        tree.commit(ctx.files)
    if cache is not None:
        cache.finish(ctx, ctx.written)
    files = TreeFiles(Path(os.path.abspath(out_dir)), ctx.written, ctx.files)
    return SynthResult(out_dir, files, ctx.manifests, ctx.warnings, time.perf_counter() - started)
