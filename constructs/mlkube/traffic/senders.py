"""The sender's half of connections that cross namespaces inside one environment.

A construct writes policies into its own namespace only. When it declares callers in another
namespace that an app of the same environment uses (so that namespace has its own default-deny and
workload policies), this synth step writes the callers' egress policy there, into the folder of the
first app of that namespace. Callers in namespaces no app uses are another team's to open.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..core.network.policies import sender_policy_specs
from ..core.network.workload import NETWORK_POLICY_API
from ..kube.labels import standard_labels
from ..kube.manifest import Manifest

if TYPE_CHECKING:
    from ..core.synth import SynthContext

__all__ = ["add_cross_namespace_senders"]


def _policy_name(destination: Any) -> str:
    """``egress-to-<namespace>-<workload>``, a DNS-1123 label (at most 63 characters)."""
    raw = f"egress-to-{destination.describe()}".lower()
    return re.sub(r"[^a-z0-9-]+", "-", raw)[:63].strip("-")


def add_cross_namespace_senders(ctx: SynthContext) -> None:
    for environment in ctx.platform.environments:
        apps = [app for app in ctx.platform.apps if app.environment.name == environment.name]
        owner: dict[str, Any] = {}
        for app in apps:
            owner.setdefault(app.namespace_name, app)
        grouped: dict[tuple[str, Any], list[Any]] = {}
        for app in apps:
            for connection in app.connections:
                source, destination = connection.source, connection.destination
                if source.cidr is None and source.namespace != app.namespace_name and source.namespace in owner \
                        and destination.namespace == app.namespace_name:
                    grouped.setdefault((str(source.namespace), destination), []).append(connection)
        for (namespace, destination), connections in grouped.items():
            sender_app = owner[namespace]
            for index, spec in enumerate(sender_policy_specs(destination, namespace, connections)):
                name = _policy_name(destination) + (f"-{index + 1}" if index else "")
                obj = {"apiVersion": NETWORK_POLICY_API, "kind": "NetworkPolicy",
                       "metadata": {"labels": standard_labels(name, "platform", sender_app.app_name), "name": name, "namespace": namespace},
                       "spec": spec}
                ctx.manifests.append(Manifest(obj, connections[0].declared_by, environment.name, sender_app.app_name))
