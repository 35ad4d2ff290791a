"""Image references split into repository, tag and digest (the distribution/reference grammar)."""

from __future__ import annotations

from dataclasses import dataclass

from .image import match_reference

__all__ = ["Reference", "parse_reference", "registry_of"]

#: Where an image without a registry host comes from, and the host that serves its API.
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"


@dataclass(frozen=True)
class Reference:
    """``repository[:tag][@digest]``; ``repository`` keeps the registry host as written."""

    repository: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        return self.repository + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    @property
    def tagged(self) -> str:
        """``repository:tag`` (how CI names what it pushed)."""
        return f"{self.repository}:{self.tag}"

    def pinned(self, digest: str) -> str:
        """The pinned form mlkube writes: ``repository@sha256:...`` (like kbld; the lock keeps the tag)."""
        return f"{self.repository}@{digest}"


def parse_reference(text: str) -> Reference | None:
    """The parts of ``text``, or None when it is not a valid reference."""
    if not isinstance(text, str) or not match_reference(text):
        return None
    name, _, digest = text.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    return Reference(name, tag, digest or None)


def registry_of(repository: str) -> tuple[str, str]:
    """(registry host, repository path) as the registry API wants them.

    The first component is a host only when it has a '.' or ':' or is 'localhost'; otherwise the
    image is on Docker Hub, whose one-component names live under 'library/'.
    """
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    path = repository if "/" in repository else f"library/{repository}"
    return DOCKER_HUB, path
