"""mlkube: typed cdk8s constructs for machine-learning workloads, compiled into a GitOps config repo."""

import os as _os

# jsii prints a Node 20 end-of-life banner on every start-up; it says nothing about mlkube.
_os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from .batch_job import BatchJob, BatchJobSpec
from .checkpoint_volume import CheckpointVolume, CheckpointVolumeSpec, SnapshotSpec
from .errors import MlkubeError, Problem
from .gpu_training_job import GpuTrainingJob, GpuTrainingJobSpec
from .image import Image, RegistryImage
from .inference_service import AutoscalingSpec, CustomMetric, InferenceService, InferenceServiceSpec, Peer, ProbesSpec
from .model import Model
from .pod import SecretEnv, SecretMount, SidecarSpec
from .resources import GpuSpec, ResourcesSpec
from .scheduled_job import ScheduledJob, ScheduledJobSpec
from .platform import Environment, MlApp, Platform

__all__ = [
    "AutoscalingSpec", "BatchJob", "BatchJobSpec", "CheckpointVolume", "CheckpointVolumeSpec", "CustomMetric", "Environment",
    "GpuSpec", "GpuTrainingJob", "GpuTrainingJobSpec", "Image", "InferenceService", "InferenceServiceSpec",
    "MlApp", "MlkubeError", "Model", "Peer", "Platform", "Problem", "ProbesSpec", "RegistryImage", "ResourcesSpec",
    "ScheduledJob", "ScheduledJobSpec", "SecretEnv", "SecretMount", "SidecarSpec", "SnapshotSpec",
]
