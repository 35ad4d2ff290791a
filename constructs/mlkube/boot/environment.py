"""A container's environment, command and args as the kubelet resolves them.

Follows kubernetes/kubernetes pkg/kubelet/kubelet_pods.go (makeEnvironmentVariables): envFrom first (keys
that are not valid names skipped), then env in order, each value expanded against the variables defined
before it; then command and args expanded against the whole environment (pkg/kubelet/kuberuntime
ExpandContainerCommandAndArgs). ConfigMaps and Secrets come from the app's manifests; a Secret that only an
ExternalSecret describes, or none at all, gets stand-in values (boot never reads a real secret).
"""

from __future__ import annotations

import base64
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

from ..kube.quantity import parse_quantity
from .expansion import expand
from .pods import PodToBoot

__all__ = ["AppObjects", "ResolvedContainer", "resolve_container", "field_value", "STAND_IN_SECRET", "ConfigError"]

#: The value of a secret key boot cannot know (it never reads a real secret).
STAND_IN_SECRET = "mlkube-boot-stand-in"
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")  # validation.IsEnvVarName
_FIELD = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


class ConfigError(Exception):
    """What the kubelet reports as CreateContainerConfigError: the container cannot be created."""


@dataclass
class AppObjects:
    """ConfigMaps and Secrets of the app (name -> key -> value), and where a secret's value is a stand-in."""

    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    stand_in_secrets: set[str] = field(default_factory=set)  # described by an ExternalSecret: keys known, values not
    #: Claim restored from a VolumeSnapshot -> (the snapshot, the claim it was taken of).
    restored_claims: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def from_manifests(cls, objects: list[dict[str, Any]]) -> AppObjects:
        found = cls()
        for obj in objects:
            kind, name = obj.get("kind"), str((obj.get("metadata") or {}).get("name", ""))
            if kind == "ConfigMap":
                found.config_maps[name] = {k: str(v) for k, v in (obj.get("data") or {}).items()}
            elif kind == "Secret":
                data = {k: base64.b64decode(str(v)).decode(errors="replace") for k, v in (obj.get("data") or {}).items()}
                data.update({k: str(v) for k, v in (obj.get("stringData") or {}).items()})
                found.secrets[name] = data
            elif kind == "ExternalSecret":
                spec = obj.get("spec") or {}
                target = str((spec.get("target") or {}).get("name") or name)
                keys = [str(item.get("secretKey")) for item in spec.get("data") or [] if item.get("secretKey")]
                found.secrets.setdefault(target, dict.fromkeys(keys, STAND_IN_SECRET))
                found.stand_in_secrets.add(target)
        snapshots = {str((obj.get("metadata") or {}).get("name", "")): str(((obj.get("spec") or {}).get("source") or {}).get(
            "persistentVolumeClaimName") or "") for obj in objects if obj.get("kind") == "VolumeSnapshot"}
        for obj in objects:
            source = (obj.get("spec") or {}).get("dataSource") or {}
            if obj.get("kind") == "PersistentVolumeClaim" and source.get("kind") == "VolumeSnapshot" and snapshots.get(str(source.get("name"))):
                name = str((obj.get("metadata") or {}).get("name", ""))
                found.restored_claims[name] = (str(source["name"]), snapshots[str(source["name"])])
        return found

    def secret(self, name: str) -> dict[str, str] | None:
        return self.secrets.get(name)


@dataclass
class ResolvedContainer:
    env: dict[str, str]
    command: list[str] | None
    args: list[str] | None


def resolve_container(pod: PodToBoot, container: dict[str, Any], objects: AppObjects) -> ResolvedContainer:
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        env.update(_env_from(source, objects))
    items = list(container.get("env") or [])
    items += [extra for extra in pod.extra_env if extra["name"] not in {item.get("name") for item in items}]
    for item in items:
        name = str(item["name"])
        if "valueFrom" in item:
            value = _value_from(item["valueFrom"], pod, container, objects, name)
            if value is None:
                continue  # an optional key that is missing: the variable is not set
            env[name] = value
        else:
            env[name] = expand(str(item.get("value", "")), env)
    command = [expand(str(part), env) for part in container["command"]] if container.get("command") else None
    args = [expand(str(part), env) for part in container["args"]] if container.get("args") else None
    return ResolvedContainer(env, command, args)


def _env_from(source: dict[str, Any], objects: AppObjects) -> dict[str, str]:
    prefix = str(source.get("prefix") or "")
    if "configMapRef" in source:
        ref, data = source["configMapRef"], objects.config_maps.get(str(source["configMapRef"].get("name")))
        what = "ConfigMap"
    else:
        ref, data = source.get("secretRef") or {}, objects.secret(str((source.get("secretRef") or {}).get("name")))
        what = "Secret"
    if data is None:
        if ref.get("optional"):
            return {}
        raise ConfigError(f"envFrom: {what} {ref.get('name')!r} is not among the app's manifests")
    return {prefix + key: value for key, value in data.items() if _ENV_NAME.match(prefix + key)}


def _value_from(source: dict[str, Any], pod: PodToBoot, container: dict[str, Any], objects: AppObjects, name: str) -> str | None:
    if "fieldRef" in source:
        return field_value(str(source["fieldRef"].get("fieldPath", "")), pod, name)
    if "resourceFieldRef" in source:
        return _resource(source["resourceFieldRef"], pod, container)
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        data = objects.config_maps.get(str(ref.get("name")))
        if data is None or ref.get("key") not in data:
            if ref.get("optional"):
                return None
            raise ConfigError(f"env {name}: ConfigMap {ref.get('name')!r} key {ref.get('key')!r} is not among the app's manifests")
        return data[ref["key"]]
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        data = objects.secret(str(ref.get("name")))
        if data is not None and ref.get("key") in data:
            return data[ref["key"]]
        if ref.get("optional"):
            return None
        return STAND_IN_SECRET  # a Secret made outside the repo (as it should be): a stand-in value
    raise ConfigError(f"env {name}: valueFrom {sorted(source)} is not supported by mlkube boot")


def field_value(path: str, pod: PodToBoot, name: str) -> str:
    """The downward API fields env may read (API reference, EnvVarSource.fieldRef)."""
    simple = {"metadata.name": pod.name, "metadata.namespace": pod.namespace, "metadata.uid": f"boot-{pod.name}",
              "spec.nodeName": "mlkube-boot", "spec.serviceAccountName": str(pod.spec.get("serviceAccountName") or "default"),
              "status.hostIP": "127.0.0.1", "status.hostIPs": "127.0.0.1", "status.podIP": "127.0.0.1", "status.podIPs": "127.0.0.1"}
    if path in simple:
        return simple[path]
    match = _FIELD.match(path)
    if match:
        source = pod.labels if match.group(1) == "labels" else pod.annotations
        return source.get(match.group(2), "")
    raise ConfigError(f"env {name}: fieldRef {path!r} is not a field the downward API offers to env")


def _resource(ref: dict[str, Any], pod: PodToBoot, container: dict[str, Any]) -> str:
    """limits/requests of a container, divided by the divisor and rounded up (pkg/api/v1/resource ExtractContainerResourceValue)."""
    if ref.get("containerName"):
        every = [*(pod.spec.get("initContainers") or []), *pod.spec.get("containers", [])]
        container = next((c for c in every if c.get("name") == ref["containerName"]), container)
    kind, _, resource = str(ref.get("resource", "")).partition(".")
    value = ((container.get("resources") or {}).get(kind) or {}).get(resource)
    if value is None:  # no limit: the node's allocatable, here this machine's
        value = (os.cpu_count() or 1) if resource == "cpu" else os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    divisor = parse_quantity(ref.get("divisor") or "1")
    return str(math.ceil(parse_quantity(value) / divisor))
