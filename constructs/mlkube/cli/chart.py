"""``mlkube chart APP``: a Helm chart of one app (see mlkube/chart/export.py), optionally packaged and pushed."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from . import handle_errors


@click.command("chart")
@click.argument("app_name", metavar="APP")
@click.option("--env", "environment", help="Environment whose objects the chart renders [default: the app's first].")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Folder of the chart (replaced as a whole).")
@click.option("--app", "app_file", type=click.Path(path_type=Path), help="Blueprint file [default: from cdk8s.yaml].")
@click.option("--dist", "dist", type=click.Path(path_type=Path), default=Path("dist"), show_default=True,
              help="The synthesized config repo: its lock pins images, and records the pushed chart.")
@click.option("--version", "version", help="Chart version (SemVer) [default: 0.1.0-<env>.c<content hash>].")
@click.option("--package", "package", is_flag=True, help="Also write the chart archive (helm package) beside --out.")
@click.option("--push", "registry", metavar="REGISTRY", help="Package, push to oci://REGISTRY (e.g. ghcr.io/acme/charts) and record the digest in the lock.")
@click.option("--plain-http", "plain_http", is_flag=True, help="Push over HTTP (a local registry).")
@handle_errors
def command(app_name: str, environment: str | None, out: Path, app_file: Path | None, dist: Path, version: str | None,
            package: bool, registry: str | None, plain_http: bool) -> None:
    """Export APP as a Helm chart: templates equal to synth's objects, values from its specs, values.schema.json."""
    from ..chart.build import load_platform
    from ..chart.export import export_chart
    from ..output import replace_tree
    from .synth import app_entry

    platform = load_platform(app_file or app_entry())
    export = export_chart(platform, app_name, environment, dist, version)
    replace_tree(out, export.files)
    fixed = [p for p in export.parameters if p.fixed]
    click.echo(f"chart {export.name} {export.version} ({export.environment}): {len(export.objects)} objects, "
               f"{len(export.parameters) - len(fixed)} parameters, {len(fixed)} fixed at export; written to {out}/")
    if not (package or registry):
        return
    from ..chart.helm import package_chart, push_chart, record_chart
    from ..pinning.lock import ChartLockEntry

    if package:
        archive = package_chart(out, out.parent)
        click.echo(f"packaged {archive}")
    if registry:
        with tempfile.TemporaryDirectory(prefix="mlkube-chart-") as folder:
            archive = package_chart(out, Path(folder))
            digest = push_chart(archive, registry, plain_http=plain_http)
        repository = f"{registry.removeprefix('oci://').rstrip('/')}/{export.name}"
        lock = record_chart(dist, export.environment, export.name, ChartLockEntry(repository, export.version, digest))
        click.echo(f"pushed oci://{repository}:{export.version} {digest}; recorded in {lock}")
