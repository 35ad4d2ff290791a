"""Values the API server (or the kubelet) refuses are refused at synth, with the field and the rule."""

from __future__ import annotations

import cdk8s
import pytest

from mlkube import GpuTrainingJob, Image, InferenceService, MlkubeError, ScheduledJob
from mlkube.kube.apiserver_rules import config_key_problem, env_name_problem, sub_path_problem
from mlkube.testing import synth_app
from mlkube.validation.apiserver import int32_fields

IMAGE = "ghcr.io/acme/server:1.0"


def _failure(build) -> str:
    with pytest.raises(MlkubeError) as error:
        synth_app(build)
    return str(error.value)


def test_fails_when_a_config_key_climbs_out_of_the_mounted_folder():
    message = _failure(lambda app: InferenceService(app, "s", image=IMAGE, config={"../x": "1"}))
    assert "config.`../x`.[key]" in message or "config.../x" in message
    assert "key '../x' may contain only letters, digits" in message


def test_fails_when_an_env_name_starts_with_a_digit():
    message = _failure(lambda app: InferenceService(app, "s", image=IMAGE, env={"1BAD": "x"}))
    assert "environment variable name '1BAD' must start with a letter" in message


@pytest.mark.parametrize(("replicas", "expected"), [(2**63, "wider than a 64-bit integer"),
                                                    (2**31, "replicas 2147483648 is larger than 2147483647")])
def test_fails_when_replicas_overflow_the_api_integer(replicas, expected):
    assert expected in _failure(lambda app: InferenceService(app, "s", image=IMAGE, replicas=replicas))


def test_fails_when_a_cronjob_name_is_longer_than_52_characters():
    name = "n" * 53
    message = _failure(lambda app: ScheduledJob(app, name, image=IMAGE, schedule="0 2 * * *"))
    assert f"CronJob/{name}: a CronJob name has at most 52 characters (got 53)" in message


def test_a_cronjob_name_of_52_characters_is_fine():
    synth_app(lambda app: ScheduledJob(app, "n" * 52, image=IMAGE, schedule="0 2 * * *"))


def test_fails_when_a_pvc_model_path_leaves_the_volume():
    message = _failure(lambda app: InferenceService(app, "s", image=IMAGE, model="pvc://claim/../../etc"))
    assert "path '../../etc' must not contain '..'" in message


def test_fails_when_an_image_repository_has_upper_case_letters():
    assert "'UPPER/x:1' is not a valid image reference" in _failure(lambda app: InferenceService(app, "s", image="UPPER/x:1"))


def test_fails_when_a_gpu_count_is_a_boolean():
    message = _failure(lambda app: GpuTrainingJob(app, "t", image=IMAGE, resources={"cpu": 4, "memory": "16Gi", "gpu": {"count": True}}))
    assert "resources.gpu.count" in message and "true (a boolean)" in message


def test_fails_when_a_base_image_ends_with_a_newline(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "img").mkdir()
    (tmp_path / "img/requirements.txt").write_text("")
    message = _failure(lambda app: InferenceService(app, "s", image=Image.build("img", base="python:3.11-slim\n")))
    assert "'python:3.11-slim\\n' is not a valid image reference" in message


def test_objects_added_with_plain_cdk8s_are_held_to_the_same_rules():
    def build(app):
        InferenceService(app, "s", image=IMAGE)
        cdk8s.ApiObject(app, "cm", api_version="v1", kind="ConfigMap", metadata={"name": "cm"}).add_json_patch(
            cdk8s.JsonPatch.add("/data", {"../x": "1"}))
    assert "ConfigMap/cm: key '../x'" in _failure(build)


@pytest.mark.parametrize(("key", "ok"), [("config.yaml", True), ("LOG_LEVEL", True), (".hidden", True), ("..x", False),
                                         (".", False), ("a/b", False), ("", False), ("k" * 254, False)])
def test_config_keys_follow_apimachinery_is_config_map_key(key, ok):
    assert (config_key_problem(key) is None) is ok


@pytest.mark.parametrize(("name", "ok"), [("LOG_LEVEL", True), ("_x", True), ("a.b-c", True), ("1BAD", False), ("A=B", False),
                                          ("", False), ("..x", False)])
def test_env_names_follow_apimachinery_is_env_var_name(name, ok):
    assert (env_name_problem(name) is None) is ok


@pytest.mark.parametrize(("path", "ok"), [("", True), ("models/final", True), ("a..b", True), ("../x", False), ("a/../b", False),
                                          ("/etc", False), ("a\\..\\b", False)])
def test_sub_paths_follow_validate_local_descending_path(path, ok):
    assert (sub_path_problem(path) is None) is ok


def test_int32_fields_come_from_the_kubernetes_schemas():
    fields = int32_fields()
    assert {"replicas", "minReplicas", "maxReplicas", "parallelism", "containerPort", "backoffLimit"} <= fields
    assert "activeDeadlineSeconds" not in fields and "runAsUser" not in fields  # int64 in the API
