"""``mlkube images plan``: which built images CI must build, and the digests of those it must not rebuild."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from ..images.build_plan import plan_builds
from ..pinning.registry import RegistryClient
from . import handle_errors


@click.group("images")
def command() -> None:
    """Built images (dist/images.json): plan CI's builds."""


@command.command("plan")
@click.option("--dist", "dist", type=click.Path(path_type=Path), default=Path("dist"), show_default=True,
              help="The synthesized tree (with images.json).")
@click.option("--matrix-out", type=click.Path(path_type=Path), help="Write the images to build (a JSON list, images.json entries) here.")
@click.option("--digests-out", type=click.Path(path_type=Path), help="Write reference -> digest of the images already pushed "
              "(a `mlkube pin --digests` file) here.")
@click.option("--github-output", is_flag=True, help="Also append images=<matrix> and count=<n> to $GITHUB_OUTPUT.")
@click.option("--insecure-registry", "insecure", multiple=True, metavar="HOST:PORT", envvar="MLKUBE_INSECURE_REGISTRIES",
              help="Use plain HTTP for this registry. Repeatable; default: $MLKUBE_INSECURE_REGISTRIES (space-separated).")
@handle_errors
def plan(dist: Path, matrix_out: Path | None, digests_out: Path | None, github_output: bool, insecure: tuple[str, ...]) -> None:
    """Ask the registry which content tags exist: an image whose tag is already pushed is never rebuilt.

    The matrix lists only the images to build; the digests file lets `mlkube pin` pin the others.
    """
    result = plan_builds(dist, RegistryClient(insecure))
    matrix = json.dumps(result.build, sort_keys=True, separators=(",", ":"))
    if matrix_out is not None:
        matrix_out.write_text(matrix + "\n", encoding="utf-8")
    if digests_out is not None:
        digests_out.write_text(json.dumps(result.existing, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if github_output:
        target = os.environ.get("GITHUB_OUTPUT")
        if target:
            with open(target, "a", encoding="utf-8") as stream:
                stream.write(f"images={matrix}\ncount={len(result.build)}\n")
    click.echo(result.summary())


@command.command("pin-bases")
@click.option("--dist", "dist", type=click.Path(path_type=Path), default=Path("dist"), show_default=True,
              help="The synthesized tree (with images.json and images.lock.json).")
@click.option("--resolve", is_flag=True, help="Ask each base's registry for the digest of its tag (HTTP API).")
@click.option("--digests", "digest_files", multiple=True, type=click.Path(path_type=Path),
              help="JSON map base reference -> digest, instead of asking the registry. Repeatable.")
@click.option("--insecure-registry", "insecure", multiple=True, metavar="HOST:PORT", envvar="MLKUBE_INSECURE_REGISTRIES",
              help="Use plain HTTP for this registry. Repeatable; default: $MLKUBE_INSECURE_REGISTRIES (space-separated).")
@handle_errors
def pin_bases(dist: Path, resolve: bool, digest_files: tuple[Path, ...], insecure: tuple[str, ...]) -> None:
    """Lock the digest of every base image the generated Dockerfiles start FROM (the lock's "bases").

    Synth then writes `ARG BASE_DIGEST=<digest>` into each Dockerfile, so a content tag always builds
    from the same base bytes. Run it again to move to the bases' current digests (a reviewed change).
    """
    from ..errors import MlkubeError
    from ..images.base_lock import lock_bases

    if resolve == bool(digest_files):
        raise MlkubeError.single("give either --resolve or --digests FILE", hint="mlkube images pin-bases --resolve")
    click.echo(lock_bases(dist, RegistryClient(insecure) if resolve else None, digest_files))
