"""Blueprint files -> validated app definitions -> apps of a Platform.

Blueprints write field names in Kubernetes' camelCase (``minReplicas``), the alias every spec field has
(spec.yaml_key); they are validated by alias only, so Python's ``min_replicas`` is refused with the key to write.

Every problem of every file is collected (with file:line:column and field path) before anything
is built; under synth they join the platform's problems, so nothing is written.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..core.spec import Spec, in_yaml_casing, yaml_aliases
from ..errors import MlkubeError, Problem
from ..kube.field_path import field_path_text
from .document import BlueprintSpec, without_extensions
from .errors import problems_at
from .references import VolumeMount, take_references, volume_claims
from .registry import WorkloadKind, workload_kinds
from .source import ReadBudget, YamlDocument, read_yaml_documents

if TYPE_CHECKING:
    from ..core.platform import MlApp, Platform

__all__ = ["Blueprint", "Workload", "BLUEPRINT_FILE_NAME", "find_blueprint_files", "parse_blueprints",
           "load_blueprint_files", "load_blueprints"]

BLUEPRINT_FILE_NAME = "mlkube.yaml"


@dataclass(frozen=True)
class Workload:
    id: str
    kind: WorkloadKind
    spec: Spec
    where: str
    mounts: tuple[VolumeMount, ...] = ()
    #: (volume id, snapshot version) its model is served from (``model: {volume, path, version}``).
    served_versions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Blueprint:
    app: str
    environments: tuple[str, ...] | None
    workloads: tuple[Workload, ...]
    where: str
    document: YamlDocument

    def build(self, app: MlApp) -> None:
        """The app builder given to ``platform.app``: one construct per workload, as in Python, then the mounts."""
        first = len(app.problems)
        built = {workload.id: workload.kind.construct(app, workload.id, workload.spec) for workload in self.workloads}
        for workload in self.workloads:
            for mount in workload.mounts:
                built[workload.id].mount(built[mount.volume], read_only=mount.read_only, path=mount.path, env=mount.env)
            for volume_id, version in workload.served_versions:
                built[volume_id].model_uri(version=version)  # emits the claim restored from that snapshot version
        app.problems[first:] = [self._in_blueprint_terms(app, problem) for problem in app.problems[first:]]

    def _in_blueprint_terms(self, app: MlApp, problem: Problem) -> Problem:
        """A construct's problem about one of these workloads, as the blueprint's author reads it: field names in
        camelCase and the workload's file:line. Problems of the environment's overrides (Python) stay as they are."""
        workload = next((w for w in self.workloads if problem.where == f"{app.construct_path}/{w.id}"), None)
        if workload is None or problem.field.startswith("environments["):
            return problem
        aliases = yaml_aliases()
        return Problem(f"{problem.where} ({workload.where})", in_yaml_casing(problem.field, aliases),
                       in_yaml_casing(problem.message, aliases), in_yaml_casing(problem.hint, aliases))


def _shown(path: Path) -> str:
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def find_blueprint_files(root: str | Path) -> list[Path]:
    """Every ``mlkube.yaml`` under ``root`` (hidden folders skipped), in a stable order."""
    root = Path(root)
    return sorted(p for p in root.rglob(BLUEPRINT_FILE_NAME)
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _close(value: str, known: Iterable[str]) -> str:
    known = sorted(known)
    match = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else f"allowed: {', '.join(known)}"


def _workload(document: YamlDocument, workload_id: str, data: dict[str, Any], kinds: dict[str, WorkloadKind],
              claims: dict[str, str] | None = None) -> tuple[Workload | None, list[Problem]]:
    path = ("workloads", workload_id)
    kind_name = data.get("kind")
    if not isinstance(kind_name, str) or kind_name not in kinds:
        if kind_name is None:
            position = document.values.get(path, document.start)
            message = "a workload needs a 'kind'"
            hint = f"add kind: one of {', '.join(kinds)}"
        else:
            position = document.values.get((*path, "kind"), document.start)
            message = f"unknown workload kind {kind_name!r}"
            hint = _close(str(kind_name), kinds)
        return None, [Problem(document.where(position), field_path_text((*path, "kind")), message, hint)]
    kind = kinds[kind_name]
    fields = {key: value for key, value in data.items() if key != "kind"}
    from ..core.construct import MountsVolumes

    served: list[tuple[str, str]] = []
    mounts, problems = take_references(document, workload_id, kind_name, fields, claims or {}, issubclass(kind.construct, MountsVolumes),
                                       served)
    try:
        spec = kind.spec.model_validate(fields, by_alias=True, by_name=False)
    except ValidationError as error:
        return None, problems + problems_at(document, error, kind.spec, path)
    if problems:
        return None, problems
    return Workload(workload_id, kind, spec, document.where(document.keys.get(path, document.start)), tuple(mounts), tuple(served)), []


def _blueprint(document: YamlDocument, kinds: dict[str, WorkloadKind]) -> tuple[Blueprint | None, list[Problem]]:
    if not isinstance(document.data, dict):
        return None, [Problem(document.where(), "", f"a blueprint must be a mapping, got {type(document.data).__name__}",
                              "start the file with apiVersion: mlkube.dev/v1alpha1, kind: Blueprint, app: <name>")]
    try:
        spec = BlueprintSpec.model_validate(without_extensions(document.data), by_alias=True, by_name=False)
    except ValidationError as error:
        envelope_problems = problems_at(document, error, BlueprintSpec)
        # Workloads are checked even when the envelope is wrong: all errors of a file at once.
        given = document.data.get("workloads")
        given_claims = volume_claims(given) if isinstance(given, dict) else {}
        for workload_id, data in (given.items() if isinstance(given, dict) else ()):
            if isinstance(data, dict):
                envelope_problems += _workload(document, workload_id, data, kinds, given_claims)[1]
        return None, envelope_problems
    problems: list[Problem] = []
    workloads: list[Workload] = []
    claims = volume_claims(spec.workloads)
    for workload_id, data in spec.workloads.items():
        workload, found = _workload(document, workload_id, data, kinds, claims)
        problems += found
        if workload is not None:
            workloads.append(workload)
    if problems:
        return None, problems
    environments = tuple(spec.environments) if spec.environments is not None else None
    return Blueprint(spec.app, environments, tuple(workloads), document.where(), document), []


def parse_blueprints(path: Path, budget: ReadBudget | None = None) -> tuple[list[Blueprint], list[Problem]]:
    """The blueprints of one file (one per YAML document) and every problem in it."""
    shown = _shown(path)
    documents, problems = read_yaml_documents(path, shown, budget)
    if not documents and not problems:
        problems.append(Problem(shown, "", "the file holds no blueprint",
                                "start it with apiVersion: mlkube.dev/v1alpha1, kind: Blueprint, app: <name>"))
    kinds = workload_kinds()
    blueprints: list[Blueprint] = []
    for document in documents:
        blueprint, found = _blueprint(document, kinds)
        problems += found
        if blueprint is not None:
            blueprints.append(blueprint)
    return blueprints, problems


def load_blueprint_files(paths: Sequence[str | Path]) -> list[Blueprint]:
    """Parse and validate files; raises MlkubeError (exit code 2) with every problem of every file."""
    blueprints: list[Blueprint] = []
    problems: list[Problem] = []
    budget = ReadBudget()  # the limits hold for the whole command too
    for path in map(Path, paths):
        if not path.is_file():
            problems.append(Problem(str(path), "", "no such file", "give blueprint files such as apps/<team>/mlkube.yaml"))
            continue
        found, found_problems = parse_blueprints(path, budget)
        blueprints += found
        problems += found_problems
    problems += _duplicate_apps(blueprints, set())
    if problems:
        raise MlkubeError(problems, title="blueprints have errors")
    return blueprints


def _duplicate_apps(blueprints: Sequence[Blueprint], taken: set[str]) -> list[Problem]:
    problems = []
    first: dict[str, Blueprint] = {}
    for blueprint in blueprints:
        position = blueprint.document.values.get(("app",), blueprint.document.start)
        if blueprint.app in taken:
            problems.append(Problem(blueprint.document.where(position), "app", f"the app '{blueprint.app}' is already defined in Python",
                                    "give the blueprint's app another name"))
        elif blueprint.app in first:
            problems.append(Problem(blueprint.document.where(position), "app", f"the app '{blueprint.app}' is already defined at {first[blueprint.app].where}",
                                    "give each app one blueprint, with a unique name"))
        first.setdefault(blueprint.app, blueprint)
    return problems


def _unknown_environments(blueprint: Blueprint, known: Sequence[str]) -> list[Problem]:
    problems = []
    for index, name in enumerate(blueprint.environments or ()):
        if name not in known:
            position = blueprint.document.values.get(("environments", index), blueprint.document.start)
            problems.append(Problem(blueprint.document.where(position), f"environments[{index}]",
                                    f"the platform has no environment '{name}'", _close(name, known)))
    return problems


def load_blueprints(platform: Platform, root: str | Path = "apps") -> list[Blueprint]:
    """Define an app on ``platform`` for every blueprint under ``root``.

    Problems are added to ``platform.problems``: synth reports them with every other problem and
    writes nothing. Returns the blueprints that were valid.
    """
    files = find_blueprint_files(root)
    blueprints: list[Blueprint] = []
    problems: list[Problem] = []
    budget = ReadBudget()
    for path in files:
        found, found_problems = parse_blueprints(path, budget)
        blueprints += found
        problems += found_problems
    problems += _duplicate_apps(blueprints, {app.app_name for app in platform.apps})
    known = [environment.name for environment in platform.environments]
    for blueprint in blueprints:
        problems += _unknown_environments(blueprint, known)
    platform.problems.extend(problems)
    if problems:
        return []
    for blueprint in blueprints:
        platform.app(blueprint.app, blueprint.build, environments=blueprint.environments)
    return blueprints
