"""Container images: a value with factories, accepted by every workload."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from .spec import Spec

__all__ = ["Image", "RegistryImage", "ImageSpec", "IMAGE_REFERENCE", "is_digest_reference", "resolve_image"]

# The reference grammar of distribution/reference: [registry/]path[:tag][@digest].
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
IMAGE_REFERENCE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def is_digest_reference(reference: str) -> bool:
    match = IMAGE_REFERENCE.match(reference)
    return bool(match and match.group("digest"))


class RegistryImage(Spec):
    """An image that already exists in a registry, named by tag or, better, by digest."""

    source: Literal["registry"] = "registry"
    reference: str = Field(description="Full reference, e.g. 'ghcr.io/acme/fraud:1.4.2' or 'repo@sha256:...'.")

    @field_validator("reference")
    @classmethod
    def _valid_reference(cls, value: str) -> str:
        match = IMAGE_REFERENCE.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a valid image reference (expected [registry/]repository[:tag][@sha256:digest])")
        if not match.group("tag") and not match.group("digest"):
            raise ValueError(f"{value!r} names no tag or digest; pin a version, e.g. {value}:1.0 or {value}@sha256:...")
        return value


def _coerce_image(value: Any) -> Any:
    # A plain string is a registry reference: Image.from_registry is implied.
    return {"source": "registry", "reference": value} if isinstance(value, str) else value


#: Any image value; more sources (``Image.build``) join this union.
ImageSpec = Annotated[RegistryImage, BeforeValidator(_coerce_image)]


class Image:
    """Factories for image values (``Image.from_registry``)."""

    @staticmethod
    def from_registry(reference: str) -> RegistryImage:
        """An existing image, e.g. ``Image.from_registry("ghcr.io/acme/fraud:1.4.2")``."""
        return RegistryImage(reference=reference)


def resolve_image(image: RegistryImage, app: object, used_by: str, container: str) -> str:
    """The reference a container's ``image`` field gets for ``image`` in ``app``."""
    return image.reference
