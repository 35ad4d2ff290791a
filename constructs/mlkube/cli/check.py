"""``mlkube check``: checks of a synthesized tree that need no cluster (``--pinned``)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import EXIT_FINDINGS, MlkubeError
from ..pinning.check import check_pinned
from . import handle_errors


@click.command("check")
@click.option("--pinned", is_flag=True, help="Every image (and chart Argo CD deploys) is pinned by digest, and by the digest the lock records.")
@click.option("--env", "environments", multiple=True, metavar="ENV", help="Only this environment (repeatable) [default: all].")
@click.option("--dist", "dist", type=click.Path(path_type=Path), default=Path("dist"), show_default=True,
              help="The synthesized tree.")
@handle_errors
def command(pinned: bool, environments: tuple[str, ...], dist: Path) -> None:
    """Check the synthesized tree in DIST; exit 1 listing each finding."""
    if not pinned:
        raise MlkubeError.single("say what to check", hint="mlkube check --pinned [--env ENV]")
    missing = [env for env in environments if not (dist / env).is_dir()]
    if missing:
        raise MlkubeError.single(f"no environment {', '.join(missing)} in {dist}",
                                 hint="environments are the folders of the tree: " + ", ".join(sorted(
                                     p.name for p in dist.iterdir() if p.is_dir() and p.name != "images")) if dist.is_dir() else "")
    from ..chart.pins import check_chart_pins
    from ..pinning.lock import load_lock

    problems, checked = check_pinned(dist, frozenset(environments) or None)
    # Charts Argo CD deploys (GitOps(source='chart')) are pinned like images: by the locked digest.
    chart_problems, charts = check_chart_pins(dist, load_lock(dist), frozenset(environments) or None)
    if chart_problems:
        problems += chart_problems
    if problems:
        counted = f"{checked} image references" + (f" and {charts} chart references" if charts else "")
        raise MlkubeError(problems, title=f"{len(problems)} of {counted} are not pinned to the locked digest", exit_code=EXIT_FINDINGS)
    click.echo(f"{checked} image references" + (f" and {charts} chart references" if charts else "") + " pinned by digest"
               + (f" in {', '.join(environments)}" if environments else ""))
