"""References between YAML workloads: mounts of a CheckpointVolume and a model read from one, with file:line errors."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from blueprint_helpers import HEADER, problems_of, write
from helpers import REPO_ROOT

from mlkube import CheckpointVolume, Environment, GpuTrainingJob, InferenceService, MlkubeError, Platform
from mlkube.testing import synth_platform

BLUEPRINT = HEADER + """\
workloads:
  checkpoints:
    kind: CheckpointVolume
    name: sentiment-ckpt
    size: 100Gi
    accessMode: ReadWriteMany
  train:
    kind: GpuTrainingJob
    image: ghcr.io/acme/train:1.0
    mounts: [{volume: checkpoints, path: /ckpt}]
  server:
    kind: InferenceService
    image: ghcr.io/acme/server:1.0
    model: {volume: checkpoints, path: run/final}
    mounts:
      - {volume: checkpoints, path: /ckpt, readOnly: true, env: CKPT}
"""
ENVIRONMENTS = [Environment(name="dev", namespace="ml")]


def _platform(tmp_path, text: str) -> Platform:
    write(tmp_path, text, "apps/nlp/mlkube.yaml")
    platform = Platform(environments=ENVIRONMENTS)
    platform.load_blueprints(tmp_path / "apps")
    return platform


def test_yaml_references_give_the_same_objects_as_python(tmp_path):
    from_yaml = synth_platform(_platform(tmp_path, BLUEPRINT))

    def build(app):
        volume = CheckpointVolume(app, "checkpoints", name="sentiment-ckpt", size="100Gi", access_mode="ReadWriteMany")
        GpuTrainingJob(app, "train", image="ghcr.io/acme/train:1.0").mount(volume, path="/ckpt")
        server = InferenceService(app, "server", image="ghcr.io/acme/server:1.0", model=volume.model_uri("run/final"))
        server.mount(volume, path="/ckpt", read_only=True, env="CKPT")

    from_python = Platform(environments=ENVIRONMENTS)
    from_python.app("sentiment", build)
    assert from_yaml.files == synth_platform(from_python).files


def test_the_references_reach_the_pods(tmp_path):
    objects = synth_platform(_platform(tmp_path, BLUEPRINT))
    server = objects.get("Deployment", "server")["spec"]["template"]["spec"]
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in server["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {"model": "sentiment-ckpt", "pvc-sentiment-ckpt": "sentiment-ckpt"}
    mounts = server["containers"][0]["volumeMounts"]
    assert {"mountPath": "/ckpt", "name": "pvc-sentiment-ckpt", "readOnly": True} in mounts
    assert any(m["name"] == "model" and m.get("subPath") == "run/final" and m["readOnly"] for m in mounts)
    train = objects.get("Job", "train")["spec"]["template"]["spec"]
    assert {"mountPath": "/ckpt", "name": "pvc-sentiment-ckpt"} in train["containers"][0]["volumeMounts"]


def test_the_schema_accepts_references():
    schema = json.loads((REPO_ROOT / "schemas" / "blueprint.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(BLUEPRINT))


def test_fails_when_a_mount_names_no_volume_with_file_and_line(tmp_path):
    path = write(tmp_path, BLUEPRINT.replace("mounts: [{volume: checkpoints, path: /ckpt}]", "mounts: [{volume: checkpoint, path: /ckpt}]"))
    assert problems_of(path) == ["13:23 workloads.train.mounts[0].volume: 'checkpoint' is not a CheckpointVolume of this blueprint "
                                 "| did you mean 'checkpoints'?"]


def test_fails_when_the_model_names_no_volume_with_file_and_line(tmp_path):
    path = write(tmp_path, BLUEPRINT.replace("model: {volume: checkpoints,", "model: {volume: weights,"))
    assert problems_of(path) == ["17:21 workloads.server.model.volume: 'weights' is not a CheckpointVolume of this blueprint "
                                 "| volumes of this blueprint: checkpoints"]


def test_fails_when_a_reference_names_a_workload_that_is_not_a_volume(tmp_path):
    path = write(tmp_path, BLUEPRINT.replace("mounts: [{volume: checkpoints, path: /ckpt}]", "mounts: [{volume: server}]"))
    assert problems_of(path)[0].startswith("13:23 workloads.train.mounts[0].volume: 'server' is not a CheckpointVolume")


def test_fails_when_a_mount_path_is_relative(tmp_path):
    path = write(tmp_path, BLUEPRINT.replace("path: /ckpt}]", "path: ckpt}]"))
    assert problems_of(path) == ["13:42 workloads.train.mounts[0].path: must be an absolute path, e.g. /var/run/secrets/db (got 'ckpt')"]


def test_fails_when_a_volume_mounts_a_volume(tmp_path):
    path = write(tmp_path, BLUEPRINT.replace("    accessMode: ReadWriteMany\n", "    access_mode: ReadWriteMany\n    mounts: [{volume: checkpoints}]\n"))
    assert problems_of(path)[0].startswith("10:5 workloads.checkpoints.mounts: a CheckpointVolume does not mount volumes")


def test_fails_at_synth_with_file_and_line(tmp_path):
    platform = _platform(tmp_path, BLUEPRINT.replace("model: {volume: checkpoints,", "model: {volume: weights,"))
    with pytest.raises(MlkubeError) as raised:
        synth_platform(platform)
    assert "mlkube.yaml:17:21" in str(raised.value) and "'weights' is not a CheckpointVolume" in str(raised.value)


def test_a_yaml_model_at_a_snapshot_version_equals_python(tmp_path):
    """model: {volume, path, version} serves the claim restored from that snapshot, as volume.model_uri(path, version=...)."""
    text = BLUEPRINT.replace("    accessMode: ReadWriteMany\n", "    accessMode: ReadWriteMany\n    snapshot: {versions: [run-1]}\n").replace(
        "model: {volume: checkpoints, path: run/final}", "model: {volume: checkpoints, path: run/final, version: run-1}")
    from_yaml = synth_platform(_platform(tmp_path, text))
    assert from_yaml.get("PersistentVolumeClaim", "sentiment-ckpt-run-1")["spec"]["dataSource"]["name"] == "sentiment-ckpt-run-1"

    def build(app):
        volume = CheckpointVolume(app, "checkpoints", name="sentiment-ckpt", size="100Gi", access_mode="ReadWriteMany",
                                  snapshot={"versions": ["run-1"]})
        GpuTrainingJob(app, "train", image="ghcr.io/acme/train:1.0").mount(volume, path="/ckpt")
        server = InferenceService(app, "server", image="ghcr.io/acme/server:1.0", model=volume.model_uri("run/final", version="run-1"))
        server.mount(volume, path="/ckpt", read_only=True, env="CKPT")

    from_python = Platform(environments=ENVIRONMENTS)
    from_python.app("sentiment", build)
    assert from_yaml.files == synth_platform(from_python).files
