"""The one place that decides how every mlkube pod is secured, scheduled, sized and given volumes.

Every workload (serving, training, batch) builds its pod template through ``PodBuilder`` so that
all pods meet the Kubernetes "restricted" Pod Security Standard by default: non-root numeric UID,
no privilege escalation, all capabilities dropped, seccomp RuntimeDefault, a read-only root
filesystem with writable emptyDirs where programs need to write: ``/tmp``, and a home folder that ``HOME``
and the caches ML software writes point into (``runtime_env``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from ..kube.apiserver_rules import EnvName
from ..kube.quantity import Quantity
from .image import ImageSpec, is_digest_reference, resolve_image
from .placement import PlacementOptions, placement_pod_spec
from .resources import ResourcesSpec, Scheduling
from .spec import AbsolutePath, DnsLabel, Spec

__all__ = [
    "RUN_AS_USER", "PodBuilder", "SecretEnv", "SecretMount", "SidecarSpec", "container_security_context",
    "pod_security_context", "env_list", "mount_claim", "runtime_env", "set_env", "HOME_MOUNT",
]

#: The numeric UID and GID of every mlkube container; generated Dockerfiles use the same (USER 10001:10001).
RUN_AS_USER = 10001
TMP_MOUNT = "/tmp"
#: The writable home folder of every container (an emptyDir): the root file system is read-only.
HOME_MOUNT = "/home/mlkube"

#: Where ML software writes at run time, each pointed into the writable home. Images such as vllm/vllm-openai
#: leave HOME at "/", so under a random non-root UID and a read-only root every one of these fails with
#: "Permission denied: '/.cache'" (vllm-project/vllm#10185: numba and outlines; llm-d/llm-d#1430: '/.config'
#: from vLLM's usage stats and '/.triton' from Triton kill engine start-up). A container's own env wins.
_RUNTIME_DIRS: tuple[tuple[str, str], ...] = (
    ("HOME", ""),
    # XDG Base Directory Specification: the default of most Python tools (platformdirs, pip, outlines).
    ("XDG_CACHE_HOME", ".cache"),
    ("XDG_CONFIG_HOME", ".config"),
    ("XDG_DATA_HOME", ".local/share"),
    # huggingface_hub (docs: package_reference/environment_variables): default $XDG_CACHE_HOME/huggingface.
    ("HF_HOME", ".cache/huggingface"),
    # PyTorch hub (docs: hub.html#where-are-my-downloaded-models-saved): default $XDG_CACHE_HOME/torch.
    ("TORCH_HOME", ".cache/torch"),
    # torch.compile / inductor (torch/_inductor/runtime/cache_dir_utils.py): default /tmp/torchinductor_<user>;
    # kept with the other caches so that /tmp holds only scratch files.
    ("TORCHINDUCTOR_CACHE_DIR", ".cache/torchinductor"),
    # Triton (triton/runtime/cache.py): default ~/.triton/cache.
    ("TRITON_CACHE_DIR", ".triton/cache"),
    # numba (docs: reference/envvars NUMBA_CACHE_DIR; numba/core/caching.py): otherwise __pycache__ beside the
    # source (read-only site-packages), then ~/.cache/numba.
    ("NUMBA_CACHE_DIR", ".cache/numba"),
    # matplotlib (docs: users/faq "where is the config dir"): default $XDG_CONFIG_HOME/matplotlib.
    ("MPLCONFIGDIR", ".config/matplotlib"),
    # vLLM (docs.vllm.ai configuration/env_vars): VLLM_CACHE_ROOT ~/.cache/vllm, VLLM_CONFIG_ROOT ~/.config/vllm.
    ("VLLM_CACHE_ROOT", ".cache/vllm"),
    ("VLLM_CONFIG_ROOT", ".config/vllm"),
    # CUDA JIT (CUDA C Programming Guide, "CUDA Environment Variables"): default ~/.nv/ComputeCache.
    ("CUDA_CACHE_PATH", ".nv/ComputeCache"),
)


#: Each variable with its value, made once: every container shares these strings (issue 22: 15 per container,
#: about 8 MiB at 50,000 objects when each container had its own copies).
_RUNTIME_ENV = tuple((name, f"{HOME_MOUNT}/{sub}".rstrip("/")) for name, sub in _RUNTIME_DIRS)


def runtime_env(own: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """HOME and the cache variables pointing into the writable home, except those ``own`` already sets."""
    taken = {item["name"] for item in own or []}
    return [{"name": name, "value": value} for name, value in _RUNTIME_ENV if name not in taken]


def pod_security_context() -> dict[str, Any]:
    return {
        "fsGroup": RUN_AS_USER,
        "fsGroupChangePolicy": "OnRootMismatch",
        "runAsGroup": RUN_AS_USER,
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsGroup": RUN_AS_USER,
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


class SecretMount(Spec):
    """An existing Secret mounted read-only as files (never a value in the repo)."""

    secret: str = Field(description="Name of an existing Secret in the app's namespace.")
    mount_path: AbsolutePath = Field(description="Folder where the Secret's keys appear as files, e.g. '/var/run/secrets/hf'.")


class SecretEnv(Spec):
    """One key of an existing Secret as an environment variable. Policy prefers files (SecretMount: env vars leak
    into crash dumps and child processes), so each one states why; the reason is written into the object as a
    waiver of rule MLK-SEC-006."""

    env: EnvName = Field(description="Environment variable name.")
    secret: str = Field(description="Name of an existing Secret.")
    key: str = Field(description="Key inside the Secret.")
    reason: str = Field(min_length=1, description="Why this secret must be an environment variable (e.g. 'the SDK reads only AWS_SECRET_ACCESS_KEY'); required.")


class SidecarSpec(Spec):
    """An extra container beside the main one (a metrics exporter, a log shipper), run as a native sidecar."""

    name: DnsLabel = Field(description="Container name.")
    image: ImageSpec = Field(description="Image of the sidecar.")
    command: list[str] | None = Field(default=None, description="Entrypoint override. Default: the image's.")
    args: list[str] | None = Field(default=None, description="Arguments. Default: the image's.")
    env: dict[EnvName, str] = Field(default_factory=dict, description="Environment variables. Default: none.")
    ports: dict[DnsLabel, int] = Field(default_factory=dict, description="Named container ports, e.g. {'metrics': 9400}. Default: none.")
    cpu: Quantity = Field(default="100m", description="CPU request and limit. Default: 100m.")
    memory: Quantity = Field(default="128Mi", description="Memory request and limit. Default: 128Mi.")


def env_list(env: dict[str, str], secret_env: Sequence[SecretEnv] = ()) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [{"name": key, "value": str(value)} for key, value in env.items()]
    items += [{"name": ref.env, "valueFrom": {"secretKeyRef": {"key": ref.key, "name": ref.secret}}} for ref in secret_env]
    return items


class PodBuilder:
    """Accumulates containers and volumes, then renders a secured pod template (metadata + spec)."""

    def __init__(self, *, app: Any, used_by: str, labels: dict[str, str], service_account: str,
                 resources: ResourcesSpec, restart_policy: str | None = None,
                 placement: PlacementOptions | None = None, selector: dict[str, str] | None = None) -> None:
        self.app = app
        self.used_by = used_by
        self.labels = dict(labels)
        self.annotations: dict[str, str] = {}
        self.service_account = service_account
        self.resources = resources
        self.restart_policy = restart_policy
        self.scheduling = Scheduling(resources)
        self.placement = placement
        #: The labels that select this workload's own pods (anti-affinity, topology spread).
        self.selector = dict(selector if selector is not None else labels)
        self.containers: list[dict[str, Any]] = []
        self.init_containers: list[dict[str, Any]] = []
        self.volumes: dict[str, dict[str, Any]] = {}
        self.extra_spec: dict[str, Any] = {}
        self._shared_mounts: list[dict[str, Any]] = []
        self.add_volume({"name": "tmp", "emptyDir": {}})
        self._shared_mounts.append({"name": "tmp", "mountPath": TMP_MOUNT})
        self.add_volume({"name": "home", "emptyDir": {}})
        self._shared_mounts.append({"name": "home", "mountPath": HOME_MOUNT})
        if resources.shm_size is not None:
            self.add_volume({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": resources.shm_size}})

    # -- volumes --------------------------------------------------------------------------------

    def add_volume(self, volume: dict[str, Any]) -> None:
        self.volumes.setdefault(volume["name"], volume)

    def mount_secret(self, mount: SecretMount) -> dict[str, Any]:
        name = f"secret-{mount.secret}"[:63].rstrip("-")
        self.add_volume({"name": name, "secret": {"secretName": mount.secret, "defaultMode": 0o440}})
        return {"name": name, "mountPath": mount.mount_path, "readOnly": True}

    # -- containers -----------------------------------------------------------------------------

    def image(self, image: Any, container: str) -> str:
        return resolve_image(image, self.app, self.used_by, container)

    def container(self, name: str, image: Any, *, command: list[str] | None = None, args: list[str] | None = None,
                  env: list[dict[str, Any]] | None = None, ports: dict[str, int] | None = None,
                  resources: dict[str, Any] | None = None, mounts: list[dict[str, Any]] | None = None,
                  main: bool = False, **extra: Any) -> dict[str, Any]:
        """A secured container; the main container also gets /dev/shm and the pod's resources.

        ``image`` may be None where an operator supplies it (a KServe serving runtime).
        """
        container: dict[str, Any] = {"name": name}
        if image is not None:
            reference = self.image(image, name)
            container["image"] = reference
            # A digest never changes, a tag can: pull tags every time so a node never runs a stale image.
            container["imagePullPolicy"] = "IfNotPresent" if is_digest_reference(reference) else "Always"
        container.update({
            "securityContext": container_security_context(),
            "resources": resources if resources is not None else self.resources.container_resources(),
            "volumeMounts": [*(dict(mount) for mount in self._shared_mounts), *(mounts or [])],
        })
        if main and self.resources.shm_size is not None:
            container["volumeMounts"].append({"name": "dshm", "mountPath": "/dev/shm"})
        if main and self.placement is not None and self.placement.add_capabilities:
            # Waived by the spec (PlacementOptions requires a reasoned MLK-PSS-005 waiver): ALL stays dropped, these are added back.
            container["securityContext"]["capabilities"]["add"] = list(self.placement.add_capabilities)
        if command:
            container["command"] = list(command)
        if args:
            container["args"] = list(args)
        # Defaults first: the container's own variables come after them and may refer to them as $(HOME).
        container["env"] = [*runtime_env(env), *(env or [])]
        if ports:
            container["ports"] = [{"containerPort": port, "name": port_name, "protocol": "TCP"} for port_name, port in ports.items()]
        container.update(extra)
        return container

    def add_container(self, container: dict[str, Any]) -> dict[str, Any]:
        self.containers.append(container)
        return container

    def add_init_container(self, container: dict[str, Any]) -> dict[str, Any]:
        self.init_containers.append(container)
        return container

    def add_sidecar(self, sidecar: SidecarSpec) -> dict[str, Any]:
        """A native sidecar: an init container that keeps running (restartPolicy Always, Kubernetes 1.29+)."""
        resources = {"requests": {"cpu": sidecar.cpu, "memory": sidecar.memory}, "limits": {"cpu": sidecar.cpu, "memory": sidecar.memory}}
        container = self.container(sidecar.name, sidecar.image, command=sidecar.command, args=sidecar.args,
                                   env=env_list(sidecar.env), ports=sidecar.ports, resources=resources, restartPolicy="Always")
        return self.add_init_container(container)

    # -- rendering ------------------------------------------------------------------------------

    def build(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "automountServiceAccountToken": False,
            "containers": self.containers,
            "enableServiceLinks": False,
            "securityContext": pod_security_context(),
            "serviceAccountName": self.service_account,
            "volumes": [self.volumes[name] for name in sorted(self.volumes)],
        }
        if self.init_containers:
            spec["initContainers"] = self.init_containers
        if self.restart_policy:
            spec["restartPolicy"] = self.restart_policy
        placement = self.placement
        node_selector = {**self.scheduling.node_selector, **(placement.node_selector if placement else {})}
        if node_selector:
            spec["nodeSelector"] = dict(sorted(node_selector.items()))
        tolerations = [*self.scheduling.tolerations, *(t.to_kube() for t in (placement.tolerations if placement else []))]
        if tolerations:
            spec["tolerations"] = [t for i, t in enumerate(tolerations) if t not in tolerations[:i]]
        if self.scheduling.runtime_class:
            spec["runtimeClassName"] = self.scheduling.runtime_class
        spec.update(self.extra_spec)
        if placement is not None:
            extra = placement_pod_spec(placement, self.selector)
            if "topologySpreadConstraints" in extra:  # after a workload's own presets (InferenceService 'spread')
                extra["topologySpreadConstraints"] = [*spec.get("topologySpreadConstraints", []), *extra["topologySpreadConstraints"]]
            spec.update(extra)
        metadata: dict[str, Any] = {"labels": self.labels}
        if self.annotations:
            metadata["annotations"] = self.annotations
        return {"metadata": metadata, "spec": spec}


def set_env(container: dict[str, Any], name: str, value: str) -> None:
    """Set one plain env var on a rendered container, replacing an earlier value of the same name."""
    env = [item for item in container.get("env") or [] if item["name"] != name]
    container["env"] = [*env, {"name": name, "value": value}]


def mount_claim(pod_spec: dict[str, Any], *, volume: str, claim: str, mount_path: str, read_only: bool,
                env: str | None = None) -> None:
    """Add a PersistentVolumeClaim to a rendered pod spec: the volume, a mount in the main container, and
    an env var with the path. Works on finished pod specs so that a workload can be mounted after it is built."""
    volumes = [v for v in pod_spec.get("volumes") or [] if v["name"] != volume]
    source: dict[str, Any] = {"claimName": claim}
    if read_only:
        source["readOnly"] = True  # enforced by the kubelet, not only by the container's mount
    volumes.append({"name": volume, "persistentVolumeClaim": source})
    pod_spec["volumes"] = sorted(volumes, key=lambda v: v["name"])
    main = pod_spec["containers"][0]
    mount: dict[str, Any] = {"mountPath": mount_path, "name": volume}
    if read_only:
        mount["readOnly"] = True
    main["volumeMounts"] = [*(m for m in main.get("volumeMounts") or [] if m["name"] != volume), mount]
    if env:
        set_env(main, env, mount_path)
