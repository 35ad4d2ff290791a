"""``mlkube workflows``: write the config repo's GitHub Actions workflows (the ones synth puts in dist/.github/workflows/)."""

from __future__ import annotations

from pathlib import Path

import click

from ..core.gitops_settings import GitOps
from ..gitops.workflows import render_workflows, repo_folders
from ..output import replace_files
from . import handle_errors
from .synth import app_entry, require_app_file


def _platform_gitops(app: Path) -> tuple[GitOps, list[str]]:
    """The blueprint's GitOps settings and CRD schema folders, without synthesizing it."""
    import runpy
    import sys

    require_app_file(app)
    sys.path.insert(0, str(app.parent.absolute()))
    namespace = runpy.run_path(str(app), run_name="mlkube_workflows")
    from ..core.platform import Platform

    platforms = [value for value in namespace.values() if isinstance(value, Platform)]
    if not platforms:
        return GitOps(), []
    return platforms[0].gitops or GitOps(), repo_folders(platforms[0].crd_schemas)


@click.command("workflows")
@click.option("--app", "app", type=click.Path(path_type=Path), help="Blueprint file [default: from cdk8s.yaml].")
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path(".github/workflows"), show_default=True,
              help="Folder to write config-repo-*.yml into.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when a file differs from what would be written.")
@handle_errors
def command(app: Path | None, out: Path, check: bool) -> None:
    """Write the config repo's CI workflows: pull request (synth, validate, diff comment), release
    (build, scan, push, sign, pin) and promotion (manual, reviewed)."""
    files = {out / name: data for name, data in render_workflows(*_platform_gitops(app or app_entry())).items()}
    stale = sorted(str(path) for path, data in files.items() if not path.exists() or path.read_bytes() != data)
    if check:
        if stale:
            click.echo("stale: " + ", ".join(stale) + "\n    hint: run `mlkube workflows`", err=True)
            raise SystemExit(1)
        return
    out.mkdir(parents=True, exist_ok=True)
    replace_files(files)
    click.echo(f"mlkube: wrote {len(files)} workflows to {out}/ ({len(stale)} changed)")
