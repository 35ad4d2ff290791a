"""mlkube: typed cdk8s constructs for machine-learning workloads, compiled into a GitOps config repo.

Names are imported on first use (PEP 562), so commands that never build constructs (validate, diff,
pin) do not start Node for cdk8s.
"""

from __future__ import annotations

import importlib
import os as _os
from typing import TYPE_CHECKING, Any

# jsii prints a Node 20 end-of-life banner on every start-up; it says nothing about mlkube.
_os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

#: Public name -> module that defines it (read by __getattr__; tests/test_typing.py checks it matches the imports below).
_EXPORTS = {
    "BatchJob": "batch_job", "BatchJobSpec": "batch_job",
    "CheckpointVolume": "checkpoint_volume", "CheckpointVolumeSpec": "checkpoint_volume",
    "SnapshotSpec": "checkpoint_volume",
    "MlkubeError": "errors", "Problem": "errors",
    "ExposeSpec": "exposure", "GatewayRef": "exposure",
    "ExternalSecretSpec": "external_secret",
    "GitOps": "gitops.settings", "WorkloadOverride": "gitops.settings",
    "Tenancy": "gitops.tenancy",
    "GpuTrainingJob": "gpu_training_job", "GpuTrainingJobSpec": "gpu_training_job",
    "Image": "image", "RegistryImage": "image",
    "AutoscalingSpec": "inference_service", "CustomMetric": "inference_service",
    "InferenceService": "inference_service", "InferenceServiceSpec": "inference_service", "Peer": "inference_service",
    "ProbesSpec": "inference_service",
    "KedaScaling": "keda",
    "KServeOptions": "kserve",
    "Model": "model",
    "JobAlertsSpec": "monitoring", "MonitoringSpec": "monitoring",
    "AffinitySpec": "placement", "NodeSelectorRequirement": "placement", "NodeTerm": "placement",
    "PodAntiAffinity": "placement", "PreferredNodeTerm": "placement", "Toleration": "placement",
    "TopologySpread": "placement",
    "Environment": "platform", "MlApp": "platform", "Platform": "platform",
    "SecretEnv": "pod", "SecretMount": "pod", "SidecarSpec": "pod",
    "Waiver": "policy.waivers",
    "GpuSpec": "resources", "ResourcesSpec": "resources",
    "Runtime": "runtimes",
    "ScheduledJob": "scheduled_job", "ScheduledJobSpec": "scheduled_job",
    "EgressRule": "traffic.model",
}

__all__ = [
    "AffinitySpec", "AutoscalingSpec", "BatchJob", "BatchJobSpec", "CheckpointVolume", "CheckpointVolumeSpec",
    "CustomMetric", "EgressRule", "Environment", "ExposeSpec", "ExternalSecretSpec", "GatewayRef", "GitOps",
    "GpuSpec", "GpuTrainingJob", "GpuTrainingJobSpec", "Image", "InferenceService", "InferenceServiceSpec",
    "JobAlertsSpec", "KServeOptions", "KedaScaling", "MlApp", "MlkubeError", "Model", "MonitoringSpec",
    "NodeSelectorRequirement", "NodeTerm", "Peer", "Platform", "PodAntiAffinity", "PreferredNodeTerm", "ProbesSpec",
    "Problem", "RegistryImage", "ResourcesSpec", "Runtime", "ScheduledJob", "ScheduledJobSpec", "SecretEnv",
    "SecretMount", "SidecarSpec", "SnapshotSpec", "Tenancy", "Toleration", "TopologySpread", "Waiver",
    "WorkloadOverride",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlkube' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


# What type checkers see: the same names, imported eagerly and re-exported by the literal __all__ above.
if TYPE_CHECKING:
    from .batch_job import BatchJob, BatchJobSpec
    from .checkpoint_volume import CheckpointVolume, CheckpointVolumeSpec, SnapshotSpec
    from .errors import MlkubeError, Problem
    from .exposure import ExposeSpec, GatewayRef
    from .external_secret import ExternalSecretSpec
    from .gitops.settings import GitOps, WorkloadOverride
    from .gitops.tenancy import Tenancy
    from .gpu_training_job import GpuTrainingJob, GpuTrainingJobSpec
    from .image import Image, RegistryImage
    from .inference_service import AutoscalingSpec, CustomMetric, InferenceService, InferenceServiceSpec, Peer, ProbesSpec
    from .keda import KedaScaling
    from .kserve import KServeOptions
    from .model import Model
    from .monitoring import JobAlertsSpec, MonitoringSpec
    from .placement import AffinitySpec, NodeSelectorRequirement, NodeTerm, PodAntiAffinity, PreferredNodeTerm, Toleration, TopologySpread
    from .platform import Environment, MlApp, Platform
    from .pod import SecretEnv, SecretMount, SidecarSpec
    from .policy.waivers import Waiver
    from .resources import GpuSpec, ResourcesSpec
    from .runtimes import Runtime
    from .scheduled_job import ScheduledJob, ScheduledJobSpec
    from .traffic.model import EgressRule
