"""The pipeline a Platform owns: the steps that change, check and add to its output, and the services
constructs call while they are built.

The core runs the stages (collect, transforms, checks, render, outputs: core/synth.py) and knows no
capability: images, pinning, policy, validation, GitOps, Kueue and traffic plug in as steps of a
``Pipeline``. ``Platform(pipeline=...)`` takes one; without it the Platform gets the default pipeline
(``mlkube.default_pipeline``), which is assembled above every capability. The core names that module
instead of importing it (``DEFAULT_PIPELINE``), so the layering contract (import-linter, README
"Package layout") keeps the core free of capability imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from ..kube.manifest import Manifest
    from .image import BuildImage
    from .platform import MlApp, Platform
    from .synth import SynthContext

__all__ = ["Pipeline", "Step", "ImageCatalog", "SynthCache", "default_pipeline", "DEFAULT_PIPELINE", "independent_check",
           "execution_order", "waits_for_parallel_results"]

#: A synth step: reads and changes the context (objects, files), appends to ``ctx.problems``.
Step = Callable[["SynthContext"], None]
S = TypeVar("S", bound=Step)


def waits_for_parallel_results(step: S) -> S:
    """Mark a check that reads what the cache computes in parallel (``SynthCache.settle``): the checks marked
    ``independent_check`` after it run first, while the workers still compute (core/synth.py ``check``)."""
    step.waits_for_parallel_results = True  # type: ignore[attr-defined]
    return step


def independent_check(step: S) -> S:
    """Mark a check that reads only the objects and the platform's settings (no other check's problems, no
    parallel results), and changes nothing but ``ctx.problems``/``ctx.warnings``: it may run before a waiting
    check that comes earlier in the pipeline. Its problems are still reported in pipeline order."""
    step.independent_check = True  # type: ignore[attr-defined]
    return step


def execution_order(checks: Sequence[Step]) -> list[int]:
    """The order to run ``checks`` in: an independent check jumps ahead of the waiting checks before it, up to the
    first check that is neither (a user's check, say), which runs after them all as written."""
    order: list[int] = []
    waiting: list[int] = []
    for index, step in enumerate(checks):
        if getattr(step, "waits_for_parallel_results", False):
            waiting.append(index)
        elif getattr(step, "independent_check", False):
            order.append(index)
        else:
            order += waiting
            waiting = []
            order.append(index)
    return order + waiting

#: ``module:function`` that assembles today's steps of every capability, in order.
DEFAULT_PIPELINE = "mlkube.default_pipeline:default_pipeline"


class ImageCatalog(Protocol):
    """The images a platform builds (``platform.built_images``); the images capability provides it."""

    @property
    def images(self) -> Mapping[str, Any]:
        """Every built image by name (what images.json and the lock list)."""
        ...

    def use(self, spec: BuildImage, app: MlApp, used_by: str, container: str) -> str:
        """Record that ``container`` of ``used_by`` runs ``spec``; the reference its image field gets."""
        ...


class SynthCache(Protocol):
    """Per-object results kept between synths and computed in parallel (the default is ``mlkube.incremental.steps``).

    Synth calls it at five points; its steps (schema, policy, API-server and connectivity checks that reuse what it
    holds) are in the pipeline's checks. Without a cache, synth computes every object here, in order.
    """

    def start(self, out_dir: Path, platform: Platform) -> Any:
        """The store of one synth (``ctx.store``), or None to compute everything."""
        ...

    def prepare(self, ctx: SynthContext) -> None:
        """After the transforms, before the checks: read what the store holds and start computing the rest."""
        ...

    def settle(self, ctx: SynthContext) -> Any:
        """End the work ``prepare`` started (steps that read its results do it first; synth does it before it fails)."""
        ...

    def schema_issues(self, ctx: SynthContext, manifest: Manifest, catalog: Any) -> Iterator[Any]:
        """``catalog.validate(manifest.obj)``, skipped for an object whose same input the same catalog found valid."""
        ...

    def cross_object_problems(self, ctx: SynthContext, manifests: Sequence[Manifest]) -> list[Any]:
        """The problems the checks across objects find among ``manifests``, one environment's (a list of Problem)."""
        ...

    def rendered(self, ctx: SynthContext, manifest: Manifest) -> bytes:
        """The object's YAML."""
        ...

    def unchanged_files(self, ctx: SynthContext, written: dict[str, Manifest]) -> set[str]:
        """Files of the output folder that already hold what this synth writes (linked, not written again)."""
        ...

    def finish(self, ctx: SynthContext, written: dict[str, Manifest]) -> None:
        """After the tree was swapped in: keep this run's results for the next synth."""
        ...


@dataclass(frozen=True)
class Pipeline:
    """The steps of one Platform's synth, in the order they run, and the services its constructs use.

    ``transforms`` change or add objects (before validation); ``checks`` report problems on the finished
    objects (schema validation first); ``outputs`` add files beside the manifests. Nothing is written
    unless every check passed.
    """

    transforms: tuple[Step, ...] = ()
    checks: tuple[Step, ...] = ()
    outputs: tuple[Step, ...] = ()
    #: Makes the catalog of built images (``Image.build``); None: a built image is an error.
    image_catalog: Callable[[], ImageCatalog] | None = None
    #: Loads YAML blueprints into a platform (``Platform.load_blueprints``); None: not available.
    blueprint_loader: Callable[[Platform, Path], list[Any]] | None = None
    #: Per-object results kept between synths (``mlkube synth``'s cache); None: every object computed in each synth.
    cache: SynthCache | None = None

    def with_steps(self, *, transforms: Sequence[Step] = (), checks: Sequence[Step] = (),
                   outputs: Sequence[Step] = ()) -> Pipeline:
        """This pipeline with more steps run after its own (of each stage)."""
        return replace(self, transforms=(*self.transforms, *transforms), checks=(*self.checks, *checks),
                       outputs=(*self.outputs, *outputs))


def default_pipeline() -> Pipeline:
    """The default pipeline (``DEFAULT_PIPELINE``): every capability's steps, as ``mlkube synth`` runs them."""
    module, _, name = DEFAULT_PIPELINE.partition(":")
    pipeline: Pipeline = getattr(importlib.import_module(module), name)()
    return pipeline
