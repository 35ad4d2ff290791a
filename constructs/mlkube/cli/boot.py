"""``mlkube boot APP_FOLDER``: run an app's pods locally in podman under their own security context."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import EXIT_FINDINGS, MlkubeError
from . import handle_errors


def _image_map(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        pattern, equals, image = value.partition("=")
        if not equals or not pattern or not image:
            raise MlkubeError.single(f"--image-map {value!r} is not PATTERN=IMAGE",
                                     hint="e.g. --image-map 'vllm/vllm-openai*=localhost/stand-in:1' (first matching pattern wins)")
        pairs.append((pattern, image))
    return tuple(pairs)


@click.command("boot")
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--image-map", "image_map", multiple=True, metavar="PATTERN=IMAGE",
              help="Run IMAGE (a local image) wherever an image matches PATTERN (fnmatch, * and ?); repeatable, first match wins.")
@click.option("--timeout", "timeout", type=click.FloatRange(min=1), default=120, show_default=True,
              help="Seconds to wait for Job pods to finish and servers to be ready.")
@click.option("--settle", "settle", type=click.FloatRange(min=0), default=3, show_default=True,
              help="Seconds a long-running container must keep running to count as ready.")
@click.option("--logs", "show_logs", is_flag=True, help="Print the last log lines of every container (failed ones always are).")
@handle_errors
def command(folder: Path, image_map: tuple[str, ...], timeout: float, settle: float, show_logs: bool) -> None:
    """Boot the pods of FOLDER (an app of a synthesized tree, e.g. dist/dev/llm-chat) in podman, offline.

    One pod per Deployment/StatefulSet/DaemonSet, the parallel pods of a Job (with their completion
    indexes), one run of a CronJob; init containers first, native sidecars, then the main containers, each
    under its securityContext, with emptyDirs, claims as local folders and ConfigMaps/Secrets from the
    manifests (stand-in values for Secrets made outside the repo). Prints one line per container, removes
    everything it made (also on Ctrl-C), and exits 1 when a container failed.
    """
    from ..boot import BootOptions, boot

    options = BootOptions(image_map=_image_map(image_map), timeout_seconds=timeout, settle_seconds=settle, show_logs=show_logs)
    try:
        report = boot(folder, options, echo=click.echo)
    except KeyboardInterrupt:
        click.echo("interrupted: every pod and volume of this boot was removed", err=True)
        sys.exit(130)  # 128 + SIGINT, as shells report it
    failed = [result for result in report.results if not result.ok]
    if failed:
        click.echo(f"{len(failed)} of {len(report.results)} containers did not start or finish cleanly", err=True)
        sys.exit(EXIT_FINDINGS)
    click.echo(f"{len(report.results)} containers of {len({r.pod for r in report.results})} pods started; no failure")
