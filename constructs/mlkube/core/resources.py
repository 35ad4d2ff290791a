"""Compute resources and GPUs: the specs, and how they become container resources and scheduling."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, PositiveInt, field_validator, model_validator

from ..kube.quantity import Quantity, parse_quantity
from .spec import Spec

__all__ = ["GpuSpec", "ResourcesSpec", "Scheduling", "GPU_RESOURCE", "GPU_TOLERATION"]

GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
#: GPU nodes are usually tainted so that only pods that ask for GPUs land there.
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
_EXTENDED_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_MIG_PROFILE = re.compile(r"^[1-9]g\.[0-9]+gb(\+me)?$")
# The NVIDIA device plugin hands a container slices of one profile; a container cannot combine profiles.
_TWO_MIG_PROFILES = ("one container takes one MIG profile, not several (got {value!r}); pick one profile, "
                     "or run a workload per profile")


class GpuSpec(Spec):
    """GPUs for each pod: whole devices (``count``) or one MIG slice (``mig_profile``), not both."""

    count: PositiveInt | None = Field(default=None, description="Whole GPUs per pod (nvidia.com/gpu). Default: 1 unless mig_profile is set.")
    mig_profile: str | None = Field(default=None, description="A MIG slice such as '1g.10gb' (resource nvidia.com/mig-1g.10gb). Default: whole GPUs.")
    product: str | None = Field(default=None, description="GPU product node label value, e.g. 'NVIDIA-A100-SXM4-80GB' (nvidia.com/gpu.product). Default: any GPU.")
    runtime_class: str | None = Field(default=None, description="runtimeClassName for GPU pods, e.g. 'nvidia'. Default: the cluster's default runtime.")
    tolerate_gpu_taint: bool = Field(default=True, description="Tolerate the nvidia.com/gpu NoSchedule taint of GPU nodes. Default: true.")

    @field_validator("mig_profile", mode="before")
    @classmethod
    def _one_mig_profile(cls, value: Any) -> Any:
        if isinstance(value, list | tuple) or (isinstance(value, str) and "," in value):
            raise ValueError(_TWO_MIG_PROFILES.format(value=value))
        return value

    @field_validator("mig_profile")
    @classmethod
    def _mig_profile_shape(cls, value: str | None) -> str | None:
        if value is not None and not _MIG_PROFILE.match(value):
            raise ValueError(f"MIG profile {value!r} is not of the form '<slices>g.<memory>gb', e.g. '1g.10gb' or '3g.40gb'")
        return value

    @model_validator(mode="after")
    def _count_or_mig(self) -> GpuSpec:
        if self.count is not None and self.mig_profile is not None:
            raise ValueError(f"set either 'count' ({self.count}) or 'mig_profile' ({self.mig_profile!r}), not both: "
                             "a pod gets whole GPUs or one MIG slice")
        return self

    @property
    def resource(self) -> str:
        return f"nvidia.com/mig-{self.mig_profile}" if self.mig_profile else GPU_RESOURCE

    @property
    def devices(self) -> int:
        return 1 if self.mig_profile else (self.count or 1)


class ResourcesSpec(Spec):
    """CPU, memory, GPUs and shared memory of the main container. Limits equal requests by default (Guaranteed QoS)."""

    cpu: Quantity = Field(default="1", description="CPU request, e.g. '500m' or 4. Default: 1 core.")
    memory: Quantity = Field(default="2Gi", description="Memory request, e.g. '16Gi'. Default: 2Gi.")
    cpu_limit: Quantity | None = Field(default=None, description="CPU limit. Default: equal to cpu (Guaranteed QoS).")
    memory_limit: Quantity | None = Field(default=None, description="Memory limit. Default: equal to memory.")
    ephemeral_storage: Quantity | None = Field(default=None, description="Ephemeral storage request and limit. Default: none set.")
    gpu: GpuSpec | None = Field(default=None, description="GPUs per pod. Default: no GPU.")
    shm_size: Quantity | None = Field(default=None, description="Size of /dev/shm (an in-memory emptyDir) for data loaders and NCCL. Default: the runtime's 64Mi.")
    extended: dict[str, PositiveInt] = Field(default_factory=dict, description="Other device-plugin resources per pod, whole "
                                             "numbers, requested and limited alike, e.g. {'vpc.amazonaws.com/efa': 4} (AWS EFA) or "
                                             "{'rdma/hca_shared_devices_a': 1} (k8s-rdma-shared-dev-plugin). Default: none.")

    @field_validator("extended")
    @classmethod
    def _extended_names(cls, value: dict[str, int]) -> dict[str, int]:
        # An extended resource is a domain-prefixed name outside kubernetes.io (pkg/apis/core/helper IsExtendedResourceName);
        # GPUs have their own field so that the GPU toleration, product and MIG checks apply.
        for name in value:
            domain, slash, _ = name.partition("/")
            if not slash or not _EXTENDED_NAME.match(name):
                raise ValueError(f"{name!r} is not an extended resource name: '<domain>/<name>', e.g. 'vpc.amazonaws.com/efa'")
            if domain == "kubernetes.io" or domain.endswith(".kubernetes.io") or name.startswith("requests."):
                raise ValueError(f"{name!r} is in the kubernetes.io domain, which is not for device plugins")
            if name == GPU_RESOURCE or name.startswith("nvidia.com/mig-"):
                raise ValueError(f"{name!r}: request GPUs with resources.gpu (count or mig_profile), not 'extended'")
        return dict(sorted(value.items()))

    @field_validator("gpu", mode="before")
    @classmethod
    def _one_gpu_kind(cls, value: Any) -> Any:
        # ``gpu=[{"mig_profile": "1g.10gb"}, {"mig_profile": "2g.20gb"}]`` reads like two GPUs; refuse it with the rule.
        if isinstance(value, list | tuple):
            profiles = [(item.get("mig_profile") or item.get("migProfile")) if isinstance(item, dict) else getattr(item, "mig_profile", None) for item in value]
            if sum(profile is not None for profile in profiles) > 1:
                raise ValueError(_TWO_MIG_PROFILES.format(value=[p for p in profiles if p]))
            raise ValueError("gpu is one GPU request per pod, not a list: set count for whole GPUs or one mig_profile")
        return value

    @model_validator(mode="after")
    def _limits_and_shm(self) -> ResourcesSpec:
        for request, limit in (("cpu", "cpu_limit"), ("memory", "memory_limit")):
            if getattr(self, limit) is not None and parse_quantity(getattr(self, limit)) < parse_quantity(getattr(self, request)):
                raise ValueError(f"{limit} ({getattr(self, limit)}) is below the {request} request ({getattr(self, request)})")
        if self.shm_size is not None and parse_quantity(self.shm_size) > parse_quantity(self.effective_memory_limit):
            raise ValueError(f"shm_size ({self.shm_size}) is above the memory limit ({self.effective_memory_limit}): "
                             "/dev/shm counts against the container's memory; lower shm_size or raise memory")
        return self

    @property
    def effective_memory_limit(self) -> str:
        return self.memory_limit or self.memory

    def container_resources(self) -> dict[str, Any]:
        requests: dict[str, Any] = {"cpu": self.cpu, "memory": self.memory}
        limits: dict[str, Any] = {"cpu": self.cpu_limit or self.cpu, "memory": self.effective_memory_limit}
        if self.ephemeral_storage is not None:
            requests["ephemeral-storage"] = limits["ephemeral-storage"] = self.ephemeral_storage
        if self.gpu is not None:
            requests[self.gpu.resource] = limits[self.gpu.resource] = self.gpu.devices
        for name, count in self.extended.items():
            # Extended resources cannot be overcommitted: the API server requires requests equal to limits.
            requests[name] = limits[name] = count
        return {"requests": requests, "limits": limits}


class Scheduling:
    """Pod-level scheduling that follows from the resources: GPU node selector, toleration, runtime class."""

    def __init__(self, resources: ResourcesSpec) -> None:
        self.node_selector: dict[str, str] = {}
        self.tolerations: list[dict[str, Any]] = []
        self.runtime_class: str | None = None
        gpu = resources.gpu
        if gpu is not None:
            if gpu.product:
                self.node_selector[GPU_PRODUCT_LABEL] = gpu.product
            if gpu.tolerate_gpu_taint:
                self.tolerations.append(dict(GPU_TOLERATION))
            self.runtime_class = gpu.runtime_class
