"""mlkube: typed cdk8s constructs for machine-learning workloads, compiled into a GitOps config repo."""

import os as _os

# jsii prints a Node 20 end-of-life banner on every start-up; it says nothing about mlkube.
_os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from .errors import MlkubeError, Problem
from .image import Image, RegistryImage
from .platform import Environment, MlApp, Platform

__all__ = ["Environment", "Image", "MlApp", "MlkubeError", "Platform", "Problem", "RegistryImage"]
