"""The blueprint document: one app, the environments it runs in, and its workloads."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from ..core.spec import DnsLabel, Spec

__all__ = ["BlueprintSpec", "API_VERSION", "KIND", "EXTENSION_PREFIX", "without_extensions"]

API_VERSION = "mlkube.dev/v1alpha1"
KIND = "Blueprint"
#: Top-level keys with this prefix are ignored: a place for YAML anchors shared by workloads.
EXTENSION_PREFIX = "x-"


def without_extensions(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if not key.startswith(EXTENSION_PREFIX)}


class BlueprintSpec(Spec):
    """An mlkube blueprint (apps/<team>/mlkube.yaml): one app of the platform, described in YAML.

    The platform (apps/main.py, Python) defines the environments; every app it finds in a
    blueprint file is synthesized into dist/<environment>/<app>/ like an app written in Python.
    Top-level keys starting with 'x-' are ignored, so they can hold YAML anchors (``x-base: &base``).
    """

    model_config = ConfigDict(**Spec.model_config, json_schema_extra={
        "patternProperties": {"^x-": {"description": "Ignored: a place for YAML anchors shared by workloads."}}})

    apiVersion: Literal["mlkube.dev/v1alpha1"] = Field(description="Version of the blueprint format: mlkube.dev/v1alpha1.")
    kind: Literal["Blueprint"] = Field(description="Type of document: Blueprint.")
    app: DnsLabel = Field(description="App name: the folder dist/<environment>/<app>/ and the '{app}' of the environment's namespace.")
    environments: list[DnsLabel] | None = Field(default=None, description="Names of the platform environments the app runs in. Default: every environment of the platform.")
    workloads: dict[DnsLabel, dict[str, Any]] = Field(
        default_factory=dict,
        description="Workloads by id (the construct id, and the default name of their objects). Each has a 'kind' and that kind's spec fields. Default: none.",
    )
