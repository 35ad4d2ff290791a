"""Synth step: every Kueue queue a job names has a LocalQueue in the job's namespace.

Kueue admits a suspended job only through the LocalQueue named by its ``kueue.x-k8s.io/queue-name``
label, in the job's own namespace; with no such LocalQueue the job stays suspended forever
(Kueue docs, "Run a Kubernetes Job": the queue-name label names a LocalQueue of the namespace).
So synth emits one LocalQueue per queue name a namespace's jobs use, pointing at the environment's
ClusterQueue, unless the app already has a LocalQueue of that name; without a ClusterQueue it is an error.
The step reads the rendered objects, so hand-written and escape-hatched jobs count too.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from ..core.job_options import QUEUE_LABEL
from ..errors import Problem
from ..gitops.platform_objects import local_queue
from ..kube.manifest import Manifest

if TYPE_CHECKING:
    from ..core.platform import Environment
    from ..core.synth import SynthContext

__all__ = ["add_local_queues", "queue_of", "queues_used"]


def queue_of(manifest: Manifest) -> str | None:
    """The Kueue queue a workload object names (a CronJob names it on its job template)."""
    obj = manifest.obj
    if manifest.kind == "CronJob":
        obj = (obj.get("spec") or {}).get("jobTemplate") or {}
    labels = (obj.get("metadata") or {}).get("labels") or {}
    queue = labels.get(QUEUE_LABEL)
    return str(queue) if queue else None


def queues_used(manifests: list[Manifest]) -> dict[tuple[str, str], list[Manifest]]:
    """(namespace, queue name) -> the objects that name it, in input order."""
    users: dict[tuple[str, str], list[Manifest]] = defaultdict(list)
    for manifest in manifests:
        queue = queue_of(manifest) if manifest.kind != "LocalQueue" else None
        if queue:
            users[(manifest.namespace, queue)].append(manifest)
    return users


def _kueue_missing(environment: Environment) -> bool:
    """The environment declares its operators without Kueue: the jobs already report that (require_operator)."""
    declared = environment.operator_versions
    return declared is not None and "kueue" not in declared


def _queues_for(environment: Environment, manifests: list[Manifest], problems: list[Problem]) -> list[Manifest]:
    existing = {(m.namespace, m.name) for m in manifests if m.kind == "LocalQueue"}
    added: list[Manifest] = []
    for (namespace, queue), users in sorted(queues_used(manifests).items()):
        if (namespace, queue) in existing or _kueue_missing(environment):
            continue
        first = users[0]
        if environment.kueue_cluster_queue is None:
            problems.append(Problem(first.where, "queue", f"{first.describe()} is queued on {queue!r} but namespace {namespace!r} has no "
                                    f"LocalQueue {queue!r} and environment '{environment.name}' names no kueue_cluster_queue: "
                                    "Kueue would never admit it and the job would stay suspended",
                                    f"set kueue_cluster_queue on environment '{environment.name}' (mlkube then emits LocalQueue "
                                    f"{queue!r}), or add a LocalQueue named {queue!r} to the app"))
            continue
        obj: dict[str, Any] = local_queue(namespace, first.app, environment.kueue_cluster_queue, name=queue)
        added.append(Manifest(obj, f"{environment.name}/{first.app}/namespace:{namespace}", environment.name, first.app))
        existing.add((namespace, queue))
    return added


def add_local_queues(ctx: SynthContext) -> None:
    """The TRANSFORMS step (after the namespace objects, before sync waves and Argo CD's kind list)."""
    by_environment = ctx.manifests_by_environment()
    for environment in ctx.platform.environments:
        ctx.manifests += _queues_for(environment, by_environment.get(environment.name, []), ctx.problems)
