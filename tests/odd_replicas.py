"""A cdk8s validation (``node.add_validation``) that tests attach to constructs: replicas must be odd."""

from __future__ import annotations

import jsii

from constructs import IValidation


@jsii.implements(IValidation)
class OddReplicas:
    def __init__(self, replicas: int) -> None:
        self.replicas = replicas

    def validate(self) -> list[str]:
        return [] if self.replicas % 2 else [f"replicas must be odd for a quorum, got {self.replicas}"]
