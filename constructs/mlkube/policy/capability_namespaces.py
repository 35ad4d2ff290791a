"""Synth step: a namespace whose pods add a waived Linux capability is admitted at Pod Security level 'privileged'.

mlkube namespaces enforce the restricted Pod Security Standard, whose admission rejects any added capability but
NET_BIND_SERVICE; baseline does not allow IPC_LOCK either (kubernetes.io/docs/concepts/security/pod-security-standards,
"Capabilities"). A workload that adds one (GPUDirect RDMA needs IPC_LOCK) carries a reasoned MLK-PSS-005 waiver, so
the namespace's ``enforce`` level drops to privileged while ``audit`` and ``warn`` stay restricted: every such pod is
still reported by the API server. The namespace is annotated with the workloads that caused it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from ..core.placement import CAPABILITY_RULE
from ..core.waivers import WAIVER_PREFIX
from .pods import containers, pod_views

if TYPE_CHECKING:
    from ..core.synth import SynthContext

__all__ = ["lower_enforce_for_capabilities", "CAPABILITIES_ANNOTATION"]

CAPABILITIES_ANNOTATION = "mlkube.dev/privileged-for"


def _adds_waived_capability(obj: dict[str, Any]) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if f"{WAIVER_PREFIX}{CAPABILITY_RULE}" not in annotations:
        return False
    for pod in pod_views(obj):
        for container in containers(pod):
            added = ((container.security_context.get("capabilities") or {}).get("add")) or []
            if any(name != "NET_BIND_SERVICE" for name in added):
                return True
    return False


def lower_enforce_for_capabilities(ctx: SynthContext) -> None:
    """The TRANSFORMS step (after the namespace objects are added)."""
    causes: dict[tuple[str, str], list[str]] = defaultdict(list)
    for manifest in ctx.manifests:
        if _adds_waived_capability(manifest.obj):
            causes[(manifest.environment, manifest.namespace)].append(f"{manifest.kind}/{manifest.name}")
    for manifest in ctx.manifests:
        key = (manifest.environment, manifest.name)
        if manifest.kind != "Namespace" or key not in causes:
            continue
        metadata = manifest.obj["metadata"]
        metadata["labels"]["pod-security.kubernetes.io/enforce"] = "privileged"
        metadata.setdefault("annotations", {})[CAPABILITIES_ANNOTATION] = ", ".join(sorted(set(causes[key])))
