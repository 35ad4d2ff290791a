"""Tenancy the platform declares: which namespaces apps may not take, which kinds an app may deploy,
which secrets and priority classes it may use.

Pure specs and lookups (no construct imports), so that settings.py can nest ``Tenancy`` in ``GitOps``.
The synth checks that apply them live in :mod:`mlkube.gitops.tenancy_checks`.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from pydantic import Field, field_validator

from .spec import DNS_LABEL, Spec

__all__ = ["Tenancy", "KindRef", "PLATFORM_KINDS", "OPERATOR_GROUPS", "CLUSTER_KINDS", "OPERATOR_NAMESPACES", "parse_kind",
           "reserved_namespace_reason", "app_name_problem"]

#: (API group, kind) of every namespaced object mlkube constructs emit: the AppProject's default
#: namespaceResourceWhitelist. An app object of any other kind is a synth error unless the platform
#: declares it (``Tenancy.extra_kinds``).
PLATFORM_KINDS: tuple[tuple[str, str], ...] = (
    ("", "ConfigMap"), ("", "LimitRange"), ("", "PersistentVolumeClaim"), ("", "ResourceQuota"), ("", "Service"),
    ("", "ServiceAccount"),
    ("apps", "Deployment"), ("autoscaling", "HorizontalPodAutoscaler"), ("batch", "CronJob"), ("batch", "Job"),
    ("external-secrets.io", "ExternalSecret"), ("gateway.networking.k8s.io", "HTTPRoute"), ("networking.k8s.io", "Ingress"),
    ("jobset.x-k8s.io", "JobSet"), ("keda.sh", "ScaledObject"),
    ("kueue.x-k8s.io", "LocalQueue"), ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"), ("monitoring.coreos.com", "PodMonitor"), ("monitoring.coreos.com", "PrometheusRule"),
    ("monitoring.coreos.com", "ServiceMonitor"), ("networking.k8s.io", "NetworkPolicy"), ("policy", "PodDisruptionBudget"),
    ("scheduling.volcano.sh", "PodGroup"), ("serving.kserve.io", "InferenceService"), ("snapshot.storage.k8s.io", "VolumeSnapshot"),
    ("trainer.kubeflow.org", "TrainJob"),
)
#: The operator that serves each custom API group above: an environment that declares its operators
#: allows only the kinds of those it has (least privilege; constructs already refuse the others).
OPERATOR_GROUPS: dict[str, str] = {
    "external-secrets.io": "external-secrets", "gateway.networking.k8s.io": "gateway-api", "jobset.x-k8s.io": "jobset", "keda.sh": "keda", "kueue.x-k8s.io": "kueue",
    "leaderworkerset.x-k8s.io": "lws",
    "monitoring.coreos.com": "prometheus-operator", "scheduling.volcano.sh": "volcano", "serving.kserve.io": "kserve",
    "trainer.kubeflow.org": "trainer",
}
#: Cluster-scoped kinds an app may own: only its own Namespace (the guard rails live in it).
CLUSTER_KINDS: tuple[tuple[str, str], ...] = (("", "Namespace"),)

#: Namespaces the usual installs of the operators mlkube works with run in (their install manifests and
#: Helm charts: KServe 'kserve', Knative 'knative-serving', KEDA 'keda', External Secrets 'external-secrets',
#: Kueue 'kueue-system', JobSet 'jobset-system', LeaderWorkerSet 'lws-system' (config/default), Volcano 'volcano-system', cert-manager, Istio, Argo CD
#: 'argocd'). An app there would replace the operator's namespace guard rails and be synced over it.
OPERATOR_NAMESPACES: frozenset[str] = frozenset({
    "argocd", "kserve", "knative-serving", "keda", "external-secrets", "kueue-system", "jobset-system", "lws-system", "volcano-system",
    "volcano-monitoring", "cert-manager", "istio-system", "gpu-operator", "monitoring", "kubeflow-system",
})
_KIND = re.compile(r"^(?:(?P<group>[a-z0-9]([-a-z0-9.]*[a-z0-9])?)/)?(?P<kind>[A-Z][A-Za-z0-9]*)$")


def parse_kind(text: str) -> tuple[str, str]:
    """``"rbac.authorization.k8s.io/Role"`` -> ``("rbac.authorization.k8s.io", "Role")``; ``"Secret"`` is core."""
    match = _KIND.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not '<API group>/<Kind>' (or '<Kind>' for the core group), "
                         "e.g. 'rbac.authorization.k8s.io/Role' or 'Secret'")
    return match["group"] or "", match["kind"]


KindRef = str


class Tenancy(Spec):
    """What apps may do in their environment, declared by the platform (not inferred from the output).

    Each app owns exactly one namespace (``Environment.namespace``); the AppProject of the environment
    lists those namespaces and the declared kinds, and synth refuses any object outside them.
    """

    reserved_namespaces: list[str] = Field(default_factory=list, description="More namespaces no app may use, besides "
                                           "those always reserved (kube-*, default, Argo CD's and the operators'). Default: none.")
    extra_kinds: list[KindRef] = Field(default_factory=list, description="Namespaced kinds apps may deploy besides those mlkube "
                                       "constructs emit, as '<API group>/<Kind>' ('Secret' for the core group). Default: none.")
    extra_cluster_kinds: list[KindRef] = Field(default_factory=list, description="Cluster-scoped kinds apps may deploy "
                                               "besides their own Namespace ('<API group>/<Kind>'). Default: none.")
    secret_key_prefix: str = Field(default="{app}/", min_length=1, description="Prefix every remote key of an ExternalSecret read "
                                   "through a ClusterSecretStore must start with; '{app}', '{environment}' and '{namespace}' "
                                   "are replaced. A namespaced SecretStore is the app's own and is not restricted. Default: '{app}/'.")
    allowed_priority_classes: list[str] | None = Field(default=None, description="PriorityClass names pods may use. Default: any "
                                                        "name except Kubernetes' own 'system-*' classes.")

    @field_validator("extra_kinds", "extra_cluster_kinds")
    @classmethod
    def _kinds(cls, value: list[str]) -> list[str]:
        for item in value:
            parse_kind(item)
        return value

    @field_validator("reserved_namespaces")
    @classmethod
    def _namespaces(cls, value: list[str]) -> list[str]:
        bad = [name for name in value if not DNS_LABEL.fullmatch(name)]
        if bad:
            raise ValueError(f"namespaces must be DNS-1123 labels (got {bad})")
        return value

    def namespaced_kinds(self, operators: Collection[str] | None = None) -> list[tuple[str, str]]:
        """The declared kinds; with the environment's operators declared, only the kinds they serve."""
        builtin = {(group, kind) for group, kind in PLATFORM_KINDS
                   if operators is None or group not in OPERATOR_GROUPS or OPERATOR_GROUPS[group] in operators}
        return sorted({*builtin, *(parse_kind(item) for item in self.extra_kinds)})

    def cluster_kinds(self) -> list[tuple[str, str]]:
        return sorted({*CLUSTER_KINDS, *(parse_kind(item) for item in self.extra_cluster_kinds)})

    def key_prefix(self, app: str, environment: str, namespace: str) -> str:
        return self.secret_key_prefix.replace("{app}", app).replace("{environment}", environment).replace("{namespace}", namespace)


def reserved_namespace_reason(namespace: str, tenancy: Tenancy, argocd_namespace: str, environment: Any) -> str | None:
    """Why ``namespace`` cannot be an app's namespace, or None."""
    if namespace.startswith("kube-"):
        # https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/: "Avoid creating namespaces
        # with the prefix kube-, since it is reserved for Kubernetes system namespaces."
        return "the prefix 'kube-' is reserved for Kubernetes system namespaces"
    if namespace == "default":
        return "'default' is shared by everything that names no namespace (no quota, policy or owner)"
    if namespace == argocd_namespace:
        return "it is the namespace Argo CD runs in (GitOps.argocd_namespace)"
    if namespace == getattr(environment, "monitoring_namespace", None):
        return "it is the environment's monitoring namespace (Prometheus)"
    if namespace in OPERATOR_NAMESPACES:
        return "operators run there (an app would replace its namespace's guard rails)"
    if namespace in tenancy.reserved_namespaces:
        return "the platform reserves it (GitOps.tenancy.reserved_namespaces)"
    return None


def app_name_problem(name: Any) -> str | None:
    """Why ``name`` cannot name an app (a folder under dist/<environment>/ and a DNS label), or None."""
    if not isinstance(name, str):
        return f"an app name must be a string (got {type(name).__name__})"
    if not name:
        return "an app name must not be empty"
    if len(name) > 63 or not DNS_LABEL.fullmatch(name):
        return (f"app name {name!r} is not a DNS-1123 label: at most 63 lower-case letters, digits and '-', "
                "starting and ending with a letter or digit (it names a folder and the app's namespace)")
    return None
