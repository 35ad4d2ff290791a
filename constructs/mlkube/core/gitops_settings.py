"""The GitOps settings of an environment and of the platform: overrides, sync, quotas, Argo CD.

Pure specs (no construct imports) so that platform.py can use them as Environment fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from ..kube.quantity import Quantity
from .spec import DnsLabel, Spec
from .tenancy import Tenancy

__all__ = ["WorkloadOverride", "SyncPolicy", "QuotaSpec", "LimitRangeSpec", "NetworkSpec", "GitOps", "IN_CLUSTER"]

#: Argo CD's name for the cluster it runs in.
IN_CLUSTER = "https://kubernetes.default.svc"


class WorkloadOverride(Spec):
    """What an environment may change in one construct's spec (keyed by ``<app>/<construct id>``).

    Each field maps onto a spec field; naming a field the construct's spec does not have is an error.
    """

    replicas: PositiveInt | None = Field(default=None, description="Fixed replica count (spec.replicas); turns autoscaling off. Default: the blueprint's.")
    min_replicas: PositiveInt | None = Field(default=None, description="Autoscaling minimum (spec.autoscaling.min_replicas). Default: the blueprint's.")
    max_replicas: PositiveInt | None = Field(default=None, description="Autoscaling maximum (spec.autoscaling.max_replicas). Default: the blueprint's.")
    gpu_product: str | None = Field(default=None, description="GPU product node label (spec.resources.gpu.product); the workload must request GPUs. Default: the blueprint's.")
    resource_scale: PositiveFloat | None = Field(default=None, description="Factor applied to cpu and memory requests and limits (spec.resources). Default: 1.")
    hostnames: list[str] | None = Field(default=None, description="Public hostnames (spec.hostnames), for constructs that expose one. Default: the blueprint's.")
    spec: dict[str, Any] = Field(default_factory=dict, description="Any other spec fields, deep-merged into the blueprint's spec. Default: none.")

    @model_validator(mode="after")
    def _replicas_or_range(self) -> WorkloadOverride:
        if self.replicas is not None and (self.min_replicas is not None or self.max_replicas is not None):
            raise ValueError("set either 'replicas' (fixed) or 'min_replicas'/'max_replicas' (autoscaling), not both")
        if self.min_replicas is not None and self.max_replicas is not None and self.min_replicas > self.max_replicas:
            raise ValueError(f"'min_replicas' ({self.min_replicas}) must be less than or equal to 'max_replicas' ({self.max_replicas})")
        return self


class SyncPolicy(Spec):
    """How Argo CD syncs the environment's Applications."""

    automated: bool | None = Field(default=None, description="Sync on every commit. Default: true, except for production environments (manual sync).")
    prune: bool = Field(default=True, description="With automated sync, delete objects removed from Git (volumes are never pruned). Default: true.")
    self_heal: bool = Field(default=True, description="With automated sync, revert changes made in the cluster. Default: true.")


class QuotaSpec(Spec):
    """ResourceQuota of each namespace of the environment: caps on the sum of requests."""

    cpu: Quantity = Field(default="64", description="requests.cpu (and limits.cpu) of all pods together. Default: 64 cores.")
    memory: Quantity = Field(default="512Gi", description="requests.memory (and limits.memory) of all pods together. Default: 512Gi.")
    gpus: NonNegativeInt = Field(default=8, description="requests.nvidia.com/gpu of all pods together. Default: 8.")
    pods: PositiveInt | None = Field(default=None, description="Number of pods. Default: no cap.")


class LimitRangeSpec(Spec):
    """LimitRange of each namespace: what a container without resources gets."""

    default_cpu_request: Quantity = Field(default="250m", description="defaultRequest.cpu. Default: 250m.")
    default_memory_request: Quantity = Field(default="256Mi", description="defaultRequest.memory. Default: 256Mi.")
    default_cpu_limit: Quantity = Field(default="1", description="default.cpu (limit). Default: 1.")
    default_memory_limit: Quantity = Field(default="1Gi", description="default.memory (limit). Default: 1Gi.")


class NetworkSpec(Spec):
    """The namespace-wide network policy: deny all, then allow DNS and what is listed here."""

    egress_https_cidrs: list[str] = Field(default_factory=list, description="CIDRs pods may reach on TCP 443 (model downloads, APIs), e.g. '0.0.0.0/0'. Default: none (DNS only).")
    dns_namespace: str = Field(default="kube-system", description="Namespace of the cluster DNS pods every pod may query on port 53 (OpenShift: 'openshift-dns'). Default: kube-system.")
    dns_pod_labels: dict[str, str] = Field(default_factory=lambda: {"k8s-app": "kube-dns"}, description="Labels of the cluster DNS pods (CoreDNS keeps k8s-app: kube-dns on kubeadm, EKS, GKE, AKS). Default: {'k8s-app': 'kube-dns'}.")
    dns_cidrs: list[str] = Field(default_factory=list, description="Addresses pods also query on port 53, e.g. ['169.254.20.10/32'] for NodeLocal DNSCache. Default: none.")


class GitOps(Spec):
    """Platform-wide Argo CD settings: where the config repo lives and how Argo CD finds the folders."""

    repo_url: str | None = Field(default=None, description="URL of the config repo Argo CD pulls (AppProject sourceRepos, Application source). Default: none, and no Argo CD objects are written.")
    target_revision: str = Field(default="main", description="Branch, tag or commit Argo CD syncs. Default: main.")
    source: Literal["manifests", "chart"] = Field(default="manifests", description="What each Application deploys: 'manifests' (default), the "
                                                  "app's folder of the config repo; 'chart', the Helm chart `mlkube chart --push` pushed, "
                                                  "by the digest the lock records (Argo CD 3.1+).")
    chart_registry: str | None = Field(default=None, description="With source='chart': the OCI registry path the generated CI workflows push "
                                       "each app's chart to (`mlkube chart --push`), e.g. 'ghcr.io/acme/charts'. Default: none, and the "
                                       "workflows read the repository variable MLKUBE_CHART_REGISTRY.")
    path: str = Field(default="dist", description="Folder of the output inside the config repo. Default: dist.")
    argocd_namespace: DnsLabel = Field(default="argocd", description="Namespace Argo CD runs in (holds AppProjects and Applications). Default: argocd.")
    ci_install: str = Field(default="pip install mlkube", description="Shell command CI runs to install mlkube in the config repo. Default: pip install mlkube.")
    ci_registry: str = Field(default="ghcr.io", description="Registry CI logs in to before pushing images (with the workflow's token). Default: ghcr.io.")
    entry_environments: list[DnsLabel] | None = Field(default=None, description="Environments CI builds images for and pins (`mlkube pin`): "
                                                      "the entry of the promotion chain. Every other environment is gated. Default: every "
                                                      "environment that is neither production nor has promote_from.")
    sign_images: bool = Field(default=False, description="Sign every pushed image keyless with cosign (Sigstore); only then does the build job get "
                              "`id-token: write`. Default: false.")
    cluster_label: str = Field(default="mlkube.dev/cluster", description="Label of Argo CD cluster secrets that the cluster generator matches against Environment.clusters. Default: mlkube.dev/cluster.")
    tenancy: Tenancy = Field(default_factory=Tenancy, description="What apps may do: reserved namespaces, allowed kinds, secret key prefix, priority classes. Default: see Tenancy.")
