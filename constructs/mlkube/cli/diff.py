"""``mlkube diff BASE HEAD``: what a config-repo change does, and how risky it is, for a PR comment."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..diff import DEFAULT_PRODUCTION, Level, diff_specs, render_json, render_markdown
from ..errors import EXIT_FINDINGS
from . import handle_errors

_LEVELS = [level.label for level in Level if level is not Level.NONE]


@click.command("diff")
@click.argument("base")
@click.argument("head")
@click.option("--repo", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Git repository whose revisions BASE and HEAD name (when they are not folders).")
@click.option("--format", "output_format", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True,
              help="Markdown for a pull-request comment, or JSON.")
@click.option("--fail-on", "fail_on", type=click.Choice(_LEVELS),
              help="Exit 1 when the highest risk found is at least this level [default: never].")
@click.option("--production", "production", multiple=True, metavar="ENV",
              help=f"An environment treated as production (repeatable) [default: {', '.join(sorted(DEFAULT_PRODUCTION))}].")
@handle_errors
def command(base: str, head: str, repo: Path, output_format: str, fail_on: str | None, production: tuple[str, ...]) -> None:
    """Compare two sides of the config repo: each a folder, or a git revision REV or REV:PATH of --repo.

    Objects are matched by environment, group, kind, namespace and name, so moving them between
    files is no change. Risk levels, lowest to highest: info, low, medium, high.

    \b
    Examples:
      mlkube diff origin/main:dist HEAD:dist --fail-on high
      mlkube diff old-dist/ dist/ --format json
    """
    report = diff_specs(base, head, repo, production or DEFAULT_PRODUCTION)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(render_json(report) if output_format == "json" else render_markdown(report), nl=False)
    if fail_on and report.highest >= Level.parse(fail_on):
        click.echo(f"mlkube diff: highest risk is {report.highest.label}, at or above --fail-on {fail_on}", err=True)
        sys.exit(EXIT_FINDINGS)
