"""``mlkube check``: checks of a synthesized tree that need no cluster (``--pinned``)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import EXIT_FINDINGS, MlkubeError
from ..pinning.check import check_pinned, check_pinned_models
from . import handle_errors


@click.command("check")
@click.option("--pinned", is_flag=True, help="Every image is pinned by digest, and by the digest the lock records; every model "
              "(storageUri, model downloader) at an immutable revision, and at the one the lock records; every chart Argo CD "
              "deploys by the digest the lock records.")
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
    model_problems, models = check_pinned_models(dist, frozenset(environments) or None)
    problems += model_problems
    # Charts Argo CD deploys (GitOps(source='chart')) are pinned like images: by the locked digest.
    chart_problems, charts = check_chart_pins(dist, load_lock(dist), frozenset(environments) or None)
    problems += chart_problems
    if problems:
        title = (f"{len(problems)} of {checked} image references are not pinned to the locked digest" if not models and not charts else
                 f"{len(problems)} of {checked + models + charts} image, model and chart references are not pinned to the locked digest "
                 "or revision")
        raise MlkubeError(problems, title=title, exit_code=EXIT_FINDINGS)
    models_text = f", {models} model references at their locked revision" if models else ""
    charts_text = f", {charts} chart references at their locked digest" if charts else ""
    click.echo(f"{checked} image references pinned by digest{models_text}{charts_text}" + (f" in {', '.join(environments)}" if environments else ""))
