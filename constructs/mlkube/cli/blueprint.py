"""``mlkube blueprint``: the JSON Schemas of blueprint files, and checking blueprint files."""

from __future__ import annotations

from pathlib import Path

import click

from ..blueprint import load_blueprint_files, write_schemas
from . import handle_errors


@click.group("blueprint")
def command() -> None:
    """YAML blueprints (apps/<team>/mlkube.yaml): JSON Schemas and checks."""


@command.command("schema")
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path("schemas"), show_default=True,
              help="Folder that will hold exactly the generated schemas.")
@handle_errors
def schema(out: Path) -> None:
    """Write one JSON Schema per blueprint document type into OUT (for editors and CI)."""
    for path in write_schemas(out):
        click.echo(f"wrote {path}")


@command.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@handle_errors
def check(files: tuple[Path, ...]) -> None:
    """Validate blueprint FILES; every error with file:line:column, exit code 2 on any."""
    blueprints = load_blueprint_files(files)
    workloads = sum(len(blueprint.workloads) for blueprint in blueprints)
    click.echo(f"{len(files)} file{'s' if len(files) != 1 else ''}: {len(blueprints)} app{'s' if len(blueprints) != 1 else ''}, "
               f"{workloads} workload{'s' if workloads != 1 else ''}, no errors")
