"""``mlkube pin``: pin every image of the config repo tree by digest, from CI's digests or the registry."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..errors import MlkubeError
from ..pinning.digests import read_digest_files
from ..pinning.models import GcsResolver, HuggingFaceResolver, S3Resolver, pins_from_file
from ..pinning.pin import ModelPinning, default_revision, pin_from_digests, pin_from_registry
from ..pinning.registry import RegistryClient
from . import handle_errors


@click.command("pin")
@click.option("--dist", "dist", type=click.Path(path_type=Path), default=Path("dist"), show_default=True,
              help="The synthesized tree (with images.json and images.lock.json).")
@click.option("--digests", "digest_files", multiple=True, type=click.Path(path_type=Path),
              help="JSON file from CI: a map reference -> digest, or docker/build-push-action (buildx) metadata. Repeatable.")
@click.option("--digest", "digest_pairs", multiple=True, metavar="REF=FILE",
              help="A `buildah push --digestfile` FILE (only a digest) for the reference REF it was pushed as. Repeatable.")
@click.option("--models", "models_file", type=click.Path(path_type=Path), default=None,
              help="JSON file from CI: a map model URI -> immutable form (hf://org/name@<commit>, oci://...@sha256:..., "
              "s3:// or gs://...?versionManifest=sha256:...&<object>=<version>).")
@click.option("--resolve", is_flag=True, help="Ask each image's registry for the digest of its tag (HTTP API), and the "
              "Hugging Face API ($HF_ENDPOINT, token $HF_TOKEN) for the commit of each hf:// model without one, and "
              "the registry for the digest of each oci:// model tag, and S3 (ListObjectsV2, HeadObject; boto3's credentials, "
              "$AWS_ENDPOINT_URL) for the version id of each object of each s3:// model, and GCS (objects.list) for the generations "
              "of each gs:// model.")
@click.option("--insecure-registry", "insecure", multiple=True, metavar="HOST:PORT", envvar="MLKUBE_INSECURE_REGISTRIES",
              help="Use plain HTTP for this registry (with --resolve). Repeatable; default: $MLKUBE_INSECURE_REGISTRIES "
                   "(space-separated), for CI steps that run the same command everywhere.")
@click.option("--revision", default=None, help="Source revision recorded for built images "
              "[default: $MLKUBE_REVISION, $GITHUB_SHA, else git HEAD].")
@handle_errors
def command(dist: Path, digest_files: tuple[Path, ...], digest_pairs: tuple[str, ...], models_file: Path | None, resolve: bool,
            insecure: tuple[str, ...], revision: str | None) -> None:
    """Pin image references in DIST by digest and models by commit/digest, and record them in DIST/images.lock.json.

    Only the image values change: every other byte of every file stays as it was. Either every
    file and the lock change, or none does; running it again changes nothing.
    """
    if resolve == bool(digest_files or digest_pairs) and not (models_file and not resolve):
        raise MlkubeError.single("give either --resolve or digests (--digests FILE / --digest REF=FILE), and/or --models FILE",
                                 hint="mlkube pin --digests digests.json [--models models.json], or mlkube pin --resolve")
    if insecure and not resolve and not os.environ.get("MLKUBE_INSECURE_REGISTRIES"):
        raise MlkubeError.single("--insecure-registry only applies with --resolve")
    revision = default_revision() if revision is None else revision
    client = RegistryClient(insecure) if resolve else None
    models = ModelPinning(pins_from_file(models_file) if models_file else None, str(models_file or ""),
                          HuggingFaceResolver() if resolve else None, client, S3Resolver() if resolve else None,
                          GcsResolver() if resolve else None)
    if client is not None:
        result = pin_from_registry(dist, client, revision, models)
    else:
        digests = read_digest_files(digest_files, digest_pairs) if digest_files or digest_pairs else {}
        result = pin_from_digests(dist, digests, revision, models)
    click.echo(result.summary())
