"""The shared pod builder: runtime needs under the restricted defaults (a writable HOME and caches)."""

from __future__ import annotations

from typing import Any

from mlkube import BatchJob, Environment, GpuSpec, GpuTrainingJob, InferenceService, Model, ResourcesSpec, SidecarSpec
from mlkube.testing import synth_app as _synth_app

HOME_MOUNT = "/home/mlkube"  # mlkube.core.pod.HOME_MOUNT

#: What ML software writes at run time; each must land in a writable volume (vllm-project/vllm#10185, llm-d/llm-d#1430).
CACHE_VARIABLES = ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "HF_HOME", "TORCH_HOME", "TORCHINDUCTOR_CACHE_DIR",
                   "TRITON_CACHE_DIR", "NUMBA_CACHE_DIR", "MPLCONFIGDIR", "VLLM_CACHE_ROOT", "VLLM_CONFIG_ROOT", "CUDA_CACHE_PATH")


#: Model downloads leave the cluster over HTTPS; synth refuses a download with no declared egress (tests/traffic).
DOWNLOAD_EGRESS = {"egress_https_cidrs": ["0.0.0.0/0"]}


def synth_app(build, **fields):
    fields.setdefault("environments", [Environment(name="test", namespace="ml", network=DOWNLOAD_EGRESS)])
    return _synth_app(build, **fields)


def vllm_like(app):
    """vllm/vllm-openai leaves HOME at '/': with UID 10001 and a read-only root every cache write fails."""
    InferenceService(app, "llm", image="vllm/vllm-openai:v0.11.0", port=8000, model=Model.from_uri("hf://org/model"),
                     resources=ResourcesSpec(cpu="8", memory="48Gi", shm_size="8Gi", gpu=GpuSpec(count=1)),
                     sidecars=[SidecarSpec(name="exporter", image="ghcr.io/acme/exporter:1.0")])
    GpuTrainingJob(app, "train", image="ghcr.io/acme/train:1.0", nodes=2, resources=ResourcesSpec(gpu=GpuSpec(count=8)))
    BatchJob(app, "score", image="ghcr.io/acme/score:1.0")


def _pod_specs(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    specs = []
    for obj in objects:
        spec = obj.get("spec") or {}
        template = spec.get("template") or (spec.get("jobTemplate") or {}).get("spec", {}).get("template")
        if template:
            specs.append(template["spec"])
    return specs


def _writable_volume(pod: dict[str, Any], container: dict[str, Any], path: str) -> str | None:
    """The emptyDir the container writes ``path`` into (the longest mount containing it), or None."""
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = [m for m in container.get("volumeMounts", []) if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")]
    if not mounts:
        return None
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    volume = volumes[mount["name"]]
    return mount["name"] if "emptyDir" in volume and not mount.get("readOnly") else None


def test_every_container_has_a_writable_home_and_caches():
    pods = _pod_specs(synth_app(vllm_like).objects)
    assert len(pods) == 3
    checked = 0
    for pod in pods:
        assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            env = {item["name"]: item.get("value") for item in container.get("env", [])}
            for variable in CACHE_VARIABLES:
                assert variable in env, f"{container['name']}: {variable} is not set"
                assert _writable_volume(pod, container, env[variable]) == "home", f"{container['name']}: {variable}={env[variable]}"
                checked += 1
    assert checked == len(CACHE_VARIABLES) * 5  # server, downloader, sidecar, two job mains


def test_the_home_is_its_own_empty_dir():
    pod = _pod_specs(synth_app(vllm_like).objects)[0]
    assert {"name": "home", "emptyDir": {}} in pod["volumes"]
    assert pod["containers"][0]["env"][0] == {"name": "HOME", "value": HOME_MOUNT}


def test_a_container_s_own_env_wins_over_the_defaults():
    def app_(app):
        InferenceService(app, "llm", image="vllm/vllm-openai:v0.11.0", env={"HF_HOME": "/mnt/hf", "HOME": "/data"})
    server = _pod_specs(synth_app(app_).objects)[0]["containers"][0]
    names = [item["name"] for item in server["env"]]
    assert len(names) == len(set(names))
    env = {item["name"]: item["value"] for item in server["env"]}
    assert env["HF_HOME"] == "/mnt/hf" and env["HOME"] == "/data"
    assert env["XDG_CACHE_HOME"] == f"{HOME_MOUNT}/.cache"
    # The defaults come first, so a user's value may refer to them ($(HOME) expands only to earlier variables).
    assert names.index("XDG_CACHE_HOME") < names.index("HF_HOME")
