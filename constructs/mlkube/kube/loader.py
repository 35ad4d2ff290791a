"""Reading Kubernetes YAML from files, with line numbers for error messages, as the API server reads it.

- Bounded: a file and a whole command have limits on bytes, documents, values after alias expansion
  (each alias counted at every use, computed without expanding) and nesting depth. A file over a
  limit is refused before it is built; messages never contain the expanded values.
- Duplicate keys are errors with file:line (strict decoding refuses duplicate fields).
- Non-string keys become strings as sigs.k8s.io/yaml does when it turns YAML into JSON
  (yaml.go convertToJSONableObject: ints in decimal, floats with FormatFloat 'g' 32-bit, true/false);
  null and collection keys are refused. Plain scalars resolve as go-yaml v2 resolves them
  (``go_yaml_plain``: ``y`` is true, ``1:30`` a string, timestamps stay strings).
- Lists are expanded: any object with ``items`` (``kind: List``, ``PodList``...) decodes as a list
  (kubectl's unstructured decoding, apimachinery unstructured/helpers.go decode and decodeToList:
  an item without kind and apiVersion takes the list's kind without "List" and its apiVersion);
  each item is checked as an object of its own.
- A problem in one file never stops the others: ``load_manifests_isolated`` returns the objects of
  the good files and the problems of the bad ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import yaml

from ..errors import MlkubeError, Problem
from .manifest import Manifest
from .quick_loading import quick_documents
from .yaml_reading import ReadLimits, Refused, go_yaml_plain, inspect_document, json_value

__all__ = ["FastLoader", "LoadedManifest", "ReadLimits", "construct", "listed_files", "load_manifests", "load_manifests_isolated",
           "line_of", "plain_value", "read_file", "yaml_files"]

if TYPE_CHECKING:
    _BaseLoader = yaml.SafeLoader  # the same interface as CSafeLoader
else:
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class FastLoader(_BaseLoader):
    """libyaml's parser and composer, with PyYAML's implicit tag resolution memoized.

    The composer asks the (pure Python) resolver for the tag of every scalar; in manifests the same
    keys and values come back thousands of times, and the answer depends only on (value, implicit).
    """

    _resolved: ClassVar[dict[tuple[Any, ...], str]] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any, _scalar: Any = yaml.ScalarNode) -> str:
        if kind is _scalar:
            tag = self._resolved.get((value, implicit))
            if tag is not None:
                return tag
            tag = str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
            if len(self._resolved) < 200_000:
                self._resolved[(value, implicit)] = tag
            return tag
        return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]  # untyped in types-PyYAML


class ManifestLoader(FastLoader):
    """FastLoader resolving plain scalars as go-yaml v2 does (``go_yaml_plain``): the API server's
    reader (sigs.k8s.io/yaml) and kubectl's."""

    _plain: ClassVar[dict[str, tuple[str, Any]]] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any, _scalar: Any = yaml.ScalarNode) -> str:
        if kind is _scalar:
            if not implicit[0]:
                return _STR  # quoted: always a string
            found = self._plain.get(value)
            if found is None:
                found = go_yaml_plain(value)
                if len(self._plain) < 200_000:
                    self._plain[value] = found
            return found[0]
        return super().resolve(kind, value, implicit)


def _construct_go_scalar(loader: Any, node: yaml.ScalarNode) -> Any:
    return go_yaml_plain(node.value)[1]


for _name in ("int", "float", "bool", "null"):
    ManifestLoader.add_constructor(f"tag:yaml.org,2002:{_name}", _construct_go_scalar)


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
    #: Field path of the object inside a List (``items[2]``); empty for a document of its own.
    parent: str = ""

    def describe(self) -> str:
        own = super().describe()
        return f"{own} (List {self.parent})" if self.parent else own

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


def _documents(text: str, limits: ReadLimits, file_values: list[int]) -> Iterator[tuple[Any, Any]]:
    loader = ManifestLoader(text)
    try:
        count = 0
        characters = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # check_node() said a document follows
                break
            count += 1
            if count > limits.file_documents:
                raise Refused(node.start_mark.line + 1, f"refused: the file has more than {limits.file_documents} documents",
                               "split it into several files")
            values, size, tagged = inspect_document(node, loader, limits)
            loader.constructed_objects = {}  # keys read by _inspect were rewritten to strings since
            file_values[0] += values
            characters += size
            limits.used_values += values
            limits.used_documents += 1
            limits.used_characters += size
            if file_values[0] > limits.file_values or characters > limits.file_characters:
                raise Refused(node.start_mark.line + 1, f"refused: the file expands to more than {limits.file_values} values or "
                               f"{limits.file_characters} characters in all (aliases counted at every use)",
                               "remove the repeated aliases, or split the file")
            if limits.used_values > limits.command_values:
                raise Refused(node.start_mark.line + 1, f"refused: the files of this command expand to more than "
                               f"{limits.command_values} values in all", "validate fewer files at once")
            if limits.used_documents > limits.command_documents or limits.used_characters > limits.command_characters:
                raise Refused(node.start_mark.line + 1, f"refused: the files of this command hold more than "
                               f"{limits.command_documents} documents or {limits.command_characters} characters in all",
                               "validate fewer files at once")
            value = construct(node, loader)
            yield node, json_value(value) if tagged else value
    finally:
        loader.dispose()


def _list_items(node: Any, obj: dict[str, Any]) -> list[tuple[Any, Any]] | None:
    """(item node, item) of a list, or None when the object is not one: any object with an ``items``
    field decodes as a list (apimachinery unstructured/helpers.go, unstructuredJSONScheme.decode)."""
    if "items" not in obj:
        return None
    items = obj.get("items")
    item_nodes = _child(node, "items")
    nodes = item_nodes.value if isinstance(item_nodes, yaml.SequenceNode) else []
    if not isinstance(items, list):
        return []
    return [(nodes[index] if index < len(nodes) else node, item) for index, item in enumerate(items)]


def _child(node: Any, key: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        return next((value for k, value in node.value if getattr(k, "value", None) == key), None)
    return None


def _objects(shown: str, node: Any, obj: Any, problems: list[Problem], parent: str = "") -> Iterator[LoadedManifest]:
    line = node.start_mark.line + 1
    if not isinstance(obj, dict):
        problems.append(Problem(f"{shown}:{line}", parent, "a document must be a mapping (a Kubernetes object)"))
        return
    items = _list_items(node, obj)
    if items is None:
        # "where" identifies the object: List items written on one line still differ by their path.
        where = f"{shown}:{line}" + (f" {parent}" if parent else "")
        yield LoadedManifest(obj, where, file=shown, line=line, node=node, parent=parent)
        return
    if obj.get("items") is None:
        return  # items: null decodes as an empty list
    if not isinstance(obj.get("items"), list):
        problems.append(Problem(f"{shown}:{line}", "items", f"{obj.get('kind')}: items must be a list of objects"))
        return
    # decodeToList: an item with neither kind nor apiVersion (a typed list such as PodList) takes the
    # list's kind without its "List" suffix, and the list's apiVersion.
    item_kind, api_version = str(obj.get("kind") or "").removesuffix("List"), obj.get("apiVersion")
    for index, (item_node, item) in enumerate(items):
        if isinstance(item, dict) and not item.get("kind") and not item.get("apiVersion"):
            item = {**item, "apiVersion": api_version, "kind": item_kind}
        yield from _objects(shown, item_node, item, problems, f"{parent}items[{index}]")


def load_manifests_isolated(paths: Iterable[str | Path], limits: ReadLimits | None = None) -> tuple[list[LoadedManifest], list[Problem]]:
    """Every object of every YAML file, and the problems of files that could not be read (each file on its own)."""
    limits = limits or ReadLimits()
    manifests: list[LoadedManifest] = []
    files, problems = listed_files(paths)
    for path in files:
        found, found_problems = read_file(path, limits)
        manifests += found
        problems += found_problems
    return manifests, problems


def listed_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Problem]]:
    """Every YAML file under the paths given, and a problem for each path that is missing or holds none."""
    problems: list[Problem] = []
    files: list[Path] = []
    for given in paths:
        try:
            found = yaml_files([given])
        except MlkubeError as error:  # a missing path is reported with the others, never alone
            problems += error.problems
            continue
        if not found:
            problems.append(Problem(str(given), "", "holds no YAML files (.yaml or .yml)",
                                    "give the folder of the manifests, e.g. dist/"))
        files += found
    return files, problems


def read_file(path: Path, limits: ReadLimits) -> tuple[list[LoadedManifest], list[Problem]]:
    """The objects of one file (with their YAML nodes, for line numbers), or the problem that stopped it."""
    shown = str(path)
    manifests: list[LoadedManifest] = []
    problems: list[Problem] = []
    try:
        size = path.stat().st_size
        if size > limits.file_bytes:
            return [], [Problem(shown, "", f"refused: the file is too large ({size} bytes; at most {limits.file_bytes})",
                                "split it into several files")]
        text = path.read_bytes().decode("utf-8")
        # Plain files (no anchor, tag, duplicate key...) in one pass; the others inspected first.
        documents = quick_documents(text, limits)
        for node, obj in documents if documents is not None else _documents(text, limits, [0]):
            if obj is not None:
                manifests += _objects(shown, node, obj, problems)
    except Refused as refused:
        return [], [Problem(f"{shown}:{refused.line}", "", refused.message, refused.hint)]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
        return [], [Problem(where, "", f"not valid YAML: {str(getattr(error, 'problem', None) or error)[:200]}")]
    except (OSError, UnicodeDecodeError) as error:
        return [], [Problem(shown, "", f"cannot read: {str(error)[:200]}")]
    except RecursionError:
        return [], [Problem(shown, "", "refused: the file nests too deeply", "flatten the document")]
    return manifests, problems


def load_manifests(paths: Iterable[str | Path]) -> list[LoadedManifest]:
    """Load every object of every YAML file; raises MlkubeError listing files that do not parse."""
    manifests, problems = load_manifests_isolated(paths)
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
                return int(key_node.start_mark.line) + 1 if key_node is not None else int(current.start_mark.line) + 1
            current = match
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            current = current.value[part]
        else:
            break
    return int(current.start_mark.line) + 1
