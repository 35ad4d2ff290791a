"""``mlkube validate``: validate any folder of Kubernetes YAML like synth does."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import click

from ..errors import EXIT_FINDINGS, MlkubeError, Problem
from ..loader import LoadedManifest, load_manifests
from ..policy.cli import run_policy_check
from ..policy.model import PolicySettings
from ..validation import SchemaCatalog, ValidationSettings, check_cross_object
from ..validation.schemas import DEFAULT_KUBERNETES_VERSION
from ..validation.stream import validate_by_folder
from . import handle_errors


def validate_manifests(manifests: list[LoadedManifest], catalog: SchemaCatalog) -> tuple[list[Problem], list[str]]:
    """Problems of the objects, and the kinds that have no schema (reported, not errors)."""
    problems: list[Problem] = []
    unknown: set[str] = set()
    for manifest in manifests:
        if not catalog.has_schema(str(manifest.obj.get("apiVersion")), str(manifest.obj.get("kind"))) and not catalog.settings.strict_unknown_kinds:
            unknown.add(f"{manifest.obj.get('kind')} ({manifest.obj.get('apiVersion')})")
        for issue in catalog.validate(manifest.obj):
            problems.append(Problem(f"{manifest.file}:{manifest.line_of(issue.field)}", issue.field, f"{manifest.describe()}: {issue.message}"))
    # Objects in one folder are deployed together (one Argo CD Application): check them as a set.
    by_folder: dict[str, list[LoadedManifest]] = defaultdict(list)
    for manifest in manifests:
        by_folder[str(Path(manifest.file).parent)].append(manifest)
    for group in by_folder.values():
        for problem in check_cross_object(group):
            located = next((m for m in group if m.where == problem.where), None)
            where = f"{located.file}:{located.line_of(problem.field)}" if located else problem.where
            problems.append(Problem(where, problem.field, problem.message, problem.hint))
    return problems, sorted(unknown)


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
@click.option("--connectivity", is_flag=True, help="Also print who reaches whom on which port under the NetworkPolicies "
              "(give one cluster's folder, e.g. dist/<environment>).")
@handle_errors
def command(paths: tuple[Path, ...], crd_schemas: tuple[Path, ...], strict: bool, kubernetes_version: str, policy: bool,
            output_format: str, output: Path | None, allowed_registries: tuple[str, ...], require_digests: bool,
            connectivity: bool) -> None:
    """Validate Kubernetes YAML files and folders: strict schemas and cross-object checks (and --policy)."""
    catalog = SchemaCatalog(ValidationSettings(kubernetes_version, tuple(crd_schemas), strict))
    policy_failed = False
    whole_tree = policy or connectivity  # the policy report and the connectivity matrix read every object at once
    if whole_tree:
        manifests = load_manifests(paths)
        problems, unknown = validate_manifests(manifests, catalog)
        count = len(manifests)
    else:  # folder by folder: memory bounded by the largest folder (issue 22)
        problems, unknown, count = validate_by_folder(paths, lambda group: validate_manifests(group, catalog))
    for kind in unknown:
        click.echo(f"note: no schema for {kind}; not validated (give --crd-schemas DIR, or --strict to fail)", err=True)
    _note_skipped_rules(catalog)
    if policy:
        policy_failed = run_policy_check(manifests, paths, output_format=output_format, output=output,
                                         settings=PolicySettings(allowed_registries, require_digests)).failed
    if connectivity and not problems:  # the evaluator reads policies the schemas accepted
        from ..traffic.matrix import print_matrices

        print_matrices(manifests, paths)
    if problems:
        raise MlkubeError(problems, title=f"{count} objects validated, some are invalid", exit_code=EXIT_FINDINGS)
    if policy_failed:
        sys.exit(EXIT_FINDINGS)
    click.echo(f"{count} objects valid (Kubernetes {kubernetes_version}, strict)", err=policy and output is None)
