"""``mlkube validate``: validate any folder of Kubernetes YAML like synth does."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import EXIT_FINDINGS, MlkubeError
from ..kube.loader import LoadedManifest
from ..validation import SchemaCatalog, ValidationSettings
from ..validation.files import FileReport, validate_files
from ..validation.schemas import DEFAULT_KUBERNETES_VERSION
from . import handle_errors

CROSS_OBJECT_MODES = ("error", "warn", "off")


def _note_skipped_rules(catalog: SchemaCatalog) -> None:
    """Say which CEL rules were not evaluated: transition rules in one count, any other rule by itself."""
    skipped = catalog.skipped_rules()
    transitions = sum(count for rule, count in skipped.items() if rule.reason.startswith("transition rule"))
    if transitions:
        click.echo(f"note: {transitions} CEL transition rule evaluation(s) skipped (rules on oldSelf run only on update)", err=True)
    for rule, count in sorted(skipped.items(), key=lambda item: (item[0].reason, item[0].rule)):
        if not rule.reason.startswith("transition rule"):
            click.echo(f"note: CEL rule not evaluated ({count}x): {rule.reason}: {_short(rule.rule)}", err=True)


def _short(rule: str, limit: int = 100) -> str:
    text = " ".join(rule.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--crd-schemas", "crd_schemas", multiple=True, type=click.Path(path_type=Path),
              help="Folder of CRD JSON schemas in the {group}/{kind}_{version}.json layout (repeatable).")
@click.option("--strict", is_flag=True, help="A kind with no schema is an error.")
@click.option("--kubernetes-version", default=DEFAULT_KUBERNETES_VERSION, show_default=True, help="Schemas of this Kubernetes version.")
@click.option("--policy", is_flag=True, help="Also run the security policy rules (restricted Pod Security Standard and more).")
@click.option("--format", "output_format", type=click.Choice(["text", "sarif"]), default="text", show_default=True,
              help="Policy report format (SARIF 2.1.0 for code-scanning views).")
@click.option("--output", type=click.Path(path_type=Path), help="Write the policy report to this file instead of stdout.")
@click.option("--allowed-registry", "allowed_registries", multiple=True, metavar="PREFIX",
              help="Image prefix that is allowed, e.g. ghcr.io/acme/ (repeatable) [default: any registry].")
@click.option("--require-digests", is_flag=True, help="An image not pinned by digest is an error (else a warning).")
@click.option("--cross-object", "cross_object", type=click.Choice(CROSS_OBJECT_MODES), default="error", show_default=True,
              help="Checks that need partner objects among the files given (a Service's pods, an HPA's target): "
                   "errors, warnings (for a partial set of files) or off.")
@click.option("--connectivity", is_flag=True, help="Also print who reaches whom on which port under the NetworkPolicies "
              "(give one cluster's folder, e.g. dist/<environment>).")
@handle_errors
def command(paths: tuple[Path, ...], crd_schemas: tuple[Path, ...], strict: bool, kubernetes_version: str, policy: bool,
            output_format: str, output: Path | None, allowed_registries: tuple[str, ...], require_digests: bool,
            cross_object: str, connectivity: bool) -> None:
    """Validate Kubernetes YAML files and folders: strict schemas and cross-object checks (and --policy)."""
    catalog = SchemaCatalog(ValidationSettings(kubernetes_version, tuple(crd_schemas), strict))
    # One file in memory at a time (issue 22); with --policy or --connectivity, one cluster (environment) at a time.
    checks = ClusterChecks(policy, connectivity, allowed_registries, require_digests, kubernetes_version) if policy or connectivity else None
    report = validate_files(paths, catalog, cross_object, checks.use if checks is not None else None)
    problems, unreadable, unknown, warnings = report.problems, report.unreadable, sorted(report.unknown), report.warnings
    for kind in unknown:
        click.echo(f"note: no schema for {kind}; not validated (give --crd-schemas DIR, or --strict to fail)", err=True)
    for warning in sorted(set(warnings)):
        click.echo(f"warning: {warning}", err=True)
    _note_skipped_rules(catalog)
    if checks is not None and policy:
        from ..policy.cli import write_policy_report

        write_policy_report(checks.policy_report, output_format=output_format, output=output)
    if checks is not None and connectivity and not problems and not unreadable:  # the evaluator reads policies the schemas accepted
        from ..traffic.matrix import echo_matrices

        echo_matrices(checks.matrices)
    if unreadable:
        raise MlkubeError(unreadable + problems, title="some files could not be read; the others were validated")
    if problems:
        raise MlkubeError(problems, title=f"{report.objects} objects validated, some are invalid", exit_code=EXIT_FINDINGS)
    if checks is not None and policy and checks.policy_report.failed:
        sys.exit(EXIT_FINDINGS)
    click.echo(f"{report.objects} objects valid (Kubernetes {kubernetes_version}, strict)", err=policy and output is None)


class ClusterChecks:
    """``--policy`` and ``--connectivity``, run on each cluster's objects as ``validate_files`` hands them over."""

    def __init__(self, policy: bool, connectivity: bool, allowed_registries: tuple[str, ...], require_digests: bool,
                 kubernetes_version: str) -> None:
        from ..policy.engine import PolicyReport

        self.policy, self.connectivity = policy, connectivity
        self.allowed_registries, self.require_digests, self.kubernetes_version = allowed_registries, require_digests, kubernetes_version
        self.policy_report = PolicyReport()
        #: (folder, matrix text) of each cluster; printed only when every object is valid.
        self.matrices: list[tuple[str, str]] = []

    def use(self, manifests: list[LoadedManifest], report: FileReport) -> None:
        if not manifests:
            return
        if self.policy:
            from ..policy.engine import check_policy
            from ..policy.model import PolicySettings

            settings = PolicySettings(self.allowed_registries, self.require_digests, kubernetes_version=self.kubernetes_version)
            self.policy_report.extend(check_policy(manifests, settings))
        if self.connectivity and not report.problems and not report.unreadable:  # not printed once anything is invalid
            from ..traffic.matrix import cluster_matrix

            self.matrices.append(cluster_matrix(manifests))
