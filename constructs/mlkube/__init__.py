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

#: Public name -> module that defines it.
_EXPORTS = {
    "MlkubeError": "errors", "Problem": "errors",
    "Image": "image", "RegistryImage": "image",
    "AutoscalingSpec": "inference_service", "CustomMetric": "inference_service", "InferenceService": "inference_service",
    "InferenceServiceSpec": "inference_service", "Peer": "inference_service", "ProbesSpec": "inference_service",
    "Model": "model", "EgressRule": "traffic.model", "Runtime": "runtimes",
    "BatchJob": "batch_job", "BatchJobSpec": "batch_job",
    "CheckpointVolume": "checkpoint_volume", "CheckpointVolumeSpec": "checkpoint_volume", "SnapshotSpec": "checkpoint_volume",
    "GpuTrainingJob": "gpu_training_job", "GpuTrainingJobSpec": "gpu_training_job",
    "ScheduledJob": "scheduled_job", "ScheduledJobSpec": "scheduled_job",
    "KServeOptions": "kserve", "KedaScaling": "keda", "MonitoringSpec": "monitoring", "JobAlertsSpec": "monitoring", "ExternalSecretSpec": "external_secret",
    "Environment": "platform", "MlApp": "platform", "Platform": "platform",
    "SecretEnv": "pod", "SecretMount": "pod", "SidecarSpec": "pod",
    "GpuSpec": "resources", "ResourcesSpec": "resources",
    "ExposeSpec": "exposure", "GatewayRef": "exposure",
    "AffinitySpec": "placement", "Toleration": "placement", "TopologySpread": "placement", "NodeTerm": "placement",
    "PreferredNodeTerm": "placement", "NodeSelectorRequirement": "placement", "PodAntiAffinity": "placement",
    "api_object_of": "escape_hatch", "EmittedObject": "escape_hatch",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlkube' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from .batch_job import BatchJob, BatchJobSpec
    from .checkpoint_volume import CheckpointVolume, CheckpointVolumeSpec, SnapshotSpec
    from .gpu_training_job import GpuTrainingJob, GpuTrainingJobSpec
    from .scheduled_job import ScheduledJob, ScheduledJobSpec
    from .errors import MlkubeError, Problem
    from .escape_hatch import EmittedObject, api_object_of
    from .image import Image, RegistryImage
    from .inference_service import AutoscalingSpec, CustomMetric, InferenceService, InferenceServiceSpec, Peer, ProbesSpec
    from .external_secret import ExternalSecretSpec
    from .keda import KedaScaling
    from .kserve import KServeOptions
    from .model import Model
    from .runtimes import Runtime
    from .monitoring import JobAlertsSpec, MonitoringSpec
    from .platform import Environment, MlApp, Platform
    from .pod import SecretEnv, SecretMount, SidecarSpec
    from .resources import GpuSpec, ResourcesSpec
    from .exposure import ExposeSpec, GatewayRef
    from .placement import (AffinitySpec, NodeSelectorRequirement, NodeTerm, PodAntiAffinity, PreferredNodeTerm, Toleration,
                            TopologySpread)
