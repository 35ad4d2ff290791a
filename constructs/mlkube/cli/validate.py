"""``mlkube validate``: validate any folder of Kubernetes YAML like synth does."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import EXIT_FINDINGS, MlkubeError, Problem
from ..kube.loader import LoadedManifest, load_manifests_isolated
from ..validation import SchemaCatalog, ValidationSettings, check_cross_object
from ..validation.cross_object import partner_problems
from ..validation.files import located_problem, schema_problems, validate_files
from ..validation.schemas import DEFAULT_KUBERNETES_VERSION
from . import handle_errors

CROSS_OBJECT_MODES = ("error", "warn", "off")


def validate_manifests(manifests: list[LoadedManifest], catalog: SchemaCatalog, paths: tuple[Path, ...] = (),
                       cross_object: str = "error") -> tuple[list[Problem], list[str], list[Problem]]:
    """Problems of the objects, the kinds that have no schema (reported, not errors), and warnings
    (partner checks with ``cross_object="warn"``), with every object in memory (``--policy`` and
    ``--connectivity`` need them all; ``mlkube.validation.files`` streams files otherwise)."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    unknown: set[str] = set()
    for manifest in manifests:
        problems += schema_problems(manifest, catalog, unknown)
    from ..policy.cli import clusters

    # The files given are deployed together, one cluster per environment folder of a config repo
    # (dist/<env>/...): partners are looked for among them. A partial set relaxes that with --cross-object.
    for group in clusters(manifests, list(paths)):
        located = {m.where: m for m in group}
        found = [(problem, problems) for problem in check_cross_object(group, partners=False)]
        if cross_object != "off":
            found += [(problem, warnings if cross_object == "warn" else problems) for problem in partner_problems(group)]
        for problem, into in found:
            into.append(located_problem(problem, located.get(problem.where)))
    return problems, sorted(unknown), warnings


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
    if policy or connectivity:  # the policy rules and the traffic matrix read every object at once
        manifests, unreadable = load_manifests_isolated(paths)
        problems, unknown, warnings = validate_manifests(manifests, catalog, paths, cross_object)
        count = len(manifests)
    else:  # one file in memory at a time (issue 22)
        manifests = []
        report = validate_files(paths, catalog, cross_object)
        problems, unreadable, unknown, warnings, count = (report.problems, report.unreadable, sorted(report.unknown),
                                                          report.warnings, report.objects)
    for kind in unknown:
        click.echo(f"note: no schema for {kind}; not validated (give --crd-schemas DIR, or --strict to fail)", err=True)
    for warning in sorted(set(warnings)):
        click.echo(f"warning: {warning}", err=True)
    _note_skipped_rules(catalog)
    policy_failed = policy and _policy_failed(manifests, paths, output_format, output, allowed_registries, require_digests,
                                              kubernetes_version)
    if connectivity and not problems and not unreadable:  # the evaluator reads policies the schemas accepted
        from ..traffic.matrix import print_matrices

        print_matrices(manifests, paths)
    if unreadable:
        raise MlkubeError(unreadable + problems, title="some files could not be read; the others were validated")
    if problems:
        raise MlkubeError(problems, title=f"{count} objects validated, some are invalid", exit_code=EXIT_FINDINGS)
    if policy_failed:
        sys.exit(EXIT_FINDINGS)
    click.echo(f"{count} objects valid (Kubernetes {kubernetes_version}, strict)", err=policy and output is None)


def _policy_failed(manifests: list[LoadedManifest], paths: tuple[Path, ...], output_format: str, output: Path | None,
                   allowed_registries: tuple[str, ...], require_digests: bool, kubernetes_version: str) -> bool:
    from ..policy.cli import run_policy_check
    from ..policy.model import PolicySettings

    settings = PolicySettings(allowed_registries, require_digests, kubernetes_version=kubernetes_version)
    return run_policy_check(manifests, paths, output_format=output_format, output=output, settings=settings).failed
