"""mlkube's policy rules beyond the Pod Security Standard: identity, resources, probes, images,
secrets, network exposure and waivers. One small function per rule; the decorator registers it.

Together with :mod:`.pss` these cover every checkov check that fails on a naive model server, so an
output with no unwaived finding also passes checkov (the tests prove it on real checkov runs).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..core.image import is_digest_reference
from ..core.waivers import checkov_skips, waiver_annotations
from ..kube.selectors import selects
from . import (
    gitops_rules,  # noqa: F401  (behaviour under Argo CD's automated sync)
    pss,  # noqa: F401  (the PSS rules come first in every report)
)
from .model import Hit, Severity, Target, rule
from .pods import SERVER_KINDS, ContainerView, PodView

__all__ = ["MIN_UID", "CLUSTER_SCOPED_KINDS", "registry_allowed", "image_tag"]

#: UIDs below this may collide with users of the node (checkov CKV_K8S_40 uses the same bound).
MIN_UID = 10000
#: Kinds that live outside namespaces (the default-namespace rule skips them).
CLUSTER_SCOPED_KINDS = frozenset({
    "Namespace", "Node", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
    "CustomResourceDefinition", "PriorityClass", "IngressClass", "RuntimeClass", "APIService", "CSIDriver",
    "CSINode", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "VolumeSnapshotClass", "ClusterIssuer", "ClusterQueue", "ResourceFlavor",
    "WorkloadPriorityClass", "ClusterImagePolicy", "ClusterSecretStore", "FlowSchema", "PriorityLevelConfiguration",
    "CertificateSigningRequest",
})


def _list(value: Any) -> list[Any]:
    """A list field, or nothing when a malformed object holds something else there."""
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _workload_containers(target: Target) -> Iterator[tuple[PodView, ContainerView]]:
    """App and init containers (ephemeral containers are added by kubectl debug, not by manifests)."""
    for pod in target.pods:
        for container in target.containers_of(pod):
            if container.group != "ephemeralContainers":
                yield pod, container


# --- identity and file system -------------------------------------------------------------------

@rule("MLK-SEC-001", "error", f"Containers must run as a numeric UID of at least {MIN_UID}",
      rationale="Low UIDs collide with users of the node; a high, explicit UID also makes runAsNonRoot verifiable.",
      fix=f"set securityContext.runAsUser: 10001 (any UID >= {MIN_UID}) on the pod", checkov=("CKV_K8S_40",), pods_only=True)
def high_uid(target: Target) -> Iterator[Hit]:
    for pod, container in _workload_containers(target):
        if pod.spec.get("hostUsers") is False:
            continue  # a user namespace maps the UID to an unprivileged one on the node
        own = container.security_context.get("runAsUser")
        uid = own if own is not None else pod.security_context.get("runAsUser")
        if not isinstance(uid, int) or uid < MIN_UID:
            field = f"{container.path}.securityContext.runAsUser" if own is not None else pod.field("securityContext", "runAsUser")
            shown = "the image's default user" if uid is None else f"UID {uid}"
            yield Hit(field, f"{container.describe()} runs as {shown}")


@rule("MLK-SEC-002", "error", "Containers must have a read-only root file system",
      rationale="An attacker cannot drop tools or change code in the image; writable paths become explicit volumes.",
      fix="set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the process writes (/tmp, caches)",
      checkov=("CKV_K8S_22",), pods_only=True)
def read_only_root(target: Target) -> Iterator[Hit]:
    for _, container in _workload_containers(target):
        if container.security_context.get("readOnlyRootFilesystem") is not True:
            yield Hit(f"{container.path}.securityContext.readOnlyRootFilesystem",
                      f"{container.describe()} has a writable root file system")


@rule("MLK-SEC-003", "error", "Pods must not mount a service account token (automountServiceAccountToken: false)",
      rationale="A model server does not call the Kubernetes API; a mounted token is a credential waiting to be stolen.",
      fix="set automountServiceAccountToken: false in the pod spec (pods that call the API need a waiver)",
      checkov=("CKV_K8S_38",), pods_only=True)
def service_account_token(target: Target) -> Iterator[Hit]:
    for pod in target.pods:
        if pod.spec.get("automountServiceAccountToken") is not False:
            yield Hit(pod.field("automountServiceAccountToken"), "the pod mounts a service account token")


@rule("MLK-SEC-004", "warning", "Containers should add no capabilities at all",
      rationale="Even NET_BIND_SERVICE is unneeded when the server listens on a port above 1024.",
      fix="listen on a port >= 1024 and remove securityContext.capabilities.add", checkov=("CKV_K8S_25",), pods_only=True)
def added_capabilities(target: Target) -> Iterator[Hit]:
    for _, container in _workload_containers(target):
        added = _list(_dict(container.security_context.get("capabilities")).get("add"))
        if added:
            yield Hit(f"{container.path}.securityContext.capabilities.add", f"{container.describe()} adds {', '.join(map(str, added))}")


@rule("MLK-SEC-005", "error", "The output must not contain Secret objects with data",
      rationale="The config repo is readable by many: secret values come from an external store or already exist in the cluster.",
      fix="use an ExternalSecret (or a SealedSecret) and reference the Secret it creates by name", kinds=("Secret",))
def secret_data(target: Target) -> Iterator[Hit]:
    if target.kind == "Secret":
        for key in ("data", "stringData"):
            if target.obj.get(key):
                yield Hit(key, f"Secret {target.manifest.name!r} carries {key} ({len(target.obj[key])} keys) in the repository")


@rule("MLK-SEC-006", "error", "Secrets must be mounted as files, not passed as environment variables",
      rationale="Environment variables leak into logs, crash dumps, child processes and `kubectl describe`.",
      fix="mount the Secret as a volume and read the file",
      checkov=("CKV_K8S_35",), pods_only=True)
def secret_env(target: Target) -> Iterator[Hit]:
    for _, container in _workload_containers(target):
        for index, env in enumerate(_list(container.container.get("env"))):
            ref = _dict(_dict(_dict(env).get("valueFrom")).get("secretKeyRef"))
            if ref:
                yield Hit(f"{container.path}.env[{index}].valueFrom.secretKeyRef",
                          f"{container.describe()} reads Secret {ref.get('name')!r} into env var {_dict(env).get('name')}")
        for index, source in enumerate(_list(container.container.get("envFrom"))):
            ref = _dict(_dict(source).get("secretRef"))
            if ref:
                yield Hit(f"{container.path}.envFrom[{index}].secretRef",
                          f"{container.describe()} loads every key of Secret {ref.get('name')!r} into env vars")


@rule("MLK-SEC-007", "warning", "The default ServiceAccount must not mount its token",
      rationale="Every pod without a service account of its own gets the default one and its token.",
      fix="set automountServiceAccountToken: false on the default ServiceAccount", checkov=("CKV_K8S_41",), kinds=("ServiceAccount",))
def default_service_account(target: Target) -> Iterator[Hit]:
    if target.kind == "ServiceAccount" and target.manifest.name == "default" and target.obj.get("automountServiceAccountToken") is not False:
        yield Hit("automountServiceAccountToken", "the default ServiceAccount mounts its token into pods")


@rule("MLK-SEC-008", "warning", "Pods should set a pod-level securityContext",
      rationale="Pod-level settings (runAsNonRoot, runAsUser, seccomp) also cover containers added later, such as sidecars.",
      fix="set spec.securityContext with runAsNonRoot, runAsUser and seccompProfile", checkov=("CKV_K8S_29",), pods_only=True)
def pod_security_context(target: Target) -> Iterator[Hit]:
    for pod in target.pods:
        if not pod.security_context:
            yield Hit(pod.field("securityContext"), "the pod has no securityContext")


# --- resources and probes -----------------------------------------------------------------------

def _missing_resources(target: Target, section: str) -> Iterator[Hit]:
    for _, container in _workload_containers(target):
        values = _dict(_dict(container.container.get("resources")).get(section))
        for resource in ("cpu", "memory"):
            if values.get(resource) in (None, ""):
                yield Hit(f"{container.path}.resources.{section}.{resource}", f"{container.describe()} has no {resource} {section[:-1]}")


@rule("MLK-RES-001", "error", "Containers must request cpu and memory",
      rationale="Requests are what the scheduler reserves; without them pods land on full nodes and are evicted first.",
      fix="set resources.requests.cpu and resources.requests.memory", checkov=("CKV_K8S_10", "CKV_K8S_12"), pods_only=True)
def resource_requests(target: Target) -> Iterator[Hit]:
    yield from _missing_resources(target, "requests")


@rule("MLK-RES-002", "error", "Containers must limit cpu and memory",
      rationale="Limits stop one runaway container (a memory leak, a huge batch) from starving its neighbours.",
      fix="set resources.limits.cpu and resources.limits.memory", checkov=("CKV_K8S_11", "CKV_K8S_13"), pods_only=True)
def resource_limits(target: Target) -> Iterator[Hit]:
    yield from _missing_resources(target, "limits")


def _missing_probe(target: Target, probe: str) -> Iterator[Hit]:
    if target.kind not in SERVER_KINDS:
        return  # Jobs run to completion; their health is their exit code
    for pod in target.pods:
        for container in target.containers_of(pod):
            if container.group == "containers" and not container.container.get(probe):
                yield Hit(f"{container.path}.{probe}", f"{container.describe()} has no {probe}")


@rule("MLK-PRB-001", "error", "Server containers must have a liveness probe",
      rationale="Without one, a hung server (a deadlocked worker, a wedged GPU) keeps its pod and its traffic forever.",
      fix="set livenessProbe (mlkube servers probe their health endpoint)", checkov=("CKV_K8S_8",), pods_only=True, kinds=SERVER_KINDS)
def liveness_probe(target: Target) -> Iterator[Hit]:
    yield from _missing_probe(target, "livenessProbe")


@rule("MLK-PRB-002", "error", "Server containers must have a readiness probe",
      rationale="Without one, traffic reaches a pod before its model is loaded, and during rollouts requests fail.",
      fix="set readinessProbe on the endpoint that answers once the model is loaded", checkov=("CKV_K8S_9",), pods_only=True, kinds=SERVER_KINDS)
def readiness_probe(target: Target) -> Iterator[Hit]:
    yield from _missing_probe(target, "readinessProbe")


# --- images -------------------------------------------------------------------------------------

def _images(target: Target) -> Iterator[tuple[ContainerView, str]]:
    for _, container in _workload_containers(target):
        yield container, str(container.container.get("image") or "")


def image_tag(reference: str) -> str:
    """The tag of an image reference without digest; '' when it has none."""
    last = reference.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


def _normalized(reference: str) -> str:
    """``python:3.11`` -> ``docker.io/library/python:3.11``, the way container runtimes read it."""
    first, _, rest = reference.partition("/")
    if not rest:
        return f"docker.io/library/{reference}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{reference}"
    return reference


def registry_allowed(reference: str, prefixes: tuple[str, ...]) -> bool:
    """Whether the image starts with one of the prefixes, at a path boundary (``ghcr.io/acme`` != ``ghcr.io/acmex``)."""
    for candidate in {reference, _normalized(reference)}:
        for prefix in prefixes:
            if candidate.startswith(prefix) and (prefix.endswith("/") or len(candidate) == len(prefix) or candidate[len(prefix)] in "/:@"):
                return True
    return False


@rule("MLK-IMG-001", "error", "Images must be pinned by digest",
      rationale="A tag can be moved to other bytes; a digest names exactly the image that was tested and scanned.",
      fix="name the image as repository@sha256:<digest> (an error where the environment requires digests, "
          "a warning elsewhere)", checkov=("CKV_K8S_43",), pods_only=True)
def image_digest(target: Target) -> Iterator[Hit]:
    severity: Severity = "error" if target.settings.require_digests else "warning"
    for container, image in _images(target):
        if not is_digest_reference(image):
            yield Hit(f"{container.path}.image", f"{container.describe()} uses {image!r}, not pinned by digest", severity)


@rule("MLK-IMG-002", "error", "Images must come from the environment's allowed registries",
      rationale="Only registries the platform mirrors, scans and trusts may supply code that runs in the cluster.",
      fix="push the image to an allowed registry, or add its prefix to the environment's allowed_registries", pods_only=True)
def image_registry(target: Target) -> Iterator[Hit]:
    allowed = target.settings.allowed_registries
    if not allowed:
        return
    for container, image in _images(target):
        if not registry_allowed(image, allowed):
            yield Hit(f"{container.path}.image", f"{container.describe()} uses {image!r}, which is not under {', '.join(allowed)}")


@rule("MLK-IMG-003", "error", "Images must name a fixed tag or a digest (not latest, not blank)",
      rationale="'latest' changes under you: two pods of one Deployment may run different code.",
      fix="use a version tag (model-server:1.4.2) or a digest", checkov=("CKV_K8S_14",), pods_only=True)
def image_fixed_tag(target: Target) -> Iterator[Hit]:
    for container, image in _images(target):
        if "@" not in image and image_tag(image) in ("", "latest"):
            yield Hit(f"{container.path}.image", f"{container.describe()} uses {image!r} ({'latest' if image else 'no image'})")


@rule("MLK-IMG-004", "warning", "Images named by tag only should be pulled Always",
      rationale="With IfNotPresent, a node keeps running whatever it pulled first under that tag.",
      fix="pin the image by digest (best) or set imagePullPolicy: Always", checkov=("CKV_K8S_15",), pods_only=True)
def image_pull_policy(target: Target) -> Iterator[Hit]:
    for container, image in _images(target):
        if not image or "@" in image:
            continue
        policy = container.container.get("imagePullPolicy")
        if (policy is None and image_tag(image) not in ("", "latest")) or policy not in (None, "Always"):
            yield Hit(f"{container.path}.imagePullPolicy", f"{container.describe()} pulls {image!r} with {policy or 'IfNotPresent (the default for a tag)'}")


# --- network and namespaces -------------------------------------------------------------------------

def _namespace(obj: dict[str, Any]) -> str:
    return str(_dict(obj.get("metadata")).get("namespace") or "default")


def _selectors_by_namespace(target: Target) -> dict[str, list[dict[str, Any]]]:
    index: dict[str, list[dict[str, Any]]] = {}
    for manifest in target.neighbours:
        if manifest.kind == "NetworkPolicy":
            index.setdefault(_namespace(manifest.obj), []).append(_dict(_dict(manifest.obj.get("spec")).get("podSelector")))
    return index


@rule("MLK-NET-001", "error", "Every pod must be selected by a NetworkPolicy in its namespace",
      rationale="Without a NetworkPolicy every pod of the cluster can reach the model server and its metrics.",
      fix="add a NetworkPolicy whose podSelector matches the pod labels (mlkube servers get one by default)",
      checkov=("CKV2_K8S_6",), pods_only=True)
def network_policy(target: Target) -> Iterator[Hit]:
    if not target.pods:
        return
    namespace = _namespace(target.obj)
    policies = target.memo("network-policies", lambda: _selectors_by_namespace(target)).get(namespace, [])
    for pod in target.pods:
        if not any(selects(selector, pod.labels) for selector in policies):
            field = pod.annotations_path.rsplit(".", 1)[0] + ".labels"
            yield Hit(field, f"no NetworkPolicy in namespace {namespace!r} selects the pod labels {dict(sorted(pod.labels.items()))}")


@rule("MLK-NET-002", "error", "Services must not be of type LoadBalancer or NodePort",
      rationale="These open the model to networks outside the cluster, past the ingress and its authentication.",
      fix="use type ClusterIP behind the platform's ingress or gateway", kinds=("Service",))
def service_exposure(target: Target) -> Iterator[Hit]:
    kind = _dict(target.obj.get("spec")).get("type")
    if target.kind == "Service" and kind in ("LoadBalancer", "NodePort"):
        yield Hit("spec.type", f"Service {target.manifest.name!r} is of type {kind}")


@rule("MLK-NS-001", "error", "Namespaced objects must not live in the default namespace",
      rationale="The default namespace has no quotas, policies or owner: mlkube gives every app its own namespace.",
      fix="set metadata.namespace (mlkube sets the app's namespace)", checkov=("CKV_K8S_21",))
def default_namespace(target: Target) -> Iterator[Hit]:
    if target.kind and target.kind not in CLUSTER_SCOPED_KINDS and _namespace(target.obj) == "default":
        yield Hit("metadata.namespace", f"{target.manifest.describe()} is in the default namespace")


# --- waivers ------------------------------------------------------------------------------------------

@rule("MLK-WVR-001", "error", "A waiver must give a reason",
      rationale="A waiver without a reason cannot be reviewed; reviewers and scanners read the reason in the object.",
      fix="give the reason: Waiver(rule=..., reason='why this object needs the exception')", waivable=False)
def waiver_reason(target: Target) -> Iterator[Hit]:
    for key, reason in waiver_annotations(target.obj).items():
        if not reason.strip():
            yield Hit("metadata.annotations", f"annotation {key} waives a rule without a reason")
    for key, check, reason in checkov_skips(target.obj):
        if not reason.strip():
            yield Hit("metadata.annotations", f"annotation {key} skips checkov check {check} without a reason (write {check}=<reason>)")


@rule("MLK-WVR-002", "warning", "A waiver must name a known rule",
      rationale="A misspelled rule ID waives nothing, and the finding it meant to waive still fails.",
      fix="use a rule ID from `mlkube validate --policy` output (MLK-...)", waivable=False)
def waiver_rule_known(target: Target) -> Iterator[Hit]:
    from .model import RULES

    for key in sorted(waiver_annotations(target.obj)):
        rule_id = key.split("waive.", 1)[1]
        if rule_id not in RULES:
            yield Hit("metadata.annotations", f"annotation {key} waives {rule_id!r}, which is not a rule")



from . import credentials  # noqa: E402,F401  (MLK-SEC-009: values that look like credentials)
