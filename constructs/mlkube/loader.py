"""Reading Kubernetes YAML from files, with line numbers for error messages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import MlkubeError, Problem
from .manifest import Manifest

__all__ = ["LoadedManifest", "load_manifests", "yaml_files", "line_of"]

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class LoadedManifest(Manifest):
    file: str = ""
    line: int = 0
    node: Any = None

    def line_of(self, field: str) -> int:
        return line_of(self.node, field) or self.line


def yaml_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every .yaml/.yml file under the given files and folders, in a stable order."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
                            and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            found.append(path)
        else:
            raise MlkubeError.single(f"{path} does not exist", hint="give files or folders of Kubernetes YAML")
    return found


def _documents(text: str) -> Iterator[tuple[Any, Any]]:
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            yield node, loader.construct_document(node)
    finally:
        loader.dispose()


def load_manifests(paths: Iterable[str | Path], root: Path | None = None) -> list[LoadedManifest]:
    """Load every object of every YAML file; raises MlkubeError listing files that do not parse."""
    manifests: list[LoadedManifest] = []
    problems: list[Problem] = []
    for path in yaml_files(paths):
        shown = str(path)
        try:
            for node, obj in _documents(path.read_text()):
                if obj is None:
                    continue
                line = node.start_mark.line + 1
                if not isinstance(obj, dict):
                    problems.append(Problem(f"{shown}:{line}", "", "a document must be a mapping (a Kubernetes object)"))
                    continue
                manifests.append(LoadedManifest(obj, f"{shown}:{line}", file=shown, line=line, node=node))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
            problems.append(Problem(where, "", f"not valid YAML: {getattr(error, 'problem', None) or error}"))
        except (OSError, UnicodeDecodeError) as error:
            problems.append(Problem(shown, "", f"cannot read: {error}"))
    if problems:
        raise MlkubeError(problems, title="some files could not be read")
    return manifests


def line_of(node: Any, field: str) -> int | None:
    """The line of ``spec.template.spec.containers[0].image`` inside a composed YAML node."""
    if node is None or not field:
        return None
    parts: list[str | int] = []
    for chunk in field.replace("]", "").split("."):
        for index, piece in enumerate(chunk.split("[")):
            parts.append(int(piece) if index and piece.isdigit() else piece)
    current = node
    for part in parts:
        if isinstance(current, yaml.MappingNode):
            match = next((value for key, value in current.value if key.value == part), None)
            if match is None:
                key_node = next((key for key, _ in current.value if key.value == part), None)
                return key_node.start_mark.line + 1 if key_node is not None else current.start_mark.line + 1
            current = match
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            current = current.value[part]
        else:
            break
    return current.start_mark.line + 1
