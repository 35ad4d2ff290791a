"""``mlkube pin``: pin every image of the config repo tree by digest, from CI's digests or the registry."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..errors import MlkubeError
from ..pinning.digests import read_digest_files
from ..pinning.pin import default_revision, pin_from_digests, pin_from_registry
from ..pinning.registry import RegistryClient
from . import handle_errors


@click.command("pin")
@click.option("--dist", "dist", type=click.Path(path_type=Path), default=Path("dist"), show_default=True,
              help="The synthesized tree (with images.json and images.lock.json).")
@click.option("--digests", "digest_files", multiple=True, type=click.Path(path_type=Path),
              help="JSON file from CI: a map reference -> digest, or docker/build-push-action (buildx) metadata. Repeatable.")
@click.option("--digest", "digest_pairs", multiple=True, metavar="REF=FILE",
              help="A `buildah push --digestfile` FILE (only a digest) for the reference REF it was pushed as. Repeatable.")
@click.option("--resolve", is_flag=True, help="Ask each image's registry for the digest of its tag (HTTP API).")
@click.option("--insecure-registry", "insecure", multiple=True, metavar="HOST:PORT", envvar="MLKUBE_INSECURE_REGISTRIES",
              help="Use plain HTTP for this registry (with --resolve). Repeatable; default: $MLKUBE_INSECURE_REGISTRIES "
                   "(space-separated), for CI steps that run the same command everywhere.")
@click.option("--revision", default=None, help="Source revision recorded for built images "
              "[default: $MLKUBE_REVISION, $GITHUB_SHA, else git HEAD].")
@handle_errors
def command(dist: Path, digest_files: tuple[Path, ...], digest_pairs: tuple[str, ...], resolve: bool,
            insecure: tuple[str, ...], revision: str | None) -> None:
    """Pin image references in DIST by digest and record them in DIST/images.lock.json.

    Only the image values change: every other byte of every file stays as it was. Either every
    file and the lock change, or none does; running it again changes nothing.
    """
    if resolve == bool(digest_files or digest_pairs):
        raise MlkubeError.single("give either --resolve or digests (--digests FILE / --digest REF=FILE)",
                                 hint="mlkube pin --digests digests.json, or mlkube pin --resolve")
    if insecure and not resolve and not os.environ.get("MLKUBE_INSECURE_REGISTRIES"):
        raise MlkubeError.single("--insecure-registry only applies with --resolve")
    revision = default_revision() if revision is None else revision
    if resolve:
        result = pin_from_registry(dist, RegistryClient(insecure), revision)
    else:
        result = pin_from_digests(dist, read_digest_files(digest_files, digest_pairs), revision)
    click.echo(result.summary())
