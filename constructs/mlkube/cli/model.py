"""``mlkube model package``: a model directory as an OCI image (files under /models), pushed, printed by digest."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from ..images.model_artifact import package_model
from . import handle_errors


@click.group("model")
def command() -> None:
    """Model artifacts: package a model directory as an OCI image."""


@command.command("package")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--to", "to", required=True, metavar="REGISTRY/REPOSITORY:TAG", help="Where to push the image.")
@click.option("--insecure", is_flag=True, help="Plain HTTP (a local registry).")
@click.option("--busybox", type=click.Path(path_type=Path), default=None,
              help="A static busybox for sh/cp/ln/sleep in the image [default: busybox on PATH, e.g. Debian busybox-static].")
@click.option("--digest-file", type=click.Path(path_type=Path), default=None,
              help="Also write the pushed digest here (`mlkube pin --digest REF=FILE` reads it).")
@click.option("--storage", type=click.Path(path_type=Path), default=None,
              help="buildah storage folder (vfs driver) [default: buildah's own, /var/lib/containers for root].")
@handle_errors
def package(directory: Path, to: str, insecure: bool, busybox: Path | None, digest_file: Path | None, storage: Path | None) -> None:
    """Package DIRECTORY as an OCI image with the model under /models (KServe's modelcar layout) and push it to --to.

    Prints the immutable reference, oci://REPOSITORY@sha256:..., to serve with model=... . The same folder gives the
    same digest (buildah commit --timestamp 0).
    """
    found = busybox or Path(shutil.which("busybox") or "/bin/busybox")
    packaged = package_model(directory, to, busybox=found, insecure=insecure, storage=storage, digest_file=digest_file)
    click.echo(packaged.pinned)
