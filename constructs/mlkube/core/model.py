"""Where a model server gets its model: a URI downloaded at start-up, or a path on a volume."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from ..kube.apiserver_rules import LocalPath
from ..kube.quantity import Quantity
from .image import ImageSpec
from .model_fetch import object_set_digest, parse_versioned
from .network.model import EgressRule
from .spec import Spec

__all__ = ["SHARED_CACHE_DIR", "MODEL_IMAGE_CONTAINER", "Model", "UriModel", "PvcModel", "ModelSpec", "DEFAULT_DOWNLOADER_IMAGE", "CREDENTIALS_DIR", "downloader_credentials_env",
           "ModelReference", "parse_model_reference", "download_form", "downloader_command"]

#: KServe's storage initializer understands s3://, gs://, hf://, https:// and more; pin it by digest in production.
#: Without an explicit downloader_image, the environment's KServe version picks the tag (operators.storage_initializer_image).
DEFAULT_DOWNLOADER_IMAGE = "kserve/storage-initializer:v0.15.2"
#: Where the downloader finds credentials_secret's keys as files.
CREDENTIALS_DIR = "/var/run/secrets/model-credentials"
#: Where the downloader and the server mount a shared model cache claim (UriModel.shared_cache): the links in the
#: model folder point here, so both containers mount it at the same path.
SHARED_CACHE_DIR = "/var/cache/mlkube-models"

#: Per scheme, the variable the storage initializer's libraries read a credentials FILE from, and the default key.
#: KServe's storage initializer (kserve/kserve python/kserve/kserve/storage/storage.py, v0.15-v0.17) downloads
#: s3:// with boto3's default chain, which reads AWS_SHARED_CREDENTIALS_FILE (an INI file with
#: aws_access_key_id / aws_secret_access_key; boto3 "Configuring credentials"); gs:// with google.cloud.storage.Client(),
#: whose google.auth.default() reads the service-account JSON at GOOGLE_APPLICATION_CREDENTIALS; hf:// with
#: huggingface_hub.snapshot_download, which reads HF_TOKEN or the token file at HF_TOKEN_PATH
#: (huggingface_hub 0.30.2 constants.py and utils/_auth.py, the version KServe 0.15's poetry.lock pins).
_CREDENTIAL_FILES: dict[str, tuple[str, str]] = {
    "s3": ("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
    "gs": ("GOOGLE_APPLICATION_CREDENTIALS", "service-account.json"),
    "hf": ("HF_TOKEN_PATH", "token"),
}
#: Schemes KServe's storage initializer does not download at all (storage.py: no azureblob:// prefix; Azure blobs are
#: https://<account>.blob.core.windows.net/... URLs). oci:// is not downloaded either: it is the model image itself,
#: run as an init container (see UriModel.model_image).
_NOT_DOWNLOADED = {"azureblob": "Azure blobs are https://<account>.blob.core.windows.net/<container>/<path> URLs to it"}
#: The init container that copies an OCI model image's /models into the model volume.
MODEL_IMAGE_CONTAINER = "model-image"
_URI = re.compile(r"^(s3|gs|hf|oci|https|azureblob)://\S+$")
# An optional revision after ':' (KServe's own syntax) or '@' (mlkube's, like an image digest); rendered with ':'.
_HF_URI = re.compile(r"^hf://(?P<repo>[^/:@\s]+/[^/:@\s]+)([:@](?P<revision>[^/\s]+))?$")
#: A Hugging Face commit sha: the only revision that cannot move (a branch or tag can).
_HF_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_OCI_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
#: An S3 version id as S3 returns it (x-amz-version-id; "null" is the id of an object written before versioning was
#: enabled, which a later PUT may overwrite while versioning is suspended: AWS S3 User Guide, "Working with objects
#: in a versioning-enabled bucket"); a GCS generation is a decimal number (cloud.google.com/storage/docs/metadata#generation-number).
_VERSION = {"s3": re.compile(r"^(?!null$)[A-Za-z0-9._+=-]{1,1024}$"), "gs": re.compile(r"^[1-9][0-9]{0,19}$")}
_PVC_URI = re.compile(r"^pvc://(?P<claim>[a-z0-9]([-a-z0-9]*[a-z0-9])?)(/(?P<path>.*))?$")


class UriModel(Spec):
    """A model downloaded by an init container into a shared volume before the server starts."""

    source: Literal["uri"] = "uri"
    uri: str = Field(description="Model location: s3://, gs://, hf://, oci://, https:// or azureblob://.")
    # The default is the reference string (as the JSON Schema shows it); validate_default turns it into a RegistryImage
    # through ImageSpec's before-validator, which pydantic's mypy plugin does not model.
    downloader_image: ImageSpec = Field(default=DEFAULT_DOWNLOADER_IMAGE,  # type: ignore[assignment]
                                        description=f"Image of the download init container. Default: {DEFAULT_DOWNLOADER_IMAGE}.")
    credentials_secret: str | None = Field(default=None, description=(
        f"Existing Secret with storage credentials, mounted as files at {CREDENTIALS_DIR} for the downloader, which is pointed at the "
        "file by the variable its library reads: hf:// HF_TOKEN_PATH (key 'token', the token), s3:// AWS_SHARED_CREDENTIALS_FILE "
        "(key 'credentials', an AWS credentials INI file), gs:// GOOGLE_APPLICATION_CREDENTIALS (key 'service-account.json'). "
        "Default: none (public models, or workload identity)."))
    credentials_key: str | None = Field(default=None, description="Key of credentials_secret that holds the credentials file. Default: per scheme, as listed for credentials_secret.")
    cache_size: Quantity = Field(default="20Gi", description="Size limit of the volume the model is downloaded into (an emptyDir on the "
                                 "node's disk; checked against the environment's node_model_storage). Default: 20Gi.")
    shared_cache: str | None = Field(default=None, description=(
        "A ReadWriteMany claim (e.g. CheckpointVolume(..., access_mode='ReadWriteMany')) that keeps one download per model "
        f"revision for every replica: the first pod downloads into it (then renames it into place, atomically), later pods "
        f"find it and link it into the model folder; mounted at {SHARED_CACHE_DIR} (read-only in the server). No hostPath: "
        "the restricted Pod Security Standard holds. Default: none (each pod downloads into its own emptyDir)."))
    egress: list[EgressRule] = Field(default_factory=list, description="Where the downloader reaches the storage (its NetworkPolicy egress), e.g. [{'cidrs': ['0.0.0.0/0']}] for HTTPS anywhere or the endpoint's CIDRs, or an in-cluster store by namespace/pod_labels. Default: the environment's network.egress_https_cidrs; synth fails when both are empty.")

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not _URI.match(value):
            raise ValueError(f"model URI {value!r} has no supported scheme; use s3://, gs://, hf://, oci://, https://, "
                             "azureblob://, or pvc://<claim>/<path> for a volume")
        return value

    @property
    def scheme(self) -> str:
        return self.uri.split("://", 1)[0]

    @property
    def model_image(self) -> str | None:
        """The image reference of an oci:// model served from its image (no downloader_image), else None."""
        if self.scheme != "oci" or "downloader_image" in self.model_fields_set:
            return None
        return self.uri[len("oci://"):]

    @property
    def kserve_downloader(self) -> bool:
        """The downloader is KServe's storage initializer (the default, or that repository by tag or digest)."""
        if "downloader_image" not in self.model_fields_set:
            return True
        reference = getattr(self.downloader_image, "reference", "")
        return re.split(r"[@:]", reference.removeprefix("docker.io/"), maxsplit=1)[0] == "kserve/storage-initializer"

    @model_validator(mode="after")
    def _downloadable(self) -> UriModel:
        reference = ModelReference(self.uri)
        if reference.versioned and reference.objects is None:
            raise ValueError(f"model URI {self.uri[:120]!r}: a pinned object set must read ?versionManifest=sha256:<digest>&<object>=<version>..., "
                             "its digest matching its object versions (S3 version ids, GCS generations); it was edited by hand or cut: "
                             "run mlkube pin again")
        if self.shared_cache and not self.kserve_downloader:
            raise ValueError("shared_cache is filled by mlkube's downloader, which runs in KServe's storage-initializer image: "
                             "drop downloader_image, or give a kserve/storage-initializer image")
        if self.shared_cache and self.scheme == "oci":
            raise ValueError("an oci:// model is an image, cached by the kubelet on each node like any image: drop shared_cache")
        if reference.versioned and not self.kserve_downloader:
            raise ValueError("a pinned s3:// / gs:// object set is downloaded at its versions by mlkube's downloader, which runs in KServe's "
                             "storage-initializer image: drop downloader_image, or give a kserve/storage-initializer image")
        if "downloader_image" in self.model_fields_set:
            return self  # a downloader of the user's own: its schemes and credentials are its business
        scheme = self.scheme
        if scheme == "oci":
            from .image import match_reference

            if not match_reference(self.uri[len("oci://"):]) or self.credentials_secret:
                raise ValueError(f"model URI {self.uri!r}: an oci:// model is an image, oci://<registry>/<repository>[:<tag>][@sha256:<digest>], "
                                 "pulled by the kubelet with the pod's imagePullSecrets (no credentials_secret)")
            return self
        if scheme in _NOT_DOWNLOADED:
            raise ValueError(f"KServe's storage initializer (the default downloader) cannot download {scheme}:// URIs: "
                             f"{_NOT_DOWNLOADED[scheme]}; or set downloader_image to a downloader that can")
        if scheme == "hf" and not _HF_URI.match(self.uri):
            # storage.py _download_hf: exactly one '/' between repo and model, an optional ':revision'.
            raise ValueError(f"model URI {self.uri!r}: the storage initializer reads hf://<organization>/<model>[:<revision>] "
                             "(exactly one '/'; mlkube also reads hf://<organization>/<model>@<revision>)")
        if self.credentials_secret and scheme not in _CREDENTIAL_FILES:
            raise ValueError(f"credentials_secret {self.credentials_secret!r}: KServe's storage initializer reads {scheme}:// "
                             "credentials only from environment variables (https: '<host>-headers' JSON; Azure: AZURE_CLIENT_ID/"
                             "AZURE_CLIENT_SECRET), never from files, and mlkube does not put secrets in env; use workload identity, "
                             "or a downloader_image of your own")
        if self.credentials_key and not self.credentials_secret:
            raise ValueError("credentials_key names a key of credentials_secret; set credentials_secret too")
        return self


class ModelReference:
    """A model URI, whether it names content that cannot change, and how to pin it when it can."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.scheme = uri.split("://", 1)[0] if "://" in uri else ""
        match = _HF_URI.match(uri) if self.scheme == "hf" else None
        self.hf_repo: str | None = match["repo"] if match else None
        self.hf_revision: str | None = match["revision"] if match else None

    @property
    def objects(self) -> dict[str, str] | None:
        """Object name -> version of a pinned s3:// / gs:// URI whose manifest digest matches them, else None."""
        if self.scheme not in _VERSION:
            return None
        try:
            parsed = parse_versioned(self.uri)
        except ValueError:
            return None
        if parsed is None:
            return None
        location, digest, objects = parsed
        if object_set_digest(location, objects) != digest or not all(_VERSION[self.scheme].match(v) for v in objects.values()):
            return None
        return objects

    @property
    def versioned(self) -> bool:
        """An s3:// / gs:// URI with a query: meant as a pinned object set (whether or not it is consistent)."""
        return self.scheme in _VERSION and "?" in self.uri

    @property
    def location(self) -> str:
        """What the reference names without its revision: the Hugging Face repository, the OCI repository, the bucket prefix."""
        if self.hf_repo:
            return f"hf://{self.hf_repo}"
        if self.scheme == "oci":
            return re.sub(r"(@sha256:[0-9a-f]{64}|:[^/:@]+)$", "", self.uri)
        return self.uri.split("?", 1)[0]

    @property
    def immutable(self) -> bool:
        """Names exactly one content: a Hugging Face commit sha, an OCI manifest digest, object versions under a manifest digest."""
        if self.scheme == "hf":
            return bool(self.hf_revision and _HF_COMMIT.match(self.hf_revision))
        if self.scheme == "oci":
            return bool(_OCI_DIGEST.search(self.uri))
        return self.objects is not None

    @property
    def pinnable(self) -> bool:
        """mlkube knows an immutable form of this scheme that the default downloader fetches exactly."""
        return self.scheme in ("hf", "oci", "s3", "gs")

    @property
    def download(self) -> str:
        """The form the downloader reads: KServe's storage initializer splits an hf:// URI at ':' for its revision
        (kserve/kserve python/storage/kserve_storage/kserve_storage.py _download_hf: ``model_part.partition(":")``,
        then ``snapshot_download(repo_id, revision=...)``), so a pinned revision downloads exactly that commit."""
        if self.hf_repo:
            return f"hf://{self.hf_repo}" + (f":{self.hf_revision}" if self.hf_revision else "")
        return self.uri

    def pin_hint(self) -> str:
        if self.scheme == "hf":
            repo = self.hf_repo or "org/name"
            return (f"pin it as hf://{repo}@<revision> (a 40-hex commit sha), or run mlkube pin --resolve / "
                    "--models FILE, then mlkube synth")
        if self.scheme == "oci":
            return "pin it as oci://<registry>/<repository>@sha256:<digest>, or run mlkube pin --models FILE, then mlkube synth"
        if self.scheme == "s3":
            return ("turn on versioning on the bucket, then run mlkube pin --resolve (a HEAD per object gives its versionId) "
                    "or --models FILE (s3://bucket/prefix?versionManifest=sha256:...), then mlkube synth")
        if self.scheme == "gs":
            return ("run mlkube pin --resolve (objects.list gives each object's generation) or --models FILE "
                    "(gs://bucket/prefix?versionManifest=sha256:...&<object>=<generation>), then mlkube synth")
        return (f"{self.scheme}:// has no immutable form that KServe's storage initializer downloads exactly (it fetches "
                "whatever the prefix holds at start-up): write each model version to a new path and never overwrite it, "
                "or package it as an OCI artifact and use oci://...@sha256:<digest>")


def parse_model_reference(uri: str) -> ModelReference:
    return ModelReference(uri)


def download_form(uri: str) -> str:
    """``uri`` as the downloader reads it (hf://org/name@rev becomes hf://org/name:rev)."""
    return ModelReference(uri).download


def downloader_command(model: UriModel) -> list[str] | None:
    """The command of the default downloader for s3:// and gs://: mlkube's versioned downloader (model_fetch.py), which
    fetches a pinned object set at exactly its versions and hands any other URI to KServe's own entrypoint."""
    if (model.scheme not in _VERSION and not model.shared_cache) or not model.kserve_downloader:
        return None
    return ["python3", "-c", _FETCH_PROGRAM]


def _fetch_program() -> str:
    from pathlib import Path

    # The program without its module docstring (the why is in model_fetch.py): every pod of an s3:// or gs:// model carries it.
    source = Path(__file__).with_name("model_fetch.py").read_text(encoding="utf-8")
    body = source.split('"""', 2)[2].lstrip("\n")
    return "# mlkube's versioned model downloader (mlkube/core/model_fetch.py): the object versions of a pinned URI, exactly\n" + body


_FETCH_PROGRAM = _fetch_program()


def downloader_credentials_env(model: UriModel) -> list[dict[str, str]]:
    """The variable that points the downloader at its credentials file (none without credentials_secret)."""
    if not model.credentials_secret or model.scheme not in _CREDENTIAL_FILES:
        return []
    variable, default_key = _CREDENTIAL_FILES[model.scheme]
    return [{"name": variable, "value": f"{CREDENTIALS_DIR}/{model.credentials_key or default_key}"}]


class PvcModel(Spec):
    """A model already on a PersistentVolumeClaim (for example written by a training job), mounted read-only."""

    source: Literal["pvc"] = "pvc"
    claim: str = Field(description="Name of the PersistentVolumeClaim.")
    path: LocalPath = Field(default="", description="Folder inside the volume (relative, no '..'). Default: its root.")


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
