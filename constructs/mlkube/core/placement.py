"""Where a workload's pods run and who they are: node selector, affinity, tolerations, topology spread,
added capabilities (with a waiver) and ServiceAccount annotations (cloud workload identity).

``PlacementOptions`` is a base of every workload spec (InferenceServiceSpec, JobOptions), so each
workload has the same fields with the same meaning; ``pod.PodBuilder`` renders them into the pod spec.
Field names follow the Kubernetes core/v1 PodSpec (https://kubernetes.io/docs/concepts/scheduling-eviction/).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, NonNegativeInt, field_validator, model_validator

from .spec import Spec

__all__ = ["PlacementOptions", "NodeSelectorRequirement", "NodeTerm", "PreferredNodeTerm", "PodAntiAffinity",
           "AffinitySpec", "Toleration", "TopologySpread", "CAPABILITY_RULE", "IRSA_ANNOTATION", "GKE_ANNOTATION",
           "placement_pod_spec", "service_account_body"]

#: The policy rule that forbids added capabilities (restricted Pod Security Standard: only NET_BIND_SERVICE).
CAPABILITY_RULE = "MLK-PSS-005"
#: EKS IAM Roles for Service Accounts (docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html).
#: The EKS pod identity webhook then adds its own projected token volume 'aws-iam-token' and AWS_ROLE_ARN /
#: AWS_WEB_IDENTITY_TOKEN_FILE to every container, whatever automountServiceAccountToken says (mlkube keeps it false):
#: aws/amazon-eks-pod-identity-webhook pkg/handler/testdata/rawPodWithoutVolumes.pod.yaml (expected patch).
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
#: GKE Workload Identity (cloud.google.com/kubernetes-engine/docs/how-to/workload-identity).
GKE_ANNOTATION = "iam.gke.io/gcp-service-account"
_IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$")
_GCP_SERVICE_ACCOUNT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9.:-]+\.iam\.gserviceaccount\.com$")
# Linux capability names as the container runtime takes them (man 7 capabilities), without the CAP_ prefix.
_CAPABILITY = re.compile(r"^[A-Z][A-Z_]*$")
# A label or annotation key: an optional DNS subdomain prefix and a name (apimachinery validation.IsQualifiedName).
_QUALIFIED_NAME = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def _qualified(key: str) -> str:
    if not _QUALIFIED_NAME.match(key) or len(key.partition("/")[0]) > 253:
        raise ValueError(f"{key!r} is not a label key: an optional DNS prefix and '/', then a name of at most 63 "
                         "alphanumerics, '-', '_' or '.' (e.g. 'node.kubernetes.io/instance-type')")
    return key


class NodeSelectorRequirement(Spec):
    """One node label test (core/v1 NodeSelectorRequirement)."""

    key: str = Field(description="Node label key, e.g. 'node.kubernetes.io/instance-type'.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"] = Field(default="In", description="How the label is tested. Default: In.")
    values: list[str] = Field(default_factory=list, description="Values for In/NotIn (one or more), one integer for Gt/Lt, none for Exists/DoesNotExist. Default: none.")

    _key = field_validator("key")(lambda cls, value: _qualified(value))

    @model_validator(mode="after")
    def _values_fit_operator(self) -> NodeSelectorRequirement:
        # core/v1 validation (pkg/apis/core/validation ValidateNodeSelectorRequirement).
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs at least one value")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values (got {self.values})")
        if self.operator in ("Gt", "Lt") and (len(self.values) != 1 or not self.values[0].lstrip("-").isdigit()):
            raise ValueError(f"operator {self.operator} takes exactly one integer value (got {self.values})")
        return self

    def to_kube(self) -> dict[str, Any]:
        body: dict[str, Any] = {"key": self.key, "operator": self.operator}
        if self.values:
            body["values"] = list(self.values)
        return body


class NodeTerm(Spec):
    """Node label tests that must all hold (core/v1 NodeSelectorTerm)."""

    match_expressions: list[NodeSelectorRequirement] = Field(min_length=1, description="The tests, all of which must hold.")

    def to_kube(self) -> dict[str, Any]:
        return {"matchExpressions": [item.to_kube() for item in self.match_expressions]}


class PreferredNodeTerm(Spec):
    """A node term the scheduler favours with a weight (core/v1 PreferredSchedulingTerm)."""

    weight: int = Field(ge=1, le=100, description="Weight 1 to 100, added to a node's score when the term holds.")
    match_expressions: list[NodeSelectorRequirement] = Field(min_length=1, description="The tests, all of which must hold.")

    def to_kube(self) -> dict[str, Any]:
        return {"preference": {"matchExpressions": [item.to_kube() for item in self.match_expressions]}, "weight": self.weight}


class PodAntiAffinity(Spec):
    """Keep this workload's pods apart (one per node or per zone), hard or as a preference."""

    topology_key: str = Field(default="kubernetes.io/hostname", description="Node label that defines 'apart', e.g. "
                              "'topology.kubernetes.io/zone'. Default: kubernetes.io/hostname (one pod per node).")
    required: bool = Field(default=False, description="True: pods never share a topology domain (extra pods stay Pending); false: "
                           "the scheduler prefers apart. Default: false.")
    weight: int = Field(default=100, ge=1, le=100, description="Weight of the preference (when not required). Default: 100.")

    _key = field_validator("topology_key")(lambda cls, value: _qualified(value))

    def to_kube(self, selector: dict[str, str]) -> dict[str, Any]:
        term = {"labelSelector": {"matchLabels": dict(selector)}, "topologyKey": self.topology_key}
        if self.required:
            return {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
        return {"preferredDuringSchedulingIgnoredDuringExecution": [{"podAffinityTerm": term, "weight": self.weight}]}


class AffinitySpec(Spec):
    """Node affinity (required and preferred terms) and anti-affinity between this workload's own pods."""

    required_node_terms: list[NodeTerm] = Field(default_factory=list, description="Nodes must match one of these terms "
                                                "(requiredDuringSchedulingIgnoredDuringExecution). Default: any node.")
    preferred_node_terms: list[PreferredNodeTerm] = Field(default_factory=list, description="Weighted terms the scheduler "
                                                          "favours (preferredDuringSchedulingIgnoredDuringExecution). Default: none.")
    pod_anti_affinity: PodAntiAffinity | None = Field(default=None, description="Spread this workload's pods apart. Default: none.")

    def to_kube(self, selector: dict[str, str]) -> dict[str, Any]:
        affinity: dict[str, Any] = {}
        node: dict[str, Any] = {}
        if self.preferred_node_terms:
            node["preferredDuringSchedulingIgnoredDuringExecution"] = [term.to_kube() for term in self.preferred_node_terms]
        if self.required_node_terms:
            node["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term.to_kube() for term in self.required_node_terms]}
        if node:
            affinity["nodeAffinity"] = node
        if self.pod_anti_affinity is not None:
            affinity["podAntiAffinity"] = self.pod_anti_affinity.to_kube(selector)
        return affinity


class Toleration(Spec):
    """Let pods onto nodes with a matching taint (core/v1 Toleration)."""

    key: str | None = Field(default=None, description="Taint key, e.g. 'vpc.amazonaws.com/efa'. Default: every key (with operator Exists).")
    operator: Literal["Equal", "Exists"] = Field(default="Equal", description="'Equal' matches key and value; 'Exists' any value. Default: Equal.")
    value: str | None = Field(default=None, description="Taint value (with Equal). Default: empty.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(default=None, description="Taint effect matched. Default: every effect.")
    toleration_seconds: NonNegativeInt | None = Field(default=None, description="With NoExecute: how long the pod stays after the taint appears. Default: forever.")

    @model_validator(mode="after")
    def _consistent(self) -> Toleration:
        # core/v1 validation (ValidateTolerations): Exists takes no value; an empty key needs Exists; seconds only with NoExecute.
        if self.operator == "Exists" and self.value:
            raise ValueError(f"operator Exists takes no value (got {self.value!r})")
        if self.key is None and self.operator != "Exists":
            raise ValueError("a toleration without a key must use operator Exists (it then tolerates every taint)")
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            raise ValueError("toleration_seconds applies only to effect NoExecute")
        if self.key is not None:
            _qualified(self.key)
        return self

    def to_kube(self) -> dict[str, Any]:
        body: dict[str, Any] = {"operator": self.operator}
        for name, value in (("key", self.key), ("value", self.value), ("effect", self.effect), ("tolerationSeconds", self.toleration_seconds)):
            if value is not None:
                body[name] = value
        return dict(sorted(body.items()))


class TopologySpread(Spec):
    """Spread this workload's pods evenly over a topology (core/v1 TopologySpreadConstraint)."""

    topology_key: str = Field(description="Node label of the domains, e.g. 'topology.kubernetes.io/zone'.")
    max_skew: int = Field(default=1, ge=1, description="Largest allowed difference of pod counts between domains. Default: 1.")
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"] = Field(default="DoNotSchedule", description="'DoNotSchedule' keeps "
                                                                           "pods Pending; 'ScheduleAnyway' only prefers. Default: DoNotSchedule.")
    min_domains: int | None = Field(default=None, ge=1, description="Domains counted even when empty (only with DoNotSchedule). Default: none.")

    _key = field_validator("topology_key")(lambda cls, value: _qualified(value))

    @model_validator(mode="after")
    def _min_domains(self) -> TopologySpread:
        if self.min_domains is not None and self.when_unsatisfiable != "DoNotSchedule":
            raise ValueError("min_domains needs when_unsatisfiable DoNotSchedule (core/v1 validation)")
        return self

    def to_kube(self, selector: dict[str, str]) -> dict[str, Any]:
        body: dict[str, Any] = {"labelSelector": {"matchLabels": dict(selector)}, "maxSkew": self.max_skew,
                                "topologyKey": self.topology_key, "whenUnsatisfiable": self.when_unsatisfiable}
        if self.min_domains is not None:
            body["minDomains"] = self.min_domains
        return body


class PlacementOptions(Spec):
    """Scheduling and identity fields shared by every workload spec."""

    node_selector: dict[str, str] = Field(default_factory=dict, description="Node labels the pods require (merged with the GPU "
                                          "product label), e.g. {'node.kubernetes.io/instance-type': 'p5.48xlarge'}. Default: none.")
    affinity: AffinitySpec | None = Field(default=None, description="Node affinity terms and pod anti-affinity. Default: none.")
    tolerations: list[Toleration] = Field(default_factory=list, description="Taints the pods tolerate, besides the GPU taint "
                                          "(resources.gpu.tolerate_gpu_taint). Default: none.")
    topology_spread: list[TopologySpread] = Field(default_factory=list, description="Topology spread constraints over this "
                                                  "workload's pods (added to an InferenceService's 'spread' preset). Default: none.")
    add_capabilities: list[str] = Field(default_factory=list, description="Linux capabilities added to the main container, e.g. "
                                        "['IPC_LOCK'] for GPUDirect RDMA (pinned memory). The restricted Pod Security Standard forbids "
                                        "them, so each needs a waiver of rule MLK-PSS-005 with its reason in 'waivers', and the "
                                        "namespace must not enforce 'restricted'. Default: none (ALL dropped).")
    service_account_annotations: dict[str, str] = Field(default_factory=dict, description="Annotations of the workload's "
                                                        "ServiceAccount: cloud workload identity, e.g. {'eks.amazonaws.com/role-arn': "
                                                        "'arn:aws:iam::111122223333:role/train'} (IRSA) or {'iam.gke.io/gcp-service-account': "
                                                        "'trainer@proj.iam.gserviceaccount.com'} (GKE). Default: none.")

    @field_validator("node_selector", "service_account_annotations")
    @classmethod
    def _keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            _qualified(key)
        return dict(sorted(value.items()))

    @field_validator("add_capabilities")
    @classmethod
    def _capability_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _CAPABILITY.match(name) or name.startswith("CAP_"):
                raise ValueError(f"{name!r} is not a capability name: upper case without the CAP_ prefix, e.g. 'IPC_LOCK'")
            if name in ("SYS_ADMIN", "ALL"):
                raise ValueError(f"{name} gives the container the node: it cannot be added; GPUDirect RDMA needs IPC_LOCK only")
        return sorted(set(value))

    @field_validator("service_account_annotations")
    @classmethod
    def _identity_values(cls, value: dict[str, str]) -> dict[str, str]:
        role = value.get(IRSA_ANNOTATION)
        if role is not None and not _IAM_ROLE_ARN.match(role):
            raise ValueError(f"{IRSA_ANNOTATION} must be an IAM role ARN such as 'arn:aws:iam::111122223333:role/train' (got {role!r})")
        account = value.get(GKE_ANNOTATION)
        if account is not None and not _GCP_SERVICE_ACCOUNT.match(account):
            raise ValueError(f"{GKE_ANNOTATION} must be a Google service account email such as "
                             f"'trainer@my-project.iam.gserviceaccount.com' (got {account!r})")
        return value

    @model_validator(mode="after")
    def _capabilities_waived(self) -> PlacementOptions:
        added = [name for name in self.add_capabilities if name != "NET_BIND_SERVICE"]
        waived = any(getattr(waiver, "rule", None) == CAPABILITY_RULE for waiver in getattr(self, "waivers", []))
        if added and not waived:
            raise ValueError(f"add_capabilities {added} breaks the restricted Pod Security Standard (rule {CAPABILITY_RULE}): "
                             f"add waivers=[Waiver(rule='{CAPABILITY_RULE}', reason='<why, e.g. GPUDirect RDMA pins memory>')]")
        return self


def service_account_body(options: PlacementOptions) -> dict[str, Any]:
    """The ServiceAccount's fields besides its name: no token mounted, and the identity annotations."""
    body: dict[str, Any] = {"automountServiceAccountToken": False}
    if options.service_account_annotations:
        body["metadata"] = {"annotations": dict(options.service_account_annotations)}
    return body


def placement_pod_spec(options: PlacementOptions, selector: dict[str, str]) -> dict[str, Any]:
    """The pod spec fields of ``options`` (nodeSelector and tolerations are merged by PodBuilder)."""
    spec: dict[str, Any] = {}
    if options.affinity is not None and options.affinity.to_kube(selector):
        spec["affinity"] = options.affinity.to_kube(selector)
    if options.topology_spread:
        spec["topologySpreadConstraints"] = [item.to_kube(selector) for item in options.topology_spread]
    return spec
