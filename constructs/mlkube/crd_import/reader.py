"""Reading CustomResourceDefinitions from YAML files, with file:line for every problem."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MlkubeError, Problem
from ..kube.loader import LoadedManifest, load_manifests

__all__ = ["ServedVersion", "read_served_versions"]

_CRD_API_VERSION = "apiextensions.k8s.io/v1"


@dataclass(frozen=True)
class ServedVersion:
    """One served version of one CRD, and where it was defined."""

    group: str
    kind: str
    version: str
    open_api: dict[str, Any]
    where: str

    @property
    def relative_path(self) -> str:
        """``{group}/{kind lower}_{version}.json``: the layout of kubeconform and the CRD catalog."""
        return f"{self.group}/{self.kind.lower()}_{self.version}.json"


def read_served_versions(paths: Iterable[str | Path], *, skip_other_kinds: bool = False) -> list[ServedVersion]:
    """Every served version of every CRD in ``paths``; raises MlkubeError listing all problems."""
    paths = list(paths)
    manifests = load_manifests(paths)
    problems: list[Problem] = []
    versions: list[ServedVersion] = []
    crds = 0
    for manifest in manifests:
        if not _is_crd(manifest):
            if not skip_other_kinds:
                problems.append(_not_a_crd(manifest))
            continue
        crds += 1
        versions += _served_versions(manifest, problems)
    problems += _duplicates(versions)
    if not problems and not versions:
        what = "no served version in any CustomResourceDefinition" if crds else "no CustomResourceDefinition found"
        problems.append(Problem(", ".join(map(str, paths)), "", what, "give apiextensions.k8s.io/v1 CustomResourceDefinition files"))
    if problems:
        raise MlkubeError(problems, title="cannot import these CustomResourceDefinitions")
    return versions


def _is_crd(manifest: LoadedManifest) -> bool:
    return manifest.kind == "CustomResourceDefinition" and str(manifest.obj.get("apiVersion", "")).startswith("apiextensions.k8s.io/")


def _problem(manifest: LoadedManifest, field: str, message: str, hint: str = "") -> Problem:
    return Problem(f"{manifest.file}:{manifest.line_of(field)}", field, message, hint)


def _not_a_crd(manifest: LoadedManifest) -> Problem:
    what = f"{manifest.kind or 'a document without kind'}" + (f" {manifest.name!r}" if manifest.name else "")
    return _problem(manifest, "kind", f"{what} is not a CustomResourceDefinition",
                    "give only CRD files, or --skip-other-kinds to ignore other objects (an operator's install bundle)")


def _string(manifest: LoadedManifest, field: str, problems: list[Problem]) -> str | None:
    value: Any = manifest.obj
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str) and value:
        return value
    problems.append(_problem(manifest, field, f"{field} is missing or not a string", "a CRD needs spec.group and spec.names.kind"))
    return None


def _served_versions(manifest: LoadedManifest, problems: list[Problem]) -> Iterator[ServedVersion]:
    api_version = manifest.obj.get("apiVersion")
    if api_version != _CRD_API_VERSION:
        problems.append(_problem(manifest, "apiVersion", f"{api_version} CustomResourceDefinitions are not supported",
                                 f"convert it to {_CRD_API_VERSION} (controller-gen crd:crdVersions=v1)"))
        return
    group = _string(manifest, "spec.group", problems)
    kind = _string(manifest, "spec.names.kind", problems)
    versions = (manifest.obj.get("spec") or {}).get("versions")
    if not isinstance(versions, list) or not versions:
        problems.append(_problem(manifest, "spec.versions", "spec.versions is missing or empty", "list at least one version with a schema"))
        return
    if group is None or kind is None:
        return
    for index, entry in enumerate(versions):
        field = f"spec.versions[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            problems.append(_problem(manifest, field, f"{field} has no name", "each version needs a name"))
            continue
        if entry.get("served") is False:
            continue  # not served: the API server accepts no object of this version
        open_api = (entry.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(open_api, dict):
            problems.append(_problem(manifest, f"{field}.schema", f"version {entry['name']!r} of {kind} has no schema.openAPIV3Schema",
                                     "a served version needs a structural schema (without one nothing can be checked)"))
            continue
        shape = [_problem(manifest, where, message, "every schema in a CRD is a mapping")
                 for where, message in _shape_problems(open_api, f"{field}.schema.openAPIV3Schema")]
        problems += shape
        if not shape:
            yield ServedVersion(group, kind, entry["name"], open_api, f"{manifest.file}:{manifest.line_of(field)}")


def _shape_problems(node: dict[str, Any], field: str) -> Iterator[tuple[str, str]]:
    """Sub-schemas that are not mappings (``properties: {port: null}``), which nothing can convert."""
    children: list[tuple[str, Any]] = []
    for key in ("properties", "patternProperties"):
        if isinstance(node.get(key), dict):
            children += [(f"{field}.{key}.{name}", sub) for name, sub in node[key].items()]
        elif key in node:
            yield f"{field}.{key}", f"{key} must be a mapping of names to schemas"
    for key in ("items", "additionalProperties", "not"):
        if key in node and not (key == "additionalProperties" and isinstance(node[key], bool)):
            children.append((f"{field}.{key}", node[key]))
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            children += [(f"{field}.{key}[{index}]", sub) for index, sub in enumerate(node[key])]
        elif key in node:
            yield f"{field}.{key}", f"{key} must be a list of schemas"
    for where, sub in children:
        if isinstance(sub, dict):
            yield from _shape_problems(sub, where)
        else:
            yield where, f"a schema must be a mapping, not {type(sub).__name__} ({sub!r})"


def _duplicates(versions: list[ServedVersion]) -> Iterator[Problem]:
    first: dict[str, ServedVersion] = {}
    for version in versions:
        seen = first.setdefault(version.relative_path, version)
        if seen is not version:
            yield Problem(version.where, "", f"{version.kind} {version.group}/{version.version} is defined twice (also at {seen.where})",
                          "give each CRD once")
