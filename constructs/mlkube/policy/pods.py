"""Pods as policy rules see them; where each kind keeps its pods is in ``mlkube.kube.pods`` (one table)."""

from __future__ import annotations

from ..kube.pods import ContainerView, PodView, containers, pod_views

__all__ = ["PodView", "ContainerView", "pod_views", "containers", "SERVER_KINDS", "BATCH_KINDS"]

#: Kinds whose pods run to completion: no liveness/readiness probes expected (checkov agrees).
BATCH_KINDS = frozenset({"Job", "CronJob", "JobSet", "RayJob"})
#: Kinds whose pods serve traffic for their whole life: probes are expected.
SERVER_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Pod",
                          "InferenceService", "LeaderWorkerSet"})
