"""mlkube boot without podman: the pods a cluster would start, the kubelet's env rules, the podman arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlkube.boot.environment import STAND_IN_SECRET, AppObjects, ConfigError, resolve_container
from mlkube.boot.expansion import expand
from mlkube.boot.podman import map_image, podman_run_args
from mlkube.boot.pods import COMPLETION_INDEX, PodToBoot, pods_to_boot
from mlkube.boot.volumes import MadeVolume
from mlkube.kube.loader import load_manifests

DIST = Path(__file__).resolve().parents[2] / "dist"


# Cases of kubernetes/kubernetes third_party/forked/golang/expansion/expand_test.go
@pytest.mark.parametrize(("text", "expected"), [
    ("$(VAR_A)", "A"),
    ("___$(VAR_B)___", "___B___"),
    ("$(VAR_A)-$(VAR_A)", "A-A"),
    ("$(VAR_A)$(VAR_B)", "AB"),
    ("$$(VAR_B)", "$(VAR_B)"),          # escaped
    ("$$$(VAR_A)", "$A"),                # an escaped $ then a reference
    ("$(VAR_DOES_NOT_EXIST)", "$(VAR_DOES_NOT_EXIST)"),  # undefined: kept
    ("$(VAR_A", "$(VAR_A"),              # incomplete: kept
    ("$VAR_A", "$VAR_A"),                # not a reference
    ("$", "$"), ("$$", "$"), ("f00$", "f00$"),
    ("$()", "$()"),
    ("$(EMPTY)x", "x"),
])
def test_expansion_follows_the_kubelet(text, expected):
    assert expand(text, {"VAR_A": "A", "VAR_B": "B", "EMPTY": ""}) == expected


def test_the_llm_app_boots_one_server_pod_and_one_pod_per_completion_index():
    pods, skipped, problems = pods_to_boot(load_manifests([DIST / "dev" / "llm-chat"]))
    assert not problems and not skipped
    assert [(p.workload, p.name, p.hostname, p.completes) for p in pods] == [
        ("Deployment/llm-server", "llm-server-boot", "llm-server-boot", False),
        ("Job/llm-finetune", "llm-finetune-0", "llm-finetune-0", True),
        ("Job/llm-finetune", "llm-finetune-1", "llm-finetune-1", True)]
    assert [p.annotations[COMPLETION_INDEX] for p in pods[1:]] == ["0", "1"]


def test_operator_workloads_are_skipped_with_a_reason():
    pods, skipped, _ = pods_to_boot(load_manifests([DIST / "dev" / "sentiment"]))
    assert pods == []
    assert [(s.workload, "operator" in s.reason) for s in skipped] == [("InferenceService/sentiment-server", True)]


def test_a_cron_job_boots_one_run():
    pods, _, _ = pods_to_boot(load_manifests([DIST / "dev" / "fraud-scoring"]))
    assert [(p.workload, p.name, p.completes) for p in pods] == [("CronJob/nightly-scoring", "nightly-scoring-run-0", True),
                                                                  ("Deployment/fraud-scorer", "fraud-scorer-boot", False)]


def _pod(**spec) -> PodToBoot:
    return PodToBoot(workload="Job/x", name="x-1", namespace="ml", spec=spec, labels={"team": "nlp"},
                     annotations={COMPLETION_INDEX: "1"},
                     extra_env=[{"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}}])


def test_env_from_config_maps_fields_and_earlier_variables():
    objects = AppObjects.from_manifests([{"kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"LEVEL": "info", "bad name": "x"}},
                                         {"kind": "ExternalSecret", "metadata": {"name": "es"}, "spec": {"target": {"name": "creds"}, "data": [{"secretKey": "token"}]}}])
    container = {
        "name": "main",
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "APP_"}],
        "env": [{"name": "RANK", "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}},
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "TEAM", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['team']"}}},
                {"name": "OUT", "value": "/out/$(POD)/$(LATER)"},   # LATER is defined after: kept as written
                {"name": "LATER", "value": "late"},
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
                {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "missing", "key": "k", "optional": True}}},
                {"name": "LEVEL_COPY", "value": "$(APP_LEVEL)"}],
        "command": ["run", "--rank=$(RANK)", "--out=$(OUT)", "$$(RANK)"],
        "args": ["$(LATER)", "$(JOB_COMPLETION_INDEX)"],
    }
    resolved = resolve_container(_pod(), container, objects)
    assert resolved.env == {"APP_LEVEL": "info", "RANK": "1", "POD": "x-1", "TEAM": "nlp", "OUT": "/out/x-1/$(LATER)",
                            "LATER": "late", "TOKEN": STAND_IN_SECRET, "LEVEL_COPY": "info", "JOB_COMPLETION_INDEX": "1"}
    assert resolved.command == ["run", "--rank=1", "--out=/out/x-1/$(LATER)", "$(RANK)"]
    assert resolved.args == ["late", "1"]


def test_a_missing_config_map_is_a_create_container_config_error():
    with pytest.raises(ConfigError, match="ConfigMap 'nope'"):
        resolve_container(_pod(), {"name": "m", "envFrom": [{"configMapRef": {"name": "nope"}}]}, AppObjects())


def test_podman_arguments_carry_the_security_context_and_mounts(tmp_path):
    pod = _pod(securityContext={"runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 2000, "runAsNonRoot": True})
    container = {"name": "main", "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                                                      "capabilities": {"drop": ["ALL"]}, "runAsUser": 10002},
                 "volumeMounts": [{"name": "model", "mountPath": "/mnt/models", "subPath": "run/final", "readOnly": True},
                                  {"name": "home", "mountPath": "/home/mlkube"}]}
    volumes = {"model": MadeVolume(tmp_path / "claim"), "home": MadeVolume(tmp_path / "home")}
    args = podman_run_args(pod, "boot-x-1", container, "localhost/standin:1", {"B": "2", "A": "1"}, ["torchrun"], ["--x"], volumes)
    assert args[:7] == ["-d", "--pod", "boot-x-1", "--name", "boot-x-1-main", "--pull", "never"]
    assert args[7:9] == ["--user", "10002:10001"] and args[9:11] == ["--group-add", "2000"]
    assert "--read-only" in args and "--read-only-tmpfs=false" in args and "--cap-drop=ALL" in args
    assert args[args.index("--security-opt") + 1] == "no-new-privileges"
    assert args[args.index("--entrypoint") + 1] == json.dumps(["torchrun"])
    assert f"type=bind,source={tmp_path / 'claim' / 'run' / 'final'},destination=/mnt/models,ro=true" in args
    assert f"type=bind,source={tmp_path / 'home'},destination=/home/mlkube" in args
    assert (tmp_path / "claim" / "run" / "final").is_dir()  # the kubelet makes a missing subPath
    assert args[-2:] == ["localhost/standin:1", "--x"]
    assert args.index("A=1") < args.index("B=2")


def test_image_map_first_matching_pattern_wins():
    mapping = (("vllm/*", "local/server:1"), ("*", "local/any:1"))
    assert map_image("vllm/vllm-openai:v0.11.0", mapping) == "local/server:1"
    assert map_image("ghcr.io/acme/x@sha256:" + "a" * 64, mapping) == "local/any:1"
    assert map_image("x", ()) == "x"


def test_bad_image_map_and_a_folder_with_nothing_to_boot_are_bad_input():
    from helpers import run_mlkube
    done = run_mlkube("boot", str(DIST / "dev" / "llm-chat"), "--image-map", "vllm/*")
    assert done.returncode == 2 and "--image-map 'vllm/*' is not PATTERN=IMAGE" in done.stderr and "Traceback" not in done.stderr
    done = run_mlkube("boot", str(DIST / "dev" / "sentiment"))
    assert done.returncode == 2 and "has no workload mlkube boot can run" in done.stderr
