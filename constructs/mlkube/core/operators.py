"""Operators an environment may have (and their versions), and the check that an option's operator is there.

An environment lists its operators (``operators=["kserve", "kueue"]``) or maps each to the version it
runs (``operators={"kserve": "0.15", "kueue": "0.13", "jobset": "0.8"}``). Constructs emit fields and
values for that version; an option the version lacks is an error naming both.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .construct import MlConstruct

__all__ = ["Operator", "OPERATOR_NAMES", "Version", "parse_version", "require_operator", "operator_version",
           "check_operator_versions", "require_version", "kserve_version", "KSERVE_VERSIONS", "DEFAULT_KSERVE_VERSION", "storage_initializer_image",
           "kserve_mode_name", "kubernetes_has"]

Operator = Literal["kserve", "keda", "prometheus-operator", "external-secrets", "kueue", "jobset", "volcano", "argocd",
                   "prometheus-adapter", "trainer", "lws", "gateway-api", "cert-manager"]

OPERATOR_NAMES: dict[str, str] = {
    "kserve": "KServe", "keda": "KEDA", "prometheus-operator": "the Prometheus Operator",
    "external-secrets": "External Secrets Operator", "kueue": "Kueue", "jobset": "JobSet", "volcano": "Volcano",
    "argocd": "Argo CD",
    # An HPA "Pods" metric is read from the custom.metrics.k8s.io API, which only an adapter serves
    # (kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#support-for-custom-metrics).
    "trainer": "Kubeflow Trainer",
    "lws": "LeaderWorkerSet (kubernetes-sigs/lws)",
    "prometheus-adapter": "a custom metrics adapter (prometheus-adapter, serving custom.metrics.k8s.io)",
    # HTTPRoute needs the Gateway API CRDs and a controller implementing them (gateway-api.sigs.k8s.io/implementations).
    "gateway-api": "the Gateway API (CRDs and a Gateway controller)",
    "cert-manager": "cert-manager",
}

Version = tuple[int, int]
_VERSION = re.compile(r"^v?(?P<major>0|[1-9][0-9]*)\.(?P<minor>0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?$")

#: KServe minor versions mlkube knows, with the storage-initializer tag of their newest patch release
#: (git tags of kserve/kserve; the release workflow publishes kserve/storage-initializer:<tag>).
KSERVE_VERSIONS: dict[Version, str] = {(0, 14): "v0.14.1", (0, 15): "v0.15.2", (0, 16): "v0.16.0", (0, 17): "v0.17.1"}
#: The KServe version assumed when an environment does not say: the one mlkube's model downloader has always been.
DEFAULT_KSERVE_VERSION: Version = (0, 15)
#: Oldest versions that have every field mlkube writes; older ones are refused, naming what they lack.
#: JobSet: network.publishNotReadyAddresses and failurePolicy.rules first appear in the v0.6.0 CRD
#: (kubernetes-sigs/jobset config/components/crd/bases/jobset.x-k8s.io_jobsets.yaml at each tag).
#: KServe: deploymentStrategy on components arrives by v0.14 (pkg/apis/serving/v1beta1).
_OLDEST: dict[str, tuple[Version, str]] = {
    "kserve": ((0, 14), "predictor deploymentStrategy"),
    "jobset": ((0, 6), "network.publishNotReadyAddresses and failurePolicy.rules, which every mlkube training JobSet uses"),
}


def parse_version(text: str) -> Version | None:
    """'0.15', 'v0.15.2' -> (0, 15); None when it is not MAJOR.MINOR[.PATCH]."""
    match = _VERSION.match(text.strip())
    return (int(match["major"]), int(match["minor"])) if match else None


def _show(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def check_operator_versions(operators: dict[str, str | None]) -> list[str]:
    """Messages for versions that cannot be read, or that are older than what mlkube encodes."""
    problems = []
    for name, text in operators.items():
        if text is None:
            continue
        version = parse_version(text)
        if version is None:
            problems.append(f"operators.{name}: version {text!r} is not MAJOR.MINOR[.PATCH] (e.g. '0.15')")
        elif name in _OLDEST and version < _OLDEST[name][0]:
            oldest, lacks = _OLDEST[name]
            problems.append(f"operators.{name}: {OPERATOR_NAMES[name]} {text} lacks {lacks} (added in {_show(oldest)}); "
                            f"mlkube needs {OPERATOR_NAMES[name]} {_show(oldest)} or later")
        elif name == "kserve" and version > max(KSERVE_VERSIONS):
            problems.append(f"operators.kserve: KServe {text} is newer than mlkube knows ({', '.join(_show(v) for v in KSERVE_VERSIONS)}); "
                            "its deployment modes and storage initializer cannot be checked")
    return problems


def operator_version(environment: object, operator: Operator) -> Version | None:
    """The version the environment declares for ``operator``, or None (not declared, or no version given)."""
    declared = getattr(environment, "operator_versions", {}) or {}
    text = declared.get(operator)
    return parse_version(text) if text else None


def require_operator(construct: MlConstruct, operator: Operator, field: str, alternative: str) -> bool:
    """Report an error when the environment declares its operators and ``operator`` is not one of them."""
    environment = construct.ml_app.environment
    declared = environment.operator_versions
    if declared is None or operator in declared:
        return True
    construct._report(field, f"needs {OPERATOR_NAMES[operator]}, which environment '{environment.name}' does not have "
                             f"(operators: {', '.join(declared) or 'none'})",
                      f"add '{operator}' to the environment's operators, or {alternative}")
    return False


def require_version(construct: MlConstruct, operator: Operator, minimum: Version, field: str, what: str) -> bool:
    """Report an error when the environment's declared version of ``operator`` is older than ``minimum``, naming both."""
    environment = construct.ml_app.environment
    version = operator_version(environment, operator)
    if version is None or version >= minimum:
        return True
    declared = (environment.operator_versions or {}).get(operator)
    construct._report(field, f"{what} needs {OPERATOR_NAMES[operator]} {_show(minimum)} or later; environment '{environment.name}' "
                             f"runs {OPERATOR_NAMES[operator]} {declared}",
                      f"upgrade {OPERATOR_NAMES[operator]} (and the environment's operators) or leave {field} unset")
    return False


def kserve_version(environment: object) -> Version:
    """The KServe version to emit for: the declared one, else DEFAULT_KSERVE_VERSION."""
    return operator_version(environment, "kserve") or DEFAULT_KSERVE_VERSION


def storage_initializer_image(environment: object) -> str:
    """KServe's storage initializer of the environment's KServe version (the model downloader)."""
    version = kserve_version(environment)
    return f"kserve/storage-initializer:{KSERVE_VERSIONS.get(version, KSERVE_VERSIONS[DEFAULT_KSERVE_VERSION])}"


def kserve_mode_name(mode: Literal["Standard", "Knative"], version: Version, *, legacy: bool = False) -> str:
    """The serving.kserve.io/deploymentMode value KServe ``version`` understands for ``mode``.

    0.16 renamed RawDeployment to Standard and Serverless to Knative and still reads the old names
    (kserve/kserve v0.16.0 pkg/constants/constants.go, GetDeploymentMode in
    pkg/controller/v1beta1/inferenceservice/utils/utils.go). 0.15 knows only RawDeployment and
    Serverless and silently falls back to its configured default for any other value (v0.15.2, same files).
    """
    if legacy or version < (0, 16):
        return {"Standard": "RawDeployment", "Knative": "Serverless"}[mode]
    return mode


#: Kubernetes features mlkube emits, with the minor version where they are on by default.
#: PodLifecycleSleepAction: alpha (off) in 1.29, beta (on) in 1.30 (KEP-3960, kubernetes/enhancements#3960).
#: SidecarContainers: alpha (off) in 1.28, beta (on) in 1.29 (KEP-753, kubernetes/enhancements#753).
#: JobPodFailurePolicy: alpha (off) in 1.25, beta (on) in 1.26 (KEP-3329, kubernetes/enhancements#3329).
KUBERNETES_FEATURES: dict[str, Version] = {"PodLifecycleSleepAction": (1, 30), "SidecarContainers": (1, 29), "JobPodFailurePolicy": (1, 26),
                                           # PDB unhealthyPodEvictionPolicy: beta and on by default in 1.27, GA in 1.31
                                           # (KEP-3017; kubernetes.io/docs/tasks/run-application/configure-pdb/#unhealthy-pod-eviction-policy).
                                           "PDBUnhealthyPodEvictionPolicy": (1, 27)}


def kubernetes_has(environment: object, feature: str) -> bool:
    """Whether the environment's Kubernetes version has ``feature`` on by default."""
    version = parse_version(str(getattr(environment, "kubernetes_version", ""))) or (1, 99)
    return version >= KUBERNETES_FEATURES[feature]
