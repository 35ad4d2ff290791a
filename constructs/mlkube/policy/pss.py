"""The restricted Pod Security Standard (which includes the baseline one), one rule per control.

The allowed values follow kubernetes.io/docs/concepts/security/pod-security-standards and the
admission plugin's checks, per Kubernetes version (kubernetes/pod-security-admission policy/check_*.go,
commit 8f84a87c): a pod that passes these rules is admitted by a namespace labelled
``pod-security.kubernetes.io/enforce: restricted`` at the version the environment declares. The rules apply to every container of a pod:
app containers, init containers (native sidecars among them) and ephemeral containers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .model import Hit, Target, rule
from .pods import ContainerView, PodView

__all__ = ["RESTRICTED_VOLUME_TYPES", "SAFE_SYSCTLS", "SELINUX_TYPES", "safe_sysctls"]

RESTRICTED_VOLUME_TYPES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                                     "persistentVolumeClaim", "projected", "secret"})
# check_sysctls.go: the safe set grows by version (sysctlsAllowedV1Dot0 ... V1Dot37).
_SYSCTLS_BY_VERSION: tuple[tuple[tuple[int, int], frozenset[str]], ...] = (
    ((1, 0), frozenset({"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
                        "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"})),
    ((1, 27), frozenset({"net.ipv4.ip_local_reserved_ports"})),
    ((1, 29), frozenset({"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                         "net.ipv4.tcp_keepalive_probes"})),
    ((1, 32), frozenset({"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"})),
    ((1, 37), frozenset({"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"})),
)


def safe_sysctls(version: tuple[int, int]) -> frozenset[str]:
    """The sysctls the baseline standard allows at a Kubernetes version."""
    return frozenset().union(*(names for since, names in _SYSCTLS_BY_VERSION if version >= since))


#: The safe sysctls at the default version (1.34).
SAFE_SYSCTLS = safe_sysctls((1, 34))
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
_SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
_APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def _text(value: Any) -> Any:
    """A value to compare with sets of names: lists and mappings (malformed input) become their text."""
    return str(value) if isinstance(value, list | dict) else value


def _list(value: Any) -> list[Any]:
    """A list field, or nothing when a malformed object holds something else there."""
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _each_container(target: Target) -> Iterator[tuple[PodView, ContainerView]]:
    for pod in target.pods:
        for container in target.containers_of(pod):
            yield pod, container


def _windows_exempt(target: Target, pod: PodView) -> bool:
    """``spec.os.name: windows`` pods skip the Linux-only restricted controls from 1.25 on
    (check_allowPrivilegeEscalation.go, check_capabilities_restricted.go, check_seccompProfile_restricted.go)."""
    return target.settings.version >= (1, 25) and _dict(pod.spec.get("os")).get("name") == "windows"


def _user_namespace_exempt(target: Target, pod: PodView) -> bool:
    """``hostUsers: false`` pods skip runAsNonRoot and runAsUser from 1.35 on (check_runAsNonRoot.go,
    check_runAsUser.go: relaxPolicyForUserNamespacePod)."""
    return target.settings.version >= (1, 35) and pod.spec.get("hostUsers") is False


@rule("MLK-PSS-001", "error", "Containers must not be privileged",
      rationale="A privileged container has every device and capability of the node: one escape owns the node.",
      fix="remove securityContext.privileged (or set it to false)", checkov=("CKV_K8S_16",), pods_only=True)
def privileged(target: Target) -> Iterator[Hit]:
    for _, container in _each_container(target):
        if container.security_context.get("privileged") is True:
            yield Hit(f"{container.path}.securityContext.privileged", f"{container.describe()} is privileged")


@rule("MLK-PSS-002", "error", "Pods must not share the node's network, PID or IPC namespace",
      rationale="Host namespaces let a pod see and reach the node's processes, sockets and shared memory.",
      fix="remove hostNetwork, hostPID and hostIPC from the pod spec (or set them to false)",
      checkov=("CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19"), pods_only=True)
def host_namespaces(target: Target) -> Iterator[Hit]:
    for pod in target.pods:
        for name in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.spec.get(name) is True:
                yield Hit(pod.field(name), f"the pod sets {name}: true")


@rule("MLK-PSS-003", "error", "Pods may use only restricted volume types (no hostPath)",
      rationale="hostPath and network volume plugins bypass PersistentVolume access control and expose the node.",
      fix="use a persistentVolumeClaim, emptyDir, configMap, secret, projected, downwardAPI, csi or ephemeral volume",
      checkov=("CKV_K8S_27",), pods_only=True)
def volume_types(target: Target) -> Iterator[Hit]:
    for pod in target.pods:
        for index, volume in enumerate(_list(pod.spec.get("volumes"))):
            kinds = sorted(key for key in _dict(volume) if key != "name")
            for kind in kinds:
                if kind not in RESTRICTED_VOLUME_TYPES:
                    yield Hit(pod.field(f"volumes[{index}].{kind}"), f"volume {_dict(volume).get('name')!r} is a {kind} volume; "
                              f"allowed: {', '.join(sorted(RESTRICTED_VOLUME_TYPES))}")


@rule("MLK-PSS-004", "error", "Containers must not use host ports",
      rationale="A hostPort binds the node's address, bypasses NetworkPolicies and limits scheduling.",
      fix="remove ports[].hostPort and expose the port through a Service", checkov=("CKV_K8S_26",), pods_only=True)
def host_ports(target: Target) -> Iterator[Hit]:
    for _, container in _each_container(target):
        for index, port in enumerate(_list(container.container.get("ports"))):
            if _dict(port).get("hostPort") not in (None, 0):
                yield Hit(f"{container.path}.ports[{index}].hostPort", f"{container.describe()} binds host port {port['hostPort']}")


@rule("MLK-PSS-005", "error", "Containers must drop ALL capabilities and add none but NET_BIND_SERVICE",
      rationale="Linux capabilities are slices of root; a model server needs none of them.",
      fix="set securityContext.capabilities.drop: [ALL] and add nothing (NET_BIND_SERVICE only if it binds a port below 1024)",
      checkov=("CKV_K8S_28", "CKV_K8S_37", "CKV_K8S_39"), pods_only=True)
def capabilities(target: Target) -> Iterator[Hit]:
    for pod, container in _each_container(target):
        if _windows_exempt(target, pod):
            continue
        caps = _dict(container.security_context.get("capabilities"))
        if "ALL" not in _list(caps.get("drop")):
            yield Hit(f"{container.path}.securityContext.capabilities.drop", f"{container.describe()} does not drop ALL capabilities")
        for index, cap in enumerate(_list(caps.get("add"))):
            if cap != "NET_BIND_SERVICE":
                yield Hit(f"{container.path}.securityContext.capabilities.add[{index}]", f"{container.describe()} adds capability {cap}")


@rule("MLK-PSS-006", "error", "Containers must set allowPrivilegeEscalation: false",
      rationale="Without it, setuid binaries and file capabilities can give a process more privileges than its parent.",
      fix="set securityContext.allowPrivilegeEscalation: false on every container", checkov=("CKV_K8S_20", "CKV_K8S_30"), pods_only=True)
def privilege_escalation(target: Target) -> Iterator[Hit]:
    for pod, container in _each_container(target):
        if _windows_exempt(target, pod):
            continue
        if container.security_context.get("allowPrivilegeEscalation") is not False:
            yield Hit(f"{container.path}.securityContext.allowPrivilegeEscalation",
                      f"{container.describe()} does not set allowPrivilegeEscalation: false")


@rule("MLK-PSS-007", "error", "Containers must run as non-root (runAsNonRoot: true)",
      rationale="The kubelet then refuses to start an image whose user is root, whatever the Dockerfile says.",
      fix="set securityContext.runAsNonRoot: true on the pod (and never false on a container)", checkov=("CKV_K8S_23",), pods_only=True)
def run_as_non_root(target: Target) -> Iterator[Hit]:
    for pod, container in _each_container(target):
        if _user_namespace_exempt(target, pod):
            continue
        value = container.security_context.get("runAsNonRoot")
        if value is False:
            yield Hit(f"{container.path}.securityContext.runAsNonRoot", f"{container.describe()} sets runAsNonRoot: false")
        elif value is not True and pod.security_context.get("runAsNonRoot") is not True:
            yield Hit(f"{container.path}.securityContext.runAsNonRoot",
                      f"{container.describe()} may run as root: runAsNonRoot is not true on it or on the pod")


@rule("MLK-PSS-008", "error", "Pods and containers must not set runAsUser: 0",
      rationale="UID 0 is root inside the container and, after an escape, on the node.",
      fix="set runAsUser to the image's non-root UID (mlkube uses 10001)", pods_only=True)
def run_as_root_user(target: Target) -> Iterator[Hit]:
    for pod in target.pods:
        if _user_namespace_exempt(target, pod):
            continue
        if pod.security_context.get("runAsUser") == 0:
            yield Hit(pod.field("securityContext", "runAsUser"), "the pod sets runAsUser: 0 (root)")
        for container in target.containers_of(pod):
            if container.security_context.get("runAsUser") == 0:
                yield Hit(f"{container.path}.securityContext.runAsUser", f"{container.describe()} sets runAsUser: 0 (root)")


@rule("MLK-PSS-009", "error", "Pods must use the RuntimeDefault (or a Localhost) seccomp profile",
      rationale="Seccomp blocks the system calls that most container escapes use.",
      fix="set securityContext.seccompProfile.type: RuntimeDefault on the pod", checkov=("CKV_K8S_31",), pods_only=True)
def seccomp(target: Target) -> Iterator[Hit]:
    for pod in target.pods:
        if _windows_exempt(target, pod):
            continue
        pod_type = _text(_dict(pod.security_context.get("seccompProfile")).get("type"))
        if pod_type is not None and pod_type not in _SECCOMP_TYPES:
            yield Hit(pod.field("securityContext", "seccompProfile", "type"), f"the pod's seccomp profile is {pod_type}")
        for container in target.containers_of(pod):
            own = _text(_dict(container.security_context.get("seccompProfile")).get("type"))
            if own is not None and own not in _SECCOMP_TYPES:
                yield Hit(f"{container.path}.securityContext.seccompProfile.type", f"{container.describe()} uses seccomp profile {own}")
            elif own is None and pod_type not in _SECCOMP_TYPES:
                yield Hit(f"{container.path}.securityContext.seccompProfile",
                          f"{container.describe()} has no seccomp profile (none on the pod either)")


@rule("MLK-PSS-010", "error", "Pods may set only safe sysctls",
      rationale="Unsafe sysctls change kernel settings shared with every other pod on the node.",
      fix="remove the sysctl, or set it on the nodes instead", pods_only=True)
def sysctls(target: Target) -> Iterator[Hit]:
    allowed = safe_sysctls(target.settings.version)
    for pod in target.pods:
        items = pod.security_context.get("sysctls")
        for index, sysctl in enumerate(items if isinstance(items, list) else []):
            name = _dict(sysctl).get("name")
            if not isinstance(name, str) or name not in allowed:
                yield Hit(pod.field("securityContext", f"sysctls[{index}]", "name"),
                          f"sysctl {name} is not in the safe set of Kubernetes {target.settings.kubernetes_version}")


@rule("MLK-PSS-011", "error", "Containers must use the Default /proc mount",
      rationale="An Unmasked /proc exposes kernel paths that the runtime normally hides.",
      fix="remove securityContext.procMount (or set it to Default)", pods_only=True)
def proc_mount(target: Target) -> Iterator[Hit]:
    for _, container in _each_container(target):
        value = container.security_context.get("procMount")
        if value not in (None, "Default"):
            yield Hit(f"{container.path}.securityContext.procMount", f"{container.describe()} uses procMount {value}")


@rule("MLK-PSS-012", "error", "AppArmor must not be disabled (RuntimeDefault or Localhost only)",
      rationale="The runtime's AppArmor profile confines file and mount access; Unconfined removes it.",
      fix="remove appArmorProfile (or use RuntimeDefault / a Localhost profile)", pods_only=True)
def apparmor(target: Target) -> Iterator[Hit]:
    for pod in target.pods:
        contexts = [(pod.field("securityContext", "appArmorProfile", "type"), "the pod", pod.security_context)]
        contexts += [(f"{c.path}.securityContext.appArmorProfile.type", c.describe(), c.security_context) for c in target.containers_of(pod)]
        for field, who, context in contexts:
            value = _dict(context.get("appArmorProfile")).get("type")
            if value is not None and value not in _APPARMOR_TYPES:
                yield Hit(field, f"{who} uses AppArmor profile {value}")
        for key, value in sorted(pod.annotations.items()):
            if key.startswith(_APPARMOR_ANNOTATION) and value != "runtime/default" and not value.startswith("localhost/"):
                yield Hit(pod.annotations_path, f"annotation {key} sets AppArmor profile {value}")


@rule("MLK-PSS-013", "error", "SELinux options may only pick a container type",
      rationale="A custom SELinux user, role or type can lift the confinement of the container.",
      fix="remove seLinuxOptions, or set only type to container_t, container_init_t, container_kvm_t or container_engine_t", pods_only=True)
def selinux(target: Target) -> Iterator[Hit]:
    for pod in target.pods:
        contexts = [(pod.field("securityContext", "seLinuxOptions"), "the pod", pod.security_context)]
        contexts += [(f"{c.path}.securityContext.seLinuxOptions", c.describe(), c.security_context) for c in target.containers_of(pod)]
        for field, who, context in contexts:
            options = _dict(context.get("seLinuxOptions"))
            if options.get("type", "") not in SELINUX_TYPES:
                yield Hit(f"{field}.type", f"{who} uses SELinux type {options['type']}")
            for key in ("user", "role"):
                if options.get(key):
                    yield Hit(f"{field}.{key}", f"{who} sets SELinux {key} {options[key]}")


@rule("MLK-PSS-014", "error", "Pods must not run Windows HostProcess containers",
      rationale="A HostProcess container runs directly on the Windows node with its privileges.",
      fix="remove windowsOptions.hostProcess (or set it to false)", pods_only=True)
def host_process(target: Target) -> Iterator[Hit]:
    for pod in target.pods:
        if _dict(pod.security_context.get("windowsOptions")).get("hostProcess") is True:
            yield Hit(pod.field("securityContext", "windowsOptions", "hostProcess"), "the pod is a Windows HostProcess pod")
        for container in target.containers_of(pod):
            if _dict(container.security_context.get("windowsOptions")).get("hostProcess") is True:
                yield Hit(f"{container.path}.securityContext.windowsOptions.hostProcess", f"{container.describe()} is a HostProcess container")


_HANDLERS = ("livenessProbe", "readinessProbe", "startupProbe", "lifecycle.postStart", "lifecycle.preStop")


@rule("MLK-PSS-015", "error", "Probes and lifecycle hooks must not target another host",
      rationale="The kubelet sends these requests from the node: a host field turns it into a proxy into the node's network.",
      fix="remove the host field; probes go to the pod's own IP", pods_only=True)
def probe_hosts(target: Target) -> Iterator[Hit]:
    for _, container in _each_container(target):
        for handler in _HANDLERS:
            node: Any = container.container
            for part in handler.split("."):
                node = _dict(node).get(part)
            for action in ("httpGet", "tcpSocket"):
                host = _dict(_dict(node).get(action)).get("host")
                if host:
                    yield Hit(f"{container.path}.{handler}.{action}.host", f"{container.describe()} {handler} targets host {host}")
