"""mlkube boot for real: the example platform's apps from the committed dist/, in podman, on stand-in images
that write HOME and every cache variable and read the model the init container (or the training job) wrote."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import PACKAGE_ROOT, REPO_ROOT, run_mlkube
from standin import CACHE_VARIABLES, PodmanStore, podman_unusable

DIST = REPO_ROOT / "dist"
IMAGE_MAP = ["--image-map", "*storage-initializer*=localhost/standin-downloader:1",
             "--image-map", "*/fraud-batch*=localhost/standin-job:1",
             "--image-map", "*/llm-finetune*=localhost/standin-job:1",
             "--image-map", "*=localhost/standin-server:1"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> PodmanStore:
    reason = podman_unusable()
    if reason:
        pytest.skip(f"podman cannot run containers here: {reason}")
    store = PodmanStore(tmp_path_factory.mktemp("podman"))
    for role in ("downloader", "server", "job"):
        store.build_standin(f"localhost/standin-{role}:1", role)
    probe = store.run("podman", "run", "--rm", "--pull", "never", "--network", "none", "--entrypoint", '["/bin/busybox","true"]',
                      "localhost/standin-server:1", check=False)
    if probe.returncode != 0:
        pytest.skip(f"podman cannot run containers here: {probe.stderr.strip()[-300:]}")
    return store


def _boot(store: PodmanStore, folder: Path, *extra: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    tmp.mkdir(exist_ok=True)
    env = {"CONTAINERS_STORAGE_CONF": store.env["CONTAINERS_STORAGE_CONF"], "TMPDIR": str(tmp)}
    return run_mlkube("boot", str(folder), "--logs", "--settle", "5", *IMAGE_MAP, *extra, env=env)


def _left_behind(store: PodmanStore, tmp: Path) -> list[str]:
    pods = store.run("podman", "pod", "ps", "--quiet").stdout.split()
    containers = store.run("podman", "ps", "--all", "--quiet").stdout.split()
    return pods + containers + [p.name for p in tmp.iterdir()]


def test_the_serving_app_boots_with_its_model_download(store, tmp_path):
    done = _boot(store, DIST / "dev" / "fraud-scoring", tmp=tmp_path / "tmp")
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "ok   fraud-scorer-boot/model-downloader [init]: exited (exit code 0)" in out
    assert "ok   fraud-scorer-boot/server [main]: running" in out
    assert "ok   nightly-scoring-run-0/main [main]: exited (exit code 0)" in out
    assert "STANDIN loaded weights of s3://acme-models/fraud/v3?versionManifest=sha256:" in out  # the pinned object set the init container wrote
    assert out.count("STANDIN wrote HOME, /tmp and every cache variable") == 2  # the server and the batch job
    assert "STANDIN read /var/run/secrets/feature-store/password" in out  # a stand-in secret, readable through fsGroup
    assert "uid=10001 gid=10001" in out and "STANDIN FAIL" not in out
    assert _left_behind(store, tmp_path / "tmp") == []


def test_the_training_job_and_the_server_it_feeds_boot(store, tmp_path):
    done = _boot(store, DIST / "dev" / "llm-chat", tmp=tmp_path / "tmp")
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    for line in ("ok   llm-finetune-0/main [main]: exited (exit code 0)", "ok   llm-finetune-1/main [main]: exited (exit code 0)",
                 "ok   llm-server-boot/dcgm-exporter [sidecar]: running", "ok   llm-server-boot/server [main]: running"):
        assert line in out
    # $(VAR) expansion in args, NODE_RANK from the completion index, the rank-0 address from the Indexed Job's DNS.
    assert "--node-rank=1 --master-addr=llm-finetune-0.llm-finetune.ml-llm-chat.svc --master-port=29500" in out
    assert "--output-dir /mnt/checkpoints/llm-finetune" in out
    # Rank 0 wrote the checkpoint into the shared claim; the server reads it through its read-only subPath mount.
    assert "STANDIN loaded weights trained on llm-finetune-0 from /mnt/models" in out
    assert out.count("STANDIN wrote HOME, /tmp and every cache variable") == 4
    # emptyDir medium Memory of sizeLimit 8Gi (server) and 64Gi (each rank) at /dev/shm, not podman's own 64m.
    shm = [line.split("tmpfs ")[1] for line in out.splitlines() if "STANDIN /dev/shm is" in line]
    assert sum("size=8388608k" in options for options in shm) == 1 and sum("size=67108864k" in options for options in shm) == 2, shm
    assert "STANDIN FAIL" not in out
    assert _left_behind(store, tmp_path / "tmp") == []


def _without_runtime_home(deployment: dict) -> dict:
    """The pod as mlkube wrote it before HOME and the caches had a writable emptyDir."""
    old = copy.deepcopy(deployment)
    pod = old["spec"]["template"]["spec"]
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "home"]
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        container["env"] = [e for e in container.get("env", []) if e["name"] not in CACHE_VARIABLES]
        container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != "home"]
    return old


def test_a_server_without_a_writable_home_fails_and_boot_says_which(store, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    for name in ("deployment-fraud-scorer.yaml", "configmap-fraud-scorer-config.yaml", "externalsecret-feature-store.yaml"):
        obj = yaml.safe_load((DIST / "dev" / "fraud-scoring" / name).read_text())
        (app / name).write_text(yaml.safe_dump(_without_runtime_home(obj) if obj["kind"] == "Deployment" else obj))
    done = _boot(store, app, tmp=tmp_path / "tmp")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL fraud-scorer-boot/server [main]: exited (exit code 3)" in done.stdout
    assert "STANDIN FAIL fraud-scorer-boot: cannot write HOME=/" in done.stdout  # the image leaves HOME at /, like vLLM's
    assert "containers did not start or finish cleanly" in done.stderr
    assert _left_behind(store, tmp_path / "tmp") == []


def test_an_image_that_is_not_here_is_refused_before_anything_starts(store, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    done = run_mlkube("boot", str(DIST / "dev" / "fraud-scoring"), "--image-map", "*fraud-batch*=localhost/standin-job:1",
                      env={"CONTAINERS_STORAGE_CONF": store.env["CONTAINERS_STORAGE_CONF"], "TMPDIR": str(tmp)})
    assert done.returncode == 2, done.stderr
    assert "image kserve/storage-initializer@sha256:" in done.stderr and "mlkube boot never pulls" in done.stderr
    assert "--image-map" in done.stderr and "Traceback" not in done.stderr
    assert _left_behind(store, tmp) == []


def test_ctrl_c_tears_everything_down(store, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), "CONTAINERS_STORAGE_CONF": store.env["CONTAINERS_STORAGE_CONF"], "TMPDIR": str(tmp)}
    process = subprocess.Popen([sys.executable, "-m", "mlkube", "boot", str(DIST / "dev" / "llm-chat"), "--settle", "120", *IMAGE_MAP],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(store.run("podman", "ps", "--quiet", "--filter", "status=running").stdout.split()) < 3:  # server, sidecar + infra
            assert time.monotonic() < deadline and process.poll() is None, process.communicate()
            time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    stderr = process.stderr.read()
    assert "interrupted: every pod and volume of this boot was removed" in stderr and "Traceback" not in stderr
    assert _left_behind(store, tmp) == []


def _pod_manifest(spec: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe", "namespace": "t"}, "spec": {"restartPolicy": "Never", **spec}}


def test_a_failed_init_container_stops_the_pod_and_run_as_non_root_is_checked(store, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    failing_init = _pod_manifest({"initContainers": [{"name": "download", "image": "localhost/standin-downloader:1"}],  # no arguments: fails
                                  "containers": [{"name": "main", "image": "localhost/standin-job:1"}]})
    root_image = _pod_manifest({"securityContext": {"runAsNonRoot": True}, "containers": [{"name": "main", "image": "localhost/standin-job:1"}]})
    root_image["metadata"]["name"] = "as-root"
    (app / "pods.yaml").write_text(yaml.safe_dump_all([failing_init, root_image]))
    done = _boot(store, app, tmp=tmp_path / "tmp")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL probe/download [init]: exited (exit code 3)" in done.stdout
    assert "FAIL probe/main [main]: not started" in done.stdout
    # The kubelet's refusal (verifyRunAsNonRoot): the image has no USER, so it would run as root.
    assert "FAIL as-root/main [main]: not created: CreateContainerConfigError: container has runAsNonRoot and image will run as root" in done.stdout
    assert _left_behind(store, tmp_path / "tmp") == []
