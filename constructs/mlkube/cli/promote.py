"""``mlkube promote SRC DST``: give DST the image digests SRC locked."""

from __future__ import annotations

from pathlib import Path

import click

from ..gitops.promote import promote
from . import handle_errors


@click.command("promote")
@click.argument("source")
@click.argument("target")
@click.option("--dist", "dist", type=click.Path(path_type=Path), default=Path("dist"), show_default=True,
              help="The synthesized config repo tree (with images.lock.json).")
@handle_errors
def command(source: str, target: str, dist: Path) -> None:
    """Copy the locked digests of SOURCE to TARGET (lock file and TARGET's manifests), so TARGET runs
    the bytes SOURCE tested. Refuses, exit 1, when SOURCE has an image that is not pinned by digest.

    \b
    Example:
      mlkube promote staging prod && mlkube synth
    """
    click.echo(promote(dist, source, target).summary())
