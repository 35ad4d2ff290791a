"""Container images: a value with factories, accepted by every workload.

``Image.from_registry("ghcr.io/acme/x:1.2")`` names an existing image; ``Image.build(context=...)``
asks mlkube to generate a Dockerfile into the output, and the manifests then refer to the image
CI builds from it (``<registry>/<name>:<content tag>``, pinned by digest once ``mlkube pin`` ran).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, Literal, Unpack

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from ..errors import MlkubeError
from .spec import DnsLabel, Spec, problems_from_validation_error

if TYPE_CHECKING:
    from .keywords import BuildImageFields
    from .platform import MlApp

__all__ = ["Image", "RegistryImage", "BuildImage", "ImageSpec", "IMAGE_REFERENCE", "match_reference", "is_digest_reference", "resolve_image"]

# The reference grammar of distribution/reference: [registry/]path[:tag][@digest].
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
IMAGE_REFERENCE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    # \Z, not $: '$' also matches before a trailing newline, which would split a Dockerfile's FROM line.
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?\Z"
)
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_SYSTEM_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]*=[A-Za-z0-9.+~:-]+$")
_PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9]+(/[a-z0-9]+)?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

def match_reference(reference: str) -> re.Match[str] | None:
    """The parts of an image reference, or None when container runtimes would refuse it.

    Beyond the grammar: a first component with upper-case letters is read as a registry host by the
    Docker normalization the kubelet uses (distribution/reference normalize.go, splitDockerDomain), so
    'UPPER/x:1' would be pulled from a host named 'UPPER'; repository names are lower-case, so refuse it.
    """
    match = IMAGE_REFERENCE.match(reference) if isinstance(reference, str) else None
    domain = match.group("domain") if match else None
    if domain and not any(c in domain for c in ".:[") and domain != "localhost" and domain != domain.lower():
        return None
    return match


def is_digest_reference(reference: str) -> bool:
    match = match_reference(reference)
    return bool(match and match.group("digest"))

class RegistryImage(Spec):
    """An image that already exists in a registry, named by tag or, better, by digest."""

    source: Literal["registry"] = "registry"
    reference: str = Field(description="Full reference, e.g. 'ghcr.io/acme/fraud:1.4.2' or 'repo@sha256:...'.")

    @field_validator("reference")
    @classmethod
    def _valid_reference(cls, value: str) -> str:
        match = match_reference(value)
        if not match:
            raise ValueError(f"{value!r} is not a valid image reference (expected [registry/]repository[:tag][@sha256:digest], "
                             "repository in lower case, no spaces or line breaks)")
        if not match.group("tag") and not match.group("digest"):
            raise ValueError(f"{value!r} names no tag or digest; pin a version, e.g. {value}:1.0 or {value}@sha256:...")
        return value

Purpose = Literal["serving", "training", "batch"]

class BuildImage(Spec):
    """An image mlkube writes a Dockerfile for (``dist/images/<name>/``) and CI builds and pushes.

    File-system checks (the context and the requirements file exist, the base is a valid
    reference) run at synth time and are reported with the construct that uses the image.
    """

    source: Literal["build"] = "build"
    name: DnsLabel = Field(description="Image name: the repository under the environment's registry "
                           "(<registry>/<name>) and the folder dist/images/<name>/. Default: the context folder's name.")
    context: str = Field(min_length=1, description="Build context folder, relative to the config repo root "
                         "(where synth runs), e.g. 'models/fraud'. Required.")
    purpose: Purpose = Field(default="serving", description="What the image runs: 'serving' (default), 'training' or "
                             "'batch'; chooses the default entrypoint and the purpose label.")
    accelerator: Literal["cpu", "cuda"] = Field(default="cpu", description="'cpu' (default): a slim Python base; 'cuda': a "
                                                "PyTorch CUDA runtime base. Ignored when `base` is given.")
    base: str | None = Field(default=None, description="Base image reference overriding the default of `accelerator`, "
                             "e.g. 'nvcr.io/nvidia/pytorch:24.05-py3'. Default: python:3.11-slim-bookworm (cpu) or "
                             "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime (cuda). Needs a tag or a digest.")
    base_digest: str | None = Field(default=None, description="Digest of the base ('sha256:...'): the FROM line pins it "
                                    "through `ARG BASE_DIGEST`. Default: the base is used by tag (or by the digest "
                                    "written in `base`).")
    requirements: str | None = Field(default="requirements.txt", description="pip requirements file, relative to the "
                                     "context, installed in a build stage before the code is copied. Default "
                                     "'requirements.txt'; None: no Python dependencies.")
    lock_file: str | None = Field(default=None, description="Fully pinned requirements with hashes (pip-compile "
                                  "--generate-hashes, uv export), relative to the context, installed with "
                                  "--require-hashes --no-deps instead of `requirements`. Default: none.")
    entrypoint: list[str] | None = Field(default=None, description="ENTRYPOINT in exec form. Default by purpose: "
                                         "['python', '-m', 'serve'|'train'|'batch'].")
    command: list[str] = Field(default_factory=list, description="CMD: default arguments of the entrypoint, "
                               "replaced by a pod's args. Default: none.")
    system_packages: list[str] = Field(default_factory=list, description="Debian/Ubuntu packages installed into "
                                       "the runtime stage, each pinned as 'name=version'. Default: none.")
    env: dict[str, str] = Field(default_factory=dict, description="Environment variables baked into the image "
                                "(never secrets). Default: none besides PATH and the Python ones mlkube sets.")
    platforms: list[str] = Field(default_factory=lambda: ["linux/amd64"], min_length=1, description="Target "
                                 "platforms of the CI build, e.g. ['linux/amd64', 'linux/arm64']. Default: linux/amd64.")
    ignore: list[str] = Field(default_factory=list, description=".dockerignore patterns appended to mlkube's "
                              "defaults (VCS folders, virtual environments, data, checkpoints); '!pattern' "
                              "re-includes. Default: none.")
    source_url: str = Field(default="", pattern=r"^[^\s\"'\\]*$", description="Default of the "
                            "org.opencontainers.image.source label (build arg SOURCE_URL). Default: empty; CI "
                            "passes --build-arg SOURCE_URL=... and REVISION=....")

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        # The context folder names the image unless told otherwise: models/fraud -> fraud.
        if isinstance(data, dict) and not data.get("name") and isinstance(data.get("context"), str):
            folder = PurePosixPath(data["context"].replace("\\", "/")).name.lower()
            data = {**data, "name": re.sub(r"[^a-z0-9-]+", "-", folder).strip("-")[:63] or "image"}
        return data

    @field_validator("context", "requirements", "lock_file")
    @classmethod
    def _relative_path(cls, value: str | None) -> str | None:
        if value is not None and (value.startswith("/") or ".." in PurePosixPath(value).parts):
            raise ValueError(f"{value!r} must be a relative path that stays inside its folder")
        return value

    @field_validator("base_digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not DIGEST.match(value):
            raise ValueError(f"{value!r} is not a digest (expected sha256: and 64 lower-case hex digits)")
        return value

    @field_validator("system_packages")
    @classmethod
    def _pinned_packages(cls, value: list[str]) -> list[str]:
        for package in value:
            if not _SYSTEM_PACKAGE.match(package):
                raise ValueError(f"{package!r} must be pinned as 'name=version' (e.g. 'libgomp1=12.2.0-14'), "
                                 "so that rebuilds install the same files")
        return value

    @field_validator("platforms")
    @classmethod
    def _platforms(cls, value: list[str]) -> list[str]:
        for platform in value:
            if not _PLATFORM.match(platform):
                raise ValueError(f"{platform!r} is not a platform (expected os/arch[/variant], e.g. linux/arm64)")
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if not _ENV_NAME.match(key) or "\n" in text:
                raise ValueError(f"{key!r}: names are letters, digits and '_', values one line")
        return value

    @model_validator(mode="after")
    def _one_dependency_file(self) -> BuildImage:
        if self.lock_file is not None and "requirements" in self.model_fields_set and self.requirements is not None:
            raise ValueError("give either `requirements` or `lock_file`, not both")
        return self

    @property
    def dependency_file(self) -> str | None:
        """The file pip installs from: the lock file when given, else the requirements file."""
        return self.lock_file if self.lock_file is not None else self.requirements

def _coerce_image(value: Any) -> Any:
    # A plain string is a registry reference: Image.from_registry is implied.
    return {"source": "registry", "reference": value} if isinstance(value, str) else value

#: Any image value: a registry reference (a plain string is one) or an image to build.
ImageSpec = Annotated[RegistryImage | BuildImage, Field(discriminator="source"), BeforeValidator(_coerce_image)]

class Image:
    """Factories for image values: ``Image.from_registry(...)`` and ``Image.build(...)``."""

    @staticmethod
    def from_registry(reference: str) -> RegistryImage:
        """An existing image, e.g. ``Image.from_registry("ghcr.io/acme/fraud:1.4.2")``."""
        return RegistryImage(reference=reference)

    @staticmethod
    def build(context: str, **fields: Unpack[BuildImageFields]) -> BuildImage:
        """An image built from ``context``, e.g. ``Image.build("models/fraud", purpose="serving")``.

        Keyword fields are those of :class:`BuildImage`; a wrong one raises a readable MlkubeError.
        """
        try:
            return BuildImage.model_validate({**fields, "context": context})
        except ValidationError as error:
            problems = problems_from_validation_error(error, BuildImage, f"Image.build({context!r})")
            raise MlkubeError(problems, title="invalid image") from None

def resolve_image(image: RegistryImage | BuildImage, app: MlApp, used_by: str, container: str) -> str:
    """The reference a container's ``image`` field gets, recording built images on the platform.

    A registry image gives its reference as written; a built image gives
    ``<registry>/<name>:<content tag>`` and is listed in dist/images.json with its users. Problems
    (missing context, bad base) are reported to ``app``; synth then fails and writes nothing.
    """
    if isinstance(image, RegistryImage):
        return image.reference
    return app.platform.built_images.use(image, app, used_by, container)
