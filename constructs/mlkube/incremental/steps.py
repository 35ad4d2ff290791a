"""Synth's per-object steps through the store: reuse what the cache holds, compute the rest (in parallel).

Each function here does what the step it replaces does, reading ``ctx.store`` first. Without a
store (``--no-cache`` and ``--jobs 1``, or the chart export) they are the plain steps.

``prepare`` only starts the per-object work (forked workers claim it, see parallel.py): the checks that
need none of its results (schemas, volumes, snapshots, connectivity, tenancy) run meanwhile, and the first
step that reads a result (the pinned-model check, policy, the API server's rules, rendering, saving) first
``settle``s it, this process computing what the workers have not claimed.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.pipeline import independent_check, waits_for_parallel_results
from ..kube.manifest import Manifest
from .parallel import job_count, start_shared_work
from .store import NO_CACHE_ENV, Entry, ObjectStore, catalog_key, open_store

if TYPE_CHECKING:
    from ..core.synth import SynthContext

__all__ = ["start", "prepare", "settle", "schema_issues", "cross_object_problems", "volume_sharing_step", "check_tenancy", "rendered", "check_policy_step", "check_apiserver_rules", "check_connectivity_step",
           "require_pinned_models",
           "unchanged_files", "finish", "STATS"]

#: What the last synth of this process reused and computed (``bench/resynth.py`` prints it).
STATS: dict[str, Any] = {}


def start(out_dir: Path, platform: Any) -> ObjectStore | None:
    """The store of one synth: the cache file unless ``MLKUBE_NO_CACHE=1``; in memory only for parallel work; else None."""
    use_cache = os.environ.get(NO_CACHE_ENV, "") not in ("1", "true", "yes")
    if not use_cache and job_count() <= 1:
        return None
    return open_store(out_dir, platform, use_cache=use_cache)


def prepare(ctx: SynthContext) -> None:
    """After the transforms: digest every object, read the cache, and start computing what it lacks in parallel."""
    store: ObjectStore | None = getattr(ctx, "store", None)
    if store is None:
        return
    started = time.perf_counter()
    store.prepare(ctx.manifests)
    ctx.warnings += store.notes
    missing = [index for index, manifest in enumerate(ctx.manifests) if _incomplete(store.entry(manifest))]
    STATS.update(objects=len(ctx.manifests), reused=len(ctx.manifests) - len(missing), jobs=1)
    jobs = job_count()
    if jobs > 1 and missing:
        settings = _policy_settings(ctx)
        manifests = ctx.manifests

        def work(indexes: Sequence[int]) -> Iterator[tuple[str, Entry]]:
            return _compute(store, [manifests[index] for index in indexes], settings)

        shared = start_shared_work(missing, work, jobs, store.received)
        STATS["jobs"] = shared.processes
        store.pending = shared.finish
    STATS["prepare_seconds"] = time.perf_counter() - started


def settle(ctx: SynthContext) -> ObjectStore | None:
    """The store, once the per-object work ``prepare`` started is done (this process computing what is left)."""
    store: ObjectStore | None = getattr(ctx, "store", None)
    if store is not None and store.pending is not None:
        started, finish = time.perf_counter(), store.pending
        store.pending = None
        finish()
        STATS["settle_seconds"] = time.perf_counter() - started
    return store


def _incomplete(entry: Entry | None) -> bool:
    return entry is None or not entry.has_yaml or entry.policy_rereads is None or entry.models is None


def _policy_settings(ctx: SynthContext) -> dict[str, Any]:
    from ..policy.synth_step import environment_settings

    return {environment.name: environment_settings(ctx, environment.name) for environment in ctx.platform.environments}


def _compute(store: ObjectStore, manifests: Sequence[Manifest], settings: dict[str, Any]) -> Iterator[tuple[str, Entry]]:
    """Rendering, the API server's rules and the object-only policy rules of some objects (in a worker, or here for the
    first slice): each object's entry, with its YAML (``Entry.yaml``), as soon as it is done."""
    from ..kube.render import to_yaml
    from ..pinning.models import model_places
    from ..validation.apiserver import apiserver_problems
    from .policy import check_policy_incremental

    by_environment: dict[str, list[Manifest]] = defaultdict(list)
    for manifest in manifests:
        if store.computing(manifest) is not None:
            by_environment[manifest.environment].append(manifest)
    for environment, group in by_environment.items():
        if environment in settings:
            # Rules that read the neighbours see only this slice here: what they find is not kept (see policy.py).
            check_policy_incremental(group, settings[environment], store)
    for manifest in manifests:
        digest, entry = store.digest(manifest), store.computing(manifest)
        if digest is None or entry is None:
            continue
        if not entry.has_yaml:
            entry.yaml, entry.has_yaml = to_yaml(manifest.obj).encode(), True
        if not entry.apiserver_clean:
            entry.apiserver_clean = not apiserver_problems(manifest)
        if entry.models is None:
            entry.models = model_places(manifest.obj)
        yield digest, entry


def schema_issues(ctx: SynthContext, manifest: Manifest, catalog: Any) -> Iterator[Any]:
    """``catalog.validate(manifest.obj)``, skipped for an object whose same input was found valid by the same catalog."""
    store: ObjectStore | None = getattr(ctx, "store", None)
    if store is None:
        return iter(catalog.validate(manifest.obj))
    key = store.catalog_keys.get(id(catalog))
    if key is None:
        key = store.catalog_keys[id(catalog)] = catalog_key(catalog)
    entry = store.entry(manifest)
    if entry is not None and entry.schema_clean == key:
        return iter(())
    issues = list(catalog.validate(manifest.obj))
    if not issues:
        computing = store.computing(manifest)
        if computing is not None:
            computing.schema_clean = key
    return iter(issues)


def cross_object_problems(ctx: SynthContext, manifests: Sequence[Manifest]) -> list[Any]:
    """``validation.cross_object.check_cross_object(manifests)`` of one environment, skipping the namespaces whose
    objects are those of a synth that wrote its output (incremental/namespaces.py)."""
    from ..validation import cross_object

    return _by_namespace(ctx, manifests, cross_object.check_cross_object, "cross-object", cross_object.checked_namespace)


def volume_sharing_step(ctx: SynthContext) -> None:
    """``validation.volume_sharing.volume_sharing_step``, skipping the namespaces whose objects are those of a synth
    that wrote its output (a claim, the pods that mount it and their autoscalers share a namespace)."""
    from ..validation import volume_sharing

    for manifests in ctx.manifests_by_environment().values():
        ctx.problems += _by_namespace(ctx, manifests, volume_sharing.check_volume_sharing, "volume-sharing", _namespace)


@independent_check
def check_tenancy(ctx: SynthContext) -> None:
    """``gitops.tenancy_checks.check_tenancy``: the apps' namespaces on every synth, the rules that read one object
    alone skipped for the namespaces whose objects are those of a synth that wrote its output."""
    from ..gitops import tenancy_checks

    ctx.problems += tenancy_checks.namespace_problems(ctx.platform)
    ctx.problems += _by_namespace(ctx, ctx.manifests, lambda manifests: tenancy_checks.object_problems(ctx.platform, manifests),
                                  "tenancy", _environment_and_namespace)


def _namespace(manifest: Manifest) -> str:
    return manifest.namespace


def _environment_and_namespace(manifest: Manifest) -> str:
    return f"{manifest.environment}\0{manifest.namespace}"


def _by_namespace(ctx: SynthContext, manifests: Sequence[Manifest], check: Callable[[Sequence[Manifest]], list[Any]], name: str,
                  namespace_of: Callable[[Manifest], str]) -> list[Any]:
    """``check(manifests)`` through the store a namespace at a time (incremental/namespaces.py), else all at once."""
    from .namespaces import changed_namespace_problems

    store: ObjectStore | None = getattr(ctx, "store", None)
    problems = changed_namespace_problems(store, manifests, check, name=name, namespace_of=namespace_of) if store is not None else None
    return problems if problems is not None else check(manifests)


def rendered(ctx: SynthContext, manifest: Manifest) -> bytes:
    """The object's YAML, from the store when its input was rendered before (kept out of memory: see ObjectStore.keep_yaml)."""
    from ..kube.render import to_yaml

    store = settle(ctx)
    found = store.yaml_of(manifest) if store is not None else None
    if found is not None:
        return found
    data = to_yaml(manifest.obj).encode()
    if store is not None:
        store.keep_yaml(manifest, data)
    return data


@waits_for_parallel_results
def check_policy_step(ctx: SynthContext) -> None:
    """``policy.synth_step.check_policy_step``, with the hits of object-only rules through the store."""
    from ..policy.synth_step import check_policy_step as plain
    from ..policy.synth_step import environment_settings, report_into
    from .policy import check_policy_incremental

    store = settle(ctx)
    if store is None:
        plain(ctx)
        return
    by_environment = ctx.manifests_by_environment()
    for name, manifests in by_environment.items():
        report_into(ctx, check_policy_incremental(manifests, environment_settings(ctx, name), store))


@waits_for_parallel_results
def check_apiserver_rules(ctx: SynthContext) -> None:
    """``validation.apiserver.check_apiserver_rules``, skipping objects whose same input passed."""
    from ..validation.apiserver import apiserver_problems

    store = settle(ctx)
    for manifest in ctx.manifests:
        entry = store.entry(manifest) if store is not None else None
        if entry is not None and entry.apiserver_clean:
            continue
        problems = apiserver_problems(manifest)
        ctx.problems += problems
        if not problems and store is not None:
            computing = store.computing(manifest)
            if computing is not None:
                computing.apiserver_clean = True


@waits_for_parallel_results
def require_pinned_models(ctx: SynthContext) -> None:
    """``pinning.models.require_pinned_models``, with each object's model fields through the store: an object whose
    same input was looked at before is not walked again (the walk is most of the check, and almost no object holds a
    model)."""
    from ..pinning.models import PinnedModelRules, model_places

    store = settle(ctx)
    rules = PinnedModelRules(ctx)
    for manifest in ctx.manifests:
        entry = store.entry(manifest) if store is not None else None
        places = entry.models if entry is not None else None
        if places is None:
            places = model_places(manifest.obj)
            computing = store.computing(manifest) if store is not None else None
            if computing is not None:
                computing.models = places
        rules.check(manifest, places)


@independent_check
def check_connectivity_step(ctx: SynthContext) -> None:
    """``traffic.check.check_connectivity_step``, skipped for each group of connections whose two namespaces'
    objects and declared connections are those of a synth where it found nothing (incremental/connectivity.py)."""
    from ..traffic.check import connection_problems, environment_connections, managed_namespaces
    from ..traffic.cluster import traffic_view
    from .connectivity import changed_connection_problems

    store: ObjectStore | None = getattr(ctx, "store", None)
    by_environment = ctx.manifests_by_environment()
    for environment in ctx.platform.environments:
        manifests = by_environment.get(environment.name, [])
        connections = environment_connections(ctx.platform, environment)
        managed = managed_namespaces(ctx.platform, environment)
        problems = changed_connection_problems(store, manifests, connections, managed) if store is not None else None
        if problems is None:
            problems = connection_problems(connections, traffic_view(manifests), managed)
        ctx.problems += problems


def unchanged_files(ctx: SynthContext, written: dict[str, Manifest]) -> set[str]:
    """Files of the output folder that already hold what this synth writes (linked, not written again)."""
    store = settle(ctx)
    if store is None or store.database is None:
        return set()
    return store.unchanged_files(ctx.out_dir, written)


def finish(ctx: SynthContext, written: dict[str, Manifest]) -> None:
    """After the tree was swapped in: keep this run's results for the next synth."""
    store = settle(ctx)
    if store is not None:
        store.save(ctx.out_dir, written)
