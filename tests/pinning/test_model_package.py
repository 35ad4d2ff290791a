"""OCI model artifacts end to end: mlkube model package (buildah) pushes to a real registry, pin --resolve pins the
image by the registry's digest, the Deployment copies /models from it, and the kserve backend refuses modelcars."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import run_mlkube
from realtools import Registry, buildah_unusable

from mlkube import InferenceService, Model, Platform
from mlkube.errors import MlkubeError
from mlkube.pinning.lock import LOCK_FILE

pytestmark = pytest.mark.skipif(buildah_unusable() is not None, reason=buildah_unusable() or "")

IMAGE = "ghcr.io/acme/server@sha256:" + "a" * 64


@pytest.fixture()
def registry(tmp_path: Path) -> Any:
    (tmp_path / "registry").mkdir()
    running = Registry(tmp_path / "registry").start()
    yield running
    running.stop()


def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "fraud-v3"
    (folder / "config").mkdir(parents=True)
    (folder / "model.joblib").write_bytes(b"weights-1")
    (folder / "config" / "settings.json").write_text('{"threshold": 0.7}')
    (folder / "model.joblib").chmod(0o600)  # the server's non-root UID must still read it
    return folder


def package(tmp_path: Path, registry: Registry, tag: str = "v3") -> tuple[str, str]:
    to = f"{registry.address}/models/fraud:{tag}"
    result = run_mlkube("model", "package", str(model_dir(tmp_path)), "--to", to, "--insecure", "--storage", str(tmp_path / "buildah"),
                        "--digest-file", str(tmp_path / "digest"))
    assert result.returncode == 0, result.stderr
    return to, result.stdout.strip()


def synth(out: Path, model: str, **options: Any) -> None:
    platform = Platform([{"name": "staging"}])

    @platform.app("fraud")
    def fraud(app: Any) -> None:
        InferenceService(app, "server", image=IMAGE, model=Model.from_uri(model), **options)

    platform.synthesize(out)


def init_container(out: Path) -> dict[str, Any]:
    deployment = yaml.safe_load((out / "staging" / "fraud" / "deployment-server.yaml").read_text())
    return next(c for c in deployment["spec"]["template"]["spec"]["initContainers"] if c["name"] == "model-image")


def test_package_pushes_a_modelcar_layout_by_a_reproducible_digest(tmp_path: Path, registry: Registry) -> None:
    to, pinned = package(tmp_path, registry)
    digest = (tmp_path / "digest").read_text().strip()
    assert pinned == f"oci://{registry.address}/models/fraud@{digest}"
    inspected = json.loads(subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{to}"], capture_output=True,
                                          text=True, check=True, timeout=60).stdout)
    assert inspected["Digest"] == digest
    # Packaging the same folder again gives the same digest (buildah commit --timestamp 0).
    again = run_mlkube("model", "package", str(tmp_path / "fraud-v3"), "--to", f"{registry.address}/models/fraud:again", "--insecure",
                       "--storage", str(tmp_path / "buildah"))
    assert again.returncode == 0 and again.stdout.strip() == pinned


def test_pin_resolve_pins_the_model_image_and_its_init_container_copies_models(tmp_path: Path, registry: Registry) -> None:
    to, pinned = package(tmp_path, registry)
    out = tmp_path / "dist"
    synth(out, f"oci://{to}")
    assert init_container(out)["image"] == to
    result = run_mlkube("pin", "--resolve", "--insecure-registry", registry.address, "--dist", str(out))
    assert result.returncode == 0, result.stderr
    repository, digest = pinned[len("oci://"):].split("@")
    container = init_container(out)
    assert container["image"].endswith(f"@{digest}") and container["image"].startswith(repository)
    lock = json.loads((out / LOCK_FILE).read_text())["environments"]["staging"]["images"]
    assert any(entry["digest"] == digest for entry in lock.values())
    # The init container's command, run in the pushed image as a non-root user on a read-only root, copies the model.
    dest = tmp_path / "mnt-models"
    dest.mkdir(mode=0o777)
    dest.chmod(0o777)
    flags = ["--root", str(tmp_path / "buildah" / "storage"), "--runroot", str(tmp_path / "buildah" / "run"), "--storage-driver", "vfs"]
    work = subprocess.run(["buildah", *flags, "from", "--pull-never", to], capture_output=True, text=True, check=True, timeout=120).stdout.strip()
    try:
        run = subprocess.run(["buildah", *flags, "run", "--isolation", "chroot", "--user", "10001:10001", "--volume", f"{dest}:/mnt/models",
                              work, "--", *container["command"]], capture_output=True, text=True, timeout=120)
    finally:
        subprocess.run(["buildah", *flags, "rm", work], capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert (dest / "model.joblib").read_bytes() == b"weights-1"
    assert json.loads((dest / "config" / "settings.json").read_text()) == {"threshold": 0.7}


def test_package_refuses_what_it_cannot_package(tmp_path: Path) -> None:
    result = run_mlkube("model", "package", str(tmp_path / "missing"), "--to", "not a reference")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "is not a folder with the model's files" in result.stderr and "is not REGISTRY/REPOSITORY:TAG" in result.stderr


def test_the_kserve_backend_refuses_a_modelcar(tmp_path: Path) -> None:
    with pytest.raises(MlkubeError) as caught:
        synth(tmp_path / "dist", "oci://ghcr.io/acme/models/fraud@sha256:" + "b" * 64, backend="kserve", kserve={"model_format": "sklearn"})
    assert "restricted Pod Security Standard" in str(caught.value) and "backend='kubernetes'" in str(caught.value)
