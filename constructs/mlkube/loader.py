"""Reading Kubernetes YAML from files, with line numbers for error messages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import MlkubeError, Problem
from .manifest import Manifest

__all__ = ["FastLoader", "LoadedManifest", "construct", "load_manifests", "line_of", "plain_value", "yaml_files"]

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class FastLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """libyaml's parser and composer, with PyYAML's implicit tag resolution memoized.

    The composer asks the (pure Python) resolver for the tag of every scalar; in manifests the same
    keys and values come back thousands of times, and the answer depends only on (value, implicit).
    """

    _resolved: dict[tuple[Any, ...], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any, _scalar: Any = yaml.ScalarNode) -> str:
        if kind is _scalar:
            tag = self._resolved.get((value, implicit))
            if tag is not None:
                return tag
            tag = super().resolve(kind, value, implicit)
            if len(self._resolved) < 200_000:
                self._resolved[(value, implicit)] = tag
            return tag  # type: ignore[no-any-return]
        return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]


def plain_value(node: yaml.Node, loader: Any) -> Any:
    """What ``construct_document`` gives, about twice as fast for the plain strings, mappings and lists
    that manifests are made of; any other node (numbers, merge keys, tags) goes to PyYAML's constructor."""
    kind = type(node)
    if kind is yaml.ScalarNode and node.tag == _STR:
        return node.value
    if kind is yaml.MappingNode and node.tag == _MAP:
        result = {}
        for key, value in node.value:
            if type(key) is not yaml.ScalarNode or key.tag != _STR:
                return loader.construct_object(node, deep=True)
            result[key.value] = plain_value(value, loader)
        return result
    if kind is yaml.SequenceNode and node.tag == _SEQ:
        return [plain_value(item, loader) for item in node.value]
    return loader.construct_object(node, deep=True)


def construct(node: yaml.Node, loader: Any) -> Any:
    """One document's value from its node (an alias that contains itself goes to PyYAML)."""
    try:
        value = plain_value(node, loader)
    except RecursionError:
        value = loader.construct_document(node)
    loader.constructed_objects, loader.recursive_objects = {}, {}
    return value


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
    loader = FastLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            yield node, construct(node, loader)
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
