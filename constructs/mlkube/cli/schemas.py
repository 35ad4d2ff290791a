"""``mlkube schemas``: JSON Schemas for custom resources (``import`` converts CRDs)."""

from __future__ import annotations

from pathlib import Path

import click

from ..crd_import import import_crds
from ..errors import MlkubeError
from ..output import replace_files
from ..validation.schemas import DEFAULT_KUBERNETES_VERSION
from . import handle_errors

__all__ = ["command"]


@click.group("schemas")
def command() -> None:
    """JSON Schemas for custom resources, in the {group}/{kind}_{version}.json layout."""


@command.command("import")
@click.argument("crds", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder to write {group}/{kind}_{version}.json into (other files in it are kept).")
@click.option("--kubernetes-version", default=DEFAULT_KUBERNETES_VERSION, show_default=True,
              help="Kubernetes version whose ObjectMeta schema checks metadata.")
@click.option("--skip-other-kinds", is_flag=True, help="Ignore objects that are not CRDs (an operator's install bundle).")
@click.option("--compact", is_flag=True,
              help="No descriptions, repeated sub-schemas stored once under $defs, one line of JSON (what mlkube carries).")
@handle_errors
def import_command(crds: tuple[Path, ...], out_dir: Path, kubernetes_version: str, skip_other_kinds: bool, compact: bool) -> None:
    """Convert CustomResourceDefinitions (every served version) into strict JSON Schemas.

    Unknown fields are rejected, metadata is checked as Kubernetes ObjectMeta, int-or-string and
    nullable markers are converted. Use the folder with `mlkube validate --crd-schemas DIR`.
    """
    files = import_crds(crds, kubernetes_version=kubernetes_version, skip_other_kinds=skip_other_kinds, compact=compact)
    targets = {out_dir / relative: data for relative, data in sorted(files.items())}
    for target in targets:  # only now that every schema converted: bad input leaves no folder behind
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise MlkubeError.single(f"cannot create folder {target.parent}: {error.strerror or error}",
                                     hint="give --out a folder that can hold {group}/ folders") from None
    replace_files(targets)
    for relative in sorted(files):
        click.echo(f"wrote {out_dir / relative}")
    click.echo(f"{len(files)} schema{'s' if len(files) != 1 else ''} written to {out_dir}")
