"""A generated Dockerfile built for real with buildah, against a base image the test makes itself."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_app import make_context
from realtools import Buildah, buildah_unusable, make_python_base

from mlkube.core.image import Image
from mlkube.images.dockerfile import IMAGE_USER_ID, render_dockerfile
from mlkube.images.dockerignore import render_dockerignore

REASON = buildah_unusable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"cannot build images here: {REASON}")

BASE = "localhost/mlkube-test/python:3.11"


@pytest.fixture(scope="module")
def buildah(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Buildah]:
    root = tmp_path_factory.mktemp("buildah")
    tool = Buildah(root)
    make_python_base(tool, BASE)
    yield tool
    shutil.rmtree(root, ignore_errors=True)


def test_generated_dockerfile_builds_and_runs_as_the_pod_user(buildah: Buildah, tmp_path: Path) -> None:
    context = make_context(tmp_path, "fraud", {".git/HEAD": "ref: main\n", "data/big.csv": "x\n"})
    image = Image.build("models/fraud", source_url="https://example.com/acme/models")
    folder = tmp_path / "dist" / "images" / "fraud"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(render_dockerfile(image))
    (folder / ".dockerignore").write_text(render_dockerignore(image))

    # The Dockerfile names python:3.11-slim-bookworm; --from substitutes the test's base for the base stage.
    buildah.bud(folder / "Dockerfile", context, "localhost/fraud:test", "--from", BASE, "--build-arg", "REVISION=abc123")

    config = json.loads(buildah("inspect", "--type", "image", "localhost/fraud:test"))["OCIv1"]["config"]
    assert config["User"] == f"{IMAGE_USER_ID}:{IMAGE_USER_ID}"
    assert config["WorkingDir"] == "/app"
    assert config["Entrypoint"] == ["python", "-m", "serve"]
    labels = {key: value for key, value in config["Labels"].items() if not key.startswith("io.buildah.")}
    assert labels == {"org.opencontainers.image.title": "fraud",
                                "org.opencontainers.image.source": "https://example.com/acme/models",
                                "org.opencontainers.image.revision": "abc123", "dev.mlkube.purpose": "serving"}
    # One container for every look inside (each `buildah from` copies the image on vfs).
    script = ("id -u; id -g; pwd; ls -A /app | tr '\\n' ' '; echo; python -m serve; "
              "python -c 'import sys; print(sys.prefix)'; "
              "touch /app/serve.py 2>/dev/null && echo code-writable || echo code-read-only")
    lines = buildah.run("localhost/fraud:test", "sh", "-c", script).splitlines()
    assert lines == ["10001", "10001", "/app",
                     "requirements.txt serve.py train.py ",  # the code is there, .git and data/ are not
                     "serving",  # the venv's Python runs the code
                     "/opt/venv",
                     "code-read-only"]  # the user cannot change the code it runs
