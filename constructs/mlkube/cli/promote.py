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
@click.option("--revision", default=None, help="Revision whose lock is promoted, recorded for `mlkube check --pinned` "
              "[default: $MLKUBE_REVISION, $GITHUB_SHA, else git HEAD].")
@handle_errors
def command(source: str, target: str, dist: Path, revision: str | None) -> None:
    """Copy the locked images of SOURCE (repository, tag, digest; model pins) to the gated TARGET
    (lock file and TARGET's manifests), so TARGET runs the bytes SOURCE tested. TARGET must be gated
    (production or promote_from) and promoted from SOURCE (exit 2 otherwise). Refuses, exit 1, when
    SOURCE has an image that is not pinned by digest.

    \b
    Example:
      mlkube promote staging prod && mlkube synth
    """
    from ..pinning.pin import default_revision

    click.echo(promote(dist, source, target, default_revision() if revision is None else revision).summary())
