"""The default pipeline: every capability's synth steps, in the order ``mlkube synth`` runs them, and its cache.

This module sits above the capabilities (README, "Package layout"): it is the one place that knows them
all. A Platform without ``pipeline=`` gets this pipeline (core/pipeline.py names this module), plus the
checks it is given; ``Platform(pipeline=default_pipeline().with_steps(...))`` builds on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .chart.argocd import use_chart_sources
from .core.checkpoint_volume import new_volume_snapshots
from .core.pipeline import Pipeline
from .gitops import steps as gitops
from .images.catalog import BuiltImages
from .images.manifest import write_image_files
from .incremental import steps as incremental
from .kueue.capacity import add_kueue_objects, check_kueue_capacity
from .kueue.local_queues import add_local_queues
from .pinning.served_snapshots import served_snapshots
from .pinning.synth_steps import apply_locks, require_pinned_images, write_lock
from .policy.capability_namespaces import lower_enforce_for_capabilities
from .policy.credentials import check_output_files
from .traffic.senders import add_cross_namespace_senders
from .validation.synth_step import validate_objects

if TYPE_CHECKING:
    from .core.platform import Platform

__all__ = ["default_pipeline"]


def _load_blueprints(platform: Platform, root: Path) -> list[Any]:
    """``Platform.load_blueprints``: the YAML blueprint loader, imported when blueprints are loaded (a platform
    defined in Python alone does not pay for it at start-up, issue 22)."""
    from .blueprint import load_blueprints as load

    return load(platform, root)


def default_pipeline() -> Pipeline:
    """Today's steps of every capability, in order (each Platform gets its own copy)."""
    return Pipeline(
        # Platform objects first, so the lock, sync waves and Argo CD's kind list see every object.
        # LocalQueues for the queues jobs name come after the namespace objects, so a 'default' LocalQueue is not emitted twice.
        transforms=(add_cross_namespace_senders, gitops.add_platform_objects, add_local_queues,
                    lower_enforce_for_capabilities, add_kueue_objects, apply_locks, gitops.add_sync_waves,
                    gitops.add_argocd_objects, use_chart_sources),  # use_chart_sources: GitOps(source='chart') deploys the locked chart
        checks=(
            validate_objects,              # every object against its schema, then the cross-object rules
            incremental.volume_sharing_step,      # single-writer volumes are not written by several pods at once
            new_volume_snapshots,          # a snapshot never copies a volume created in the same change
            require_pinned_images,         # production (and opted-in) environments run only pinned images
            incremental.require_pinned_models,    # ... and serve only models pinned to one content
            served_snapshots,              # ... pvc:// models from snapshot versions that already exist
            incremental.check_policy_step,        # security policy: unwaived errors fail synth, warnings are printed
            incremental.check_connectivity_step,  # every declared connection is allowed by the NetworkPolicies, both ways
            check_kueue_capacity,          # every queued job fits a flavor of its ClusterQueue
            gitops.check_overrides_used,   # an override naming no construct is a typo
            incremental.check_tenancy,            # apps stay in their namespace, declared kinds, secret keys and priority classes
            incremental.check_apiserver_rules,    # keys, env names, sub-paths, int ranges, names the API server would refuse
        ),
        # write_lock: the lock survives every synth; check_output_files last: settings that reached files beside
        # the manifests carry no credential.
        outputs=(write_image_files, write_lock, gitops.write_workflows, check_output_files),
        image_catalog=BuiltImages,
        blueprint_loader=_load_blueprints,
        # Results kept between synths: the volume-sharing, pinned-model, policy, connectivity, tenancy and API-server checks
        # above are its reusing forms (the plain steps when synth runs without a store), and so are validate_objects'
        # schema and cross-object checks.
        cache=incremental,
    )
