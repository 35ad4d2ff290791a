"""Where a model server gets its model: a URI downloaded at start-up, or a path on a volume."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from .image import ImageSpec
from .apiserver_rules import LocalPath
from .spec import Spec

__all__ = ["Model", "UriModel", "PvcModel", "ModelSpec", "DEFAULT_DOWNLOADER_IMAGE"]

#: KServe's storage initializer understands s3://, gs://, hf://, https:// and more; pin it by digest in production.
DEFAULT_DOWNLOADER_IMAGE = "kserve/storage-initializer:v0.15.2"
_URI = re.compile(r"^(s3|gs|hf|oci|https|azureblob)://\S+$")
_PVC_URI = re.compile(r"^pvc://(?P<claim>[a-z0-9]([-a-z0-9]*[a-z0-9])?)(/(?P<path>.*))?$")


class UriModel(Spec):
    """A model downloaded by an init container into a shared volume before the server starts."""

    source: Literal["uri"] = "uri"
    uri: str = Field(description="Model location: s3://, gs://, hf://, oci://, https:// or azureblob://.")
    downloader_image: ImageSpec = Field(DEFAULT_DOWNLOADER_IMAGE, description=f"Image of the download init container. Default: {DEFAULT_DOWNLOADER_IMAGE}.")
    credentials_secret: str | None = Field(None, description="Existing Secret with storage credentials, mounted as files for the downloader. Default: none (workload identity).")
    cache_size: str = Field("20Gi", description="Size limit of the volume the model is downloaded into. Default: 20Gi.")

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not _URI.match(value):
            raise ValueError(f"model URI {value!r} has no supported scheme; use s3://, gs://, hf://, oci://, https://, "
                             "azureblob://, or pvc://<claim>/<path> for a volume")
        return value


class PvcModel(Spec):
    """A model already on a PersistentVolumeClaim (for example written by a training job), mounted read-only."""

    source: Literal["pvc"] = "pvc"
    claim: str = Field(description="Name of the PersistentVolumeClaim.")
    path: LocalPath = Field("", description="Folder inside the volume (relative, no '..'). Default: its root.")


def _coerce(value: Any) -> Any:
    if isinstance(value, str):
        match = _PVC_URI.match(value)
        if match:
            return {"source": "pvc", "claim": match["claim"], "path": match["path"] or ""}
        return {"source": "uri", "uri": value}
    return value


#: A model source; a string is read as a URI (``pvc://claim/path`` for a volume).
ModelSpec = Annotated[UriModel | PvcModel, Field(discriminator="source"), BeforeValidator(_coerce)]


class Model:
    """Factories for model sources."""

    @staticmethod
    def from_uri(uri: str, **options: Any) -> UriModel | PvcModel:
        """``Model.from_uri("s3://models/fraud/v3")``; a ``pvc://claim/path`` URI gives a volume model."""
        parsed = _coerce(uri)
        return PvcModel(**parsed) if parsed["source"] == "pvc" else UriModel(**parsed, **options)

    @staticmethod
    def from_pvc(claim: str, path: str = "") -> PvcModel:
        """A model on an existing volume, e.g. one a training job wrote."""
        return PvcModel(claim=claim, path=path)
