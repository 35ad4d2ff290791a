"""The Dockerfile of a built image, following the practice of the field.

- ``# syntax=docker/dockerfile:1`` first, so BuildKit uses the current stable frontend.
- One ``base`` stage that every other stage starts from: a builder substitutes the base in one
  place (buildah ``--from IMAGE``, buildx ``--build-context base=docker-image://IMAGE``), while
  the FROM line names a literal tag, pinned with ``ARG BASE_DIGEST`` when a digest is known
  (scanners do not expand ARGs in image names, so ``FROM ${BASE_IMAGE}`` would fail them).
- Dependencies in their own stage, copied and installed before the code, with a pip cache mount;
  the runtime stage copies the finished virtual environment.
- Code owned by root and read-only to the numeric non-root user ``10001``, the pod's runAsUser.
- OCI labels: title from the spec, source and revision from build arguments.
"""

from __future__ import annotations

import json

from ..core.image import BuildImage
from ..core.image_reference import parse_reference

__all__ = ["render_dockerfile", "IMAGE_USER_ID", "WORKDIR", "VENV", "DEFAULT_BASES", "base_of"]

#: The user and group of every generated image; pods run as the same ids (runAsUser/runAsGroup/fsGroup).
IMAGE_USER_ID = 10001
WORKDIR = "/app"
VENV = "/opt/venv"
#: Default bases: a slim Python for CPU, a framework image (Python, pip, CUDA runtime) for GPUs.
DEFAULT_BASES = {
    "cpu": "python:3.11-slim-bookworm",
    "cuda": "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
}
_DEFAULT_MODULES = {"serving": "serve", "training": "train", "batch": "batch"}
_REQUIREMENTS_DIR = "/tmp/requirements"


def base_of(spec: BuildImage) -> tuple[str, str | None]:
    """(base reference without digest, digest or None); the spec's ``base_digest`` wins over one in ``base``."""
    reference = spec.base or DEFAULT_BASES[spec.accelerator]
    parsed = parse_reference(reference)
    if parsed is None:
        return reference, spec.base_digest
    name = parsed.repository + (f":{parsed.tag}" if parsed.tag else "")
    return name, spec.base_digest or parsed.digest


def _quote(value: str) -> str:
    # A double-quoted Dockerfile word; non-ASCII stays as written (Docker reads no \u escapes).
    return json.dumps(value, ensure_ascii=False)


def _base_stage(spec: BuildImage) -> list[str]:
    name, digest = base_of(spec)
    if digest:
        return [f"ARG BASE_DIGEST={digest}", f"FROM {name}@${{BASE_DIGEST}} AS base"]
    return [f"FROM {name} AS base"]


def _deps_stage(spec: BuildImage) -> list[str]:
    source = spec.dependency_file
    if source is None:
        return []
    target = f"{_REQUIREMENTS_DIR}/{source.rsplit('/', 1)[-1]}"
    hashes = " --require-hashes --no-deps" if spec.lock_file is not None else ""
    return [
        "",
        "# Dependencies first: this layer is rebuilt only when the dependency file changes.",
        "FROM base AS deps",
        "# Reproducible: with SOURCE_DATE_EPOCH set, Python compiles hash-based .pyc files (no build-time mtime",
        "# inside them; docs.python.org/3/library/py_compile.html), so one content tag gives one digest.",
        "ARG SOURCE_DATE_EPOCH=0",
        f"COPY {source} {target}",
        "RUN --mount=type=cache,target=/root/.cache/pip \\",
        f"    python -m venv --system-site-packages {VENV} \\",
        f" && {VENV}/bin/pip install --disable-pip-version-check{hashes} -r {target}",
    ]


def _system_packages(spec: BuildImage) -> list[str]:
    if not spec.system_packages:
        return []
    packages = " ".join(sorted(spec.system_packages))
    return ["RUN apt-get update \\",
            f" && apt-get install -y --no-install-recommends {packages} \\",
            " && rm -rf /var/lib/apt/lists/*"]


def _environment(spec: BuildImage) -> list[str]:
    values: dict[str, str] = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
    if spec.dependency_file is not None:
        values = {"PATH": f"{VENV}/bin:${{PATH}}", **values}
    values.update(spec.env)
    items = [f"{key}={_quote(value)}" for key, value in values.items()]
    return ["ENV " + " \\\n    ".join(items)]


def _runtime_stage(spec: BuildImage) -> list[str]:
    entrypoint = spec.entrypoint if spec.entrypoint is not None else ["python", "-m", _DEFAULT_MODULES[spec.purpose]]
    lines = [
        "",
        "FROM base AS runtime",
        f"ARG SOURCE_URL={_quote(spec.source_url)}",
        "ARG REVISION=unknown",
        f"LABEL org.opencontainers.image.title={_quote(spec.name)} \\",
        '      org.opencontainers.image.source="${SOURCE_URL}" \\',
        '      org.opencontainers.image.revision="${REVISION}" \\',
        f"      dev.mlkube.purpose={_quote(spec.purpose)}",
        *_system_packages(spec),
        *_environment(spec),
    ]
    if spec.dependency_file is not None:
        lines.append(f"COPY --from=deps {VENV} {VENV}")
    lines += [
        f"WORKDIR {WORKDIR}",
        "# The code last: editing it rebuilds only this layer. Owned by root, so the user cannot change it.",
        f"COPY . {WORKDIR}",
        f"USER {IMAGE_USER_ID}:{IMAGE_USER_ID}",
        "# Kubernetes probes check the container; a Docker HEALTHCHECK would only duplicate them.",
        "HEALTHCHECK NONE",
        f"ENTRYPOINT {json.dumps(entrypoint)}",
    ]
    if spec.command:
        lines.append(f"CMD {json.dumps(spec.command)}")
    return lines


def render_dockerfile(spec: BuildImage) -> str:
    """The Dockerfile text: byte-identical for the same spec."""
    header = [
        "# syntax=docker/dockerfile:1",
        f"# Generated by mlkube for the image '{spec.name}' ({spec.purpose}, context {spec.context}).",
        "# Do not edit: change the image's spec and run mlkube synth. Build with this folder's .dockerignore.",
    ]
    return "\n".join(header + _base_stage(spec) + _deps_stage(spec) + _runtime_stage(spec)) + "\n"
