"""Faults that ``mypy --strict`` found when it first ran on the package (issue 18): each one crashed with a
traceback (NameError, TypeError) where mlkube should have reported a problem."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest
from helpers import REPO_ROOT

from mlkube import CheckpointVolume, Environment, InferenceService, MlApp, MlkubeError, Platform
from mlkube.boot.podman import BootOptions, boot
from mlkube.errors import EXIT_FINDINGS
from mlkube.pinning.models import HuggingFaceResolver


def test_an_autoscaled_multi_node_server_on_a_single_node_volume_is_reported_not_a_name_error(tmp_path: Path) -> None:
    # volume_sharing.pods_at_once called an undefined _scaled_maximum for a LeaderWorkerSet without replicas.
    platform = Platform(environments=[Environment(name="dev", operators={"lws": "0.7"}, network={"egress_https_cidrs": ["0.0.0.0/0"]})])

    @platform.app("llm")
    def llm(app: MlApp) -> None:
        cache = CheckpointVolume(app, "cache", size="100Gi")
        server = InferenceService(app, "server", image="vllm/vllm-openai:v0.11.0", runtime="vllm", model="hf://org/model", nodes=2,
                                  resources={"gpu": {"count": 8}}, autoscaling={"min_replicas": 1, "max_replicas": 2})
        server.mount(cache, read_only=True)

    with pytest.raises(MlkubeError) as raised:
        platform.synthesize(tmp_path / "dist")
    # Two groups at most (the HPA's maxReplicas) of a leader and a worker each.
    assert "PersistentVolumeClaim 'cache' is ReadWriteOnce" in str(raised.value)
    assert "dev/llm/server (LeaderWorkerSet/server, 4 pods)" in str(raised.value)


def test_resolving_a_model_that_is_not_on_hugging_face_is_a_problem_not_a_type_error() -> None:
    with pytest.raises(MlkubeError, match=r"s3://bucket/model: only hf:// models are resolved") as raised:
        HuggingFaceResolver(endpoint="http://127.0.0.1:9").resolve("s3://bucket/model")
    assert raised.value.problems[0].hint


def test_a_podman_that_cannot_create_a_pod_is_reported_with_its_error(tmp_path: Path) -> None:
    # boot passed exit_code= to MlkubeError.single, which did not take it: a TypeError hid podman's message.
    podman = tmp_path / "podman"
    podman.write_text('#!/bin/sh\nif [ "$1 $2" = "pod create" ]; then echo "catatonit: not found" >&2; exit 125; fi\nexit 0\n')
    podman.chmod(podman.stat().st_mode | stat.S_IXUSR)
    app = tmp_path / "app"
    shutil.copytree(REPO_ROOT / "dist" / "dev" / "fraud-scoring", app)
    with pytest.raises(MlkubeError, match="podman cannot create a pod: catatonit: not found") as raised:
        boot(app, BootOptions(podman=str(podman)), echo=lambda line: None)
    assert raised.value.exit_code == EXIT_FINDINGS
