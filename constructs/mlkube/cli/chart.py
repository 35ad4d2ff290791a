"""``mlkube chart APP...``: Helm charts of apps (see mlkube/chart/export.py), optionally packaged and pushed."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import click

from . import handle_errors


@click.command("chart")
@click.argument("app_names", metavar="[APP]...", nargs=-1)
@click.option("--all", "every_app", is_flag=True, help="Every app of each environment (--out is then a root: OUT/<env>/<app>/).")
@click.option("--entry", "entry_only", is_flag=True, help="With --all: only the entry environments (those CI pins; gated ones get "
              "their charts after `mlkube promote`).")
@click.option("--env", "environments", multiple=True, metavar="ENV",
              help="Environment whose objects the chart renders (repeatable) [default: each app's first; with --all: every one].")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="Folder of the chart (replaced as a whole); with several charts, their root: OUT/<env>/<app>/.")
@click.option("--app", "app_file", type=click.Path(path_type=Path), help="Blueprint file [default: from cdk8s.yaml].")
@click.option("--dist", "dist", type=click.Path(path_type=Path), default=Path("dist"), show_default=True,
              help="The synthesized config repo: its lock pins images, and records the pushed chart.")
@click.option("--version", "version", help="Chart version (SemVer) [default: 0.1.0-<env>.c<content hash>]; one chart only.")
@click.option("--package", "package", is_flag=True, help="Also write the chart archive (helm package) beside --out.")
@click.option("--push", "registry", metavar="REGISTRY", help="Package, push to oci://REGISTRY/<app> (e.g. ghcr.io/acme/charts) and record the digest in the lock.")
@click.option("--plain-http", "plain_http", is_flag=True, help="Push over HTTP (a local registry) [default: when its host is in $MLKUBE_INSECURE_REGISTRIES].")
@handle_errors
def command(app_names: tuple[str, ...], every_app: bool, entry_only: bool, environments: tuple[str, ...], out: Path, app_file: Path | None, dist: Path,
            version: str | None, package: bool, registry: str | None, plain_http: bool) -> None:
    """Export APP as a Helm chart: templates equal to synth's objects, values from its specs, values.schema.json.

    \b
    Several apps or environments (or --all) share one build of each environment, so exporting them
    together is much faster than one command per chart.
    \b
    Examples:
      mlkube chart fraud-scoring --env dev --out charts/dev/fraud-scoring
      mlkube chart --all --env dev --out charts --push ghcr.io/acme/charts
      mlkube chart --all --entry --out charts --push ghcr.io/acme/charts   # CI, after mlkube pin
    """
    from ..chart.build import load_platform
    from ..chart.export import export_charts
    from ..errors import MlkubeError
    from ..output import replace_tree
    from .synth import app_entry

    if bool(app_names) == every_app:
        raise MlkubeError.single("name the apps to export, or pass --all" if not app_names else "pass app names or --all, not both",
                                 hint="mlkube chart fraud-scoring --env dev --out charts/dev/fraud-scoring")
    several = every_app or len(app_names) > 1 or len(environments) > 1
    if several and version is not None:
        raise MlkubeError.single("--version names the version of one chart", where="--version",
                                 hint="export one app of one environment, or leave the version to its content hash")
    platform = load_platform(app_file or app_entry())
    if entry_only:
        if not every_app or environments:
            raise MlkubeError.single("--entry selects the environments of --all", where="--entry", hint="mlkube chart --all --entry --out charts")
        from ..core.promotion_chain import promotion_chain

        environments = promotion_chain(platform.environments, platform.gitops)[0].entry
        several = True
    exports = export_charts(platform, list(app_names) or None, list(environments) or None, dist, version)
    if registry:
        _refuse_gated_before_push(dist, sorted({export.environment for export in exports}))
    if several:
        replace_tree(out, {f"{e.environment}/{e.name}/{path}": data for e in exports for path, data in e.files.items()})
    else:
        replace_tree(out, exports[0].files)
    for export in exports:
        fixed = [p for p in export.parameters if p.fixed]
        where = out / export.environment / export.name if several else out
        click.echo(f"chart {export.name} {export.version} ({export.environment}): {len(export.objects)} objects, "
                   f"{len(export.parameters) - len(fixed)} parameters, {len(fixed)} fixed at export; written to {where}/")
    if registry and not plain_http:
        # The same list of plain-HTTP registries as pin and images (a local registry in tests and on a laptop).
        import os

        plain_http = registry.removeprefix("oci://").split("/", 1)[0] in os.environ.get("MLKUBE_INSECURE_REGISTRIES", "").split()
    if package or registry:
        _package_and_push(exports, out, several, dist, package, registry, plain_http)


def _refuse_gated_before_push(dist: Path, environments: list[str]) -> None:
    """A gated environment that does not hold its promotion gets no chart: refused before anything is pushed (exit 2)."""
    from ..errors import MlkubeError
    from ..pinning.chart_pins import gated_refusals
    from ..pinning.lock import load_lock, lock_path

    refused = gated_refusals(load_lock(dist), environments, str(lock_path(dist)))
    if refused:
        raise MlkubeError(refused, title="no chart was pushed")


def _package_and_push(exports: list[Any], out: Path, several: bool, dist: Path, package: bool, registry: str | None, plain_http: bool) -> None:
    from ..chart.helm import package_chart, push_chart, record_charts
    from ..pinning.lock import ChartLockEntry

    pushed: list[tuple[str, str, ChartLockEntry]] = []
    for export in exports:
        folder = out / export.environment / export.name if several else out
        if package:
            click.echo(f"packaged {package_chart(folder, folder.parent)}")
        if registry:
            with tempfile.TemporaryDirectory(prefix="mlkube-chart-") as temporary:
                digest = push_chart(package_chart(folder, Path(temporary)), registry, plain_http=plain_http)
            repository = f"{registry.removeprefix('oci://').rstrip('/')}/{export.name}"
            pushed.append((export.environment, export.name, ChartLockEntry(repository, export.version, digest)))
            click.echo(f"pushed oci://{repository}:{export.version} {digest}")
    if pushed:
        # Every pushed chart is recorded at once: the lock changes whole or not at all.
        click.echo(f"recorded {len(pushed)} chart{'s' if len(pushed) != 1 else ''} in {record_charts(dist, pushed)}")
