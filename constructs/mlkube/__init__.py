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
    "BatchJob": "core.batch_job", "BatchJobSpec": "core.batch_job",
    "CheckpointVolume": "core.checkpoint_volume", "CheckpointVolumeSpec": "core.checkpoint_volume",
    "SnapshotSpec": "core.checkpoint_volume",
    "EmittedObject": "core.escape_hatch", "api_object_of": "core.escape_hatch",
    "ExposeSpec": "core.exposure", "GatewayRef": "core.exposure",
    "ExternalSecretSpec": "core.external_secret",
    "GitOps": "core.gitops_settings", "WorkloadOverride": "core.gitops_settings",
    "GpuTrainingJob": "core.gpu_training_job", "GpuTrainingJobSpec": "core.gpu_training_job",
    "Image": "core.image", "RegistryImage": "core.image",
    "AutoscalingSpec": "core.inference_service", "CustomMetric": "core.inference_service",
    "InferenceService": "core.inference_service", "InferenceServiceSpec": "core.inference_service",
    "Peer": "core.inference_service", "ProbesSpec": "core.inference_service",
    "KedaScaling": "core.keda",
    "KServeOptions": "core.kserve",
    "Model": "core.model",
    "JobAlertsSpec": "core.monitoring", "MonitoringSpec": "core.monitoring",
    "EgressRule": "core.network.model",
    "AffinitySpec": "core.placement", "NodeSelectorRequirement": "core.placement", "NodeTerm": "core.placement",
    "PodAntiAffinity": "core.placement", "PreferredNodeTerm": "core.placement", "Toleration": "core.placement",
    "TopologySpread": "core.placement",
    "Environment": "core.platform", "MlApp": "core.platform", "Platform": "core.platform",
    "SecretEnv": "core.pod", "SecretMount": "core.pod", "SidecarSpec": "core.pod",
    "GpuSpec": "core.resources", "ResourcesSpec": "core.resources",
    "Runtime": "core.runtimes",
    "ScheduledJob": "core.scheduled_job", "ScheduledJobSpec": "core.scheduled_job",
    "Tenancy": "core.tenancy",
    "Waiver": "core.waivers",
    "MlkubeError": "errors", "Problem": "errors",
}

__all__ = [
    "AffinitySpec", "AutoscalingSpec", "BatchJob", "BatchJobSpec", "CheckpointVolume", "CheckpointVolumeSpec",
    "CustomMetric", "EgressRule", "EmittedObject", "Environment", "ExposeSpec", "ExternalSecretSpec", "GatewayRef",
    "GitOps", "GpuSpec", "GpuTrainingJob", "GpuTrainingJobSpec", "Image", "InferenceService", "InferenceServiceSpec",
    "JobAlertsSpec", "KServeOptions", "KedaScaling", "MlApp", "MlkubeError", "Model", "MonitoringSpec",
    "NodeSelectorRequirement", "NodeTerm", "Peer", "Platform", "PodAntiAffinity", "PreferredNodeTerm", "ProbesSpec",
    "Problem", "RegistryImage", "ResourcesSpec", "Runtime", "ScheduledJob", "ScheduledJobSpec", "SecretEnv",
    "SecretMount", "SidecarSpec", "SnapshotSpec", "Tenancy", "Toleration", "TopologySpread", "Waiver",
    "WorkloadOverride", "api_object_of",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlkube' has no attribute {name!r}")
    if module.startswith("core."):  # the constructs run in Node: start it while Python imports them (core/node_start.py)
        from .core.node_start import start_node_early

        start_node_early()
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


# What type checkers see: the same names, imported eagerly and re-exported by the literal __all__ above.
if TYPE_CHECKING:
    from .core.batch_job import BatchJob, BatchJobSpec
    from .core.checkpoint_volume import CheckpointVolume, CheckpointVolumeSpec, SnapshotSpec
    from .core.escape_hatch import EmittedObject, api_object_of
    from .core.exposure import ExposeSpec, GatewayRef
    from .core.external_secret import ExternalSecretSpec
    from .core.gitops_settings import GitOps, WorkloadOverride
    from .core.gpu_training_job import GpuTrainingJob, GpuTrainingJobSpec
    from .core.image import Image, RegistryImage
    from .core.inference_service import AutoscalingSpec, CustomMetric, InferenceService, InferenceServiceSpec, Peer, ProbesSpec
    from .core.keda import KedaScaling
    from .core.kserve import KServeOptions
    from .core.model import Model
    from .core.monitoring import JobAlertsSpec, MonitoringSpec
    from .core.network.model import EgressRule
    from .core.placement import AffinitySpec, NodeSelectorRequirement, NodeTerm, PodAntiAffinity, PreferredNodeTerm, Toleration, TopologySpread
    from .core.platform import Environment, MlApp, Platform
    from .core.pod import SecretEnv, SecretMount, SidecarSpec
    from .core.resources import GpuSpec, ResourcesSpec
    from .core.runtimes import Runtime
    from .core.scheduled_job import ScheduledJob, ScheduledJobSpec
    from .core.tenancy import Tenancy
    from .core.waivers import Waiver
    from .errors import MlkubeError, Problem
