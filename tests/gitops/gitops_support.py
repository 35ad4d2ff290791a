"""Helpers for the GitOps tests: a small platform with one app, synthesized in memory."""

from __future__ import annotations

from typing import Any

from mlkube import Environment, InferenceService, MlApp, Platform
from mlkube.core.gitops_settings import GitOps
from mlkube.testing import synth_platform

REPO = "https://example.com/acme/config.git"
PINNED = "ghcr.io/acme/server:1.0@sha256:" + "a" * 64


def server(app: MlApp, **fields: Any) -> None:
    InferenceService(app, "server", image=fields.pop("image", PINNED), **fields)


def platform(*environments: Environment, repo_url: str | None = REPO, **fields: Any) -> Platform:
    result = Platform(environments=list(environments), gitops=GitOps(repo_url=repo_url))
    result.app("scoring", lambda app: server(app, **fields))
    return result


def synth(*environments: Environment, **fields: Any):
    return synth_platform(platform(*environments, **fields))
