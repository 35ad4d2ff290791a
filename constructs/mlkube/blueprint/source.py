"""Reading a YAML file into plain data plus the position of every key and value, safely.

Hostile input is refused early and clearly: files above MAX_FILE_BYTES, documents that expand
(through aliases) to more than MAX_NODES values or nest deeper than MAX_DEPTH, duplicate keys,
non-string keys and custom tags. Scalars follow the YAML 1.2 core schema (``yes``/``on`` stay
strings, dates stay strings), which is what yaml-language-server and editors assume.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..errors import Problem
from ..kube.field_path import field_path_text

__all__ = ["YamlDocument", "Position", "ReadBudget", "read_yaml_documents", "MAX_FILE_BYTES", "MAX_NODES", "MAX_DEPTH",
           "MAX_FILE_NODES", "MAX_COMMAND_NODES"]

#: Larger blueprint files are refused before parsing (a blueprint is a page or two of YAML).
MAX_FILE_BYTES = 1024 * 1024
#: Most values a document may expand to, aliases counted at every use (billion laughs stop here).
MAX_NODES = 10_000
#: Deepest nesting of mappings and sequences.
MAX_DEPTH = 64
#: Most values all documents of one file may expand to: the limits hold per file, not only per document.
MAX_FILE_NODES = 50_000
#: Most values all blueprint files of one command may expand to.
MAX_COMMAND_NODES = 500_000


@dataclass
class ReadBudget:
    """Values expanded so far by one command (every file and document counted)."""

    command_nodes: int = 0

DataPath = tuple[str | int, ...]

_STR, _INT, _FLOAT, _BOOL, _NULL = (f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ, _MERGE = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:merge"

_CORE_RESOLVERS = [
    (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (_INT, r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (_FLOAT, r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+.0123456789"),
    (_NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (_MERGE, r"^(?:<<)$", "<"),
]


if TYPE_CHECKING:
    _LibyamlLoader = yaml.SafeLoader  # the same interface as CSafeLoader
else:
    _LibyamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CoreLoader(_LibyamlLoader):
    """PyYAML's parser and composer (C when available) with YAML 1.2 core-schema scalar resolution."""

    yaml_implicit_resolvers: dict[Any, list[Any]] = {}  # noqa: RUF012  (PyYAML's per-class resolver table)


for _tag, _pattern, _first in _CORE_RESOLVERS:
    _CoreLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


@dataclass(frozen=True)
class Position:
    """1-based line and column of a node."""

    line: int
    column: int

    @classmethod
    def of(cls, node: yaml.Node) -> Position:
        return cls(node.start_mark.line + 1, node.start_mark.column + 1)


@dataclass
class YamlDocument:
    """One YAML document: its data, and where each key (``keys``) and value (``values``) starts."""

    file: str
    data: Any
    start: Position
    values: dict[DataPath, Position] = field(default_factory=dict)
    keys: dict[DataPath, Position] = field(default_factory=dict)

    def where(self, position: Position | None = None) -> str:
        position = position or self.start
        return f"{self.file}:{position.line}:{position.column}"


class _TooLarge(Exception):
    """Raised inside the walk when a limit is hit; becomes one problem for the document."""


class _FileTooLarge(_TooLarge):
    """A limit of the whole file or command: the rest of the file is not read."""


@dataclass
class _Builder:
    """Turns a composed node tree into plain data, recording positions and problems."""

    document: YamlDocument
    problems: list[Problem]
    count: int = 0
    #: [values of the file so far]; shared by the builders of one file.
    file_count: list[int] = field(default_factory=lambda: [0])
    budget: ReadBudget = field(default_factory=ReadBudget)

    def _enter(self, depth: int) -> None:
        """Count every value as it is built (an alias at every use) and refuse at the limits."""
        self.count += 1
        self.file_count[0] += 1
        self.budget.command_nodes += 1
        if self.file_count[0] > MAX_FILE_NODES:
            raise _FileTooLarge(f"the file expands to more than {MAX_FILE_NODES} values in all its documents "
                                "(aliases counted at every use)")
        if self.budget.command_nodes > MAX_COMMAND_NODES:
            raise _FileTooLarge(f"the blueprint files expand to more than {MAX_COMMAND_NODES} values in all")
        if self.count > MAX_NODES:
            raise _TooLarge(f"the document expands to more than {MAX_NODES} values (aliases counted at every use)")
        if depth > MAX_DEPTH:
            raise _TooLarge(f"the document nests deeper than {MAX_DEPTH} levels")

    def build(self, node: yaml.Node, path: DataPath, depth: int) -> Any:
        self._enter(depth)
        self.document.values[path] = Position.of(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                self._bad_tag(node, path)
                return None
            return [self.build(item, (*path, index), depth + 1) for index, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _problem(self, node: yaml.Node, path: DataPath, message: str, hint: str = "") -> None:
        self.problems.append(Problem(self.document.where(Position.of(node)), field_path_text(path), message, hint))

    def _bad_tag(self, node: yaml.Node, path: DataPath) -> None:
        self._problem(node, path, f"the YAML tag {node.tag!r} is not supported here",
                      "blueprints use plain strings, numbers, booleans, lists and mappings; remove the tag")
        return

    def _scalar(self, node: yaml.Node, path: DataPath) -> Any:
        text, tag = node.value, node.tag
        try:
            if tag == _STR:
                return text
            if tag == _NULL:
                return None
            if tag == _BOOL:
                return text.lower() == "true"
            if tag == _INT:
                if text.startswith(("0o", "0x")):
                    return int(text[2:], 8 if text[1] == "o" else 16)
                return int(text)
            if tag == _FLOAT:
                return float(text.replace(".inf", "inf").replace(".Inf", "inf").replace(".INF", "inf").lower().replace(".nan", "nan"))
        except ValueError as error:  # e.g. an integer with more than 4300 digits
            self._problem(node, path, f"the number cannot be read: {error}", "use a smaller number, or quote it to make it a string")
            return None
        self._bad_tag(node, path)
        return None

    def _key(self, node: yaml.Node, path: DataPath) -> str | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == _STR:
            return str(node.value)
        shown = node.value if isinstance(node, yaml.ScalarNode) else type(node).__name__.replace("Node", "").lower()
        self._problem(node, path, f"a key must be a string, got {shown!r}", "quote the key, e.g. \"1\": value")
        return None

    def _mapping(self, node: yaml.MappingNode, path: DataPath, depth: int) -> dict[str, Any] | None:
        if node.tag != _MAP:
            self._bad_tag(node, path)
            return None
        # Merge keys (<<: *base) first, the explicit keys last: positions are assigned as values are
        # built, so each key points at the value that is kept (explicit keys win, then earlier merges).
        result: dict[str, Any] = {}
        merged = [value for key, value in node.value if isinstance(key, yaml.ScalarNode) and key.tag == _MERGE]
        sources = [item for value in merged for item in (value.value if isinstance(value, yaml.SequenceNode) else [value])]
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                self._problem(source, path, "a merge key (<<) needs a mapping or a list of mappings")
                continue
            self._enter(depth + 1)
            result.update(self._mapping(source, path, depth + 1) or {})
        explicit: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _MERGE:
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in explicit:
                self._problem(key_node, (*path, key), f"duplicate key '{key}'",
                              f"it is already set on line {Position.of(explicit[key]).line}; keep one of them")
            explicit.setdefault(key, key_node)
            self.document.keys[(*path, key)] = Position.of(key_node)
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result


def read_yaml_documents(path: Path, shown: str | None = None, budget: ReadBudget | None = None) -> tuple[list[YamlDocument], list[Problem]]:
    """Every non-empty document of a YAML file, and every problem found while reading it."""
    shown = shown or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return [], [Problem(shown, "", f"the file is too large ({size} bytes; at most {MAX_FILE_BYTES})",
                                "split it into several apps/<team>/mlkube.yaml files")]
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return [], [Problem(shown, "", f"cannot read the file: {error}", "blueprints are UTF-8 text files")]
    return parse_yaml_documents(text, shown, budget)


def parse_yaml_documents(text: str, shown: str, budget: ReadBudget | None = None) -> tuple[list[YamlDocument], list[Problem]]:
    """Like read_yaml_documents, for text already in memory."""
    documents: list[YamlDocument] = []
    problems: list[Problem] = []
    file_count = [0]
    budget = budget or ReadBudget()
    loader = _CoreLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL):
                continue  # an empty document (e.g. a trailing '---')
            document = YamlDocument(shown, None, Position.of(node))
            builder = _Builder(document, problems, file_count=file_count, budget=budget)
            try:
                document.data = builder.build(node, (), 0)
            except _TooLarge as error:
                problems.append(Problem(document.where(), "", f"refused: {error}",
                                        "blueprints are small; remove the repeated aliases or the deep nesting"))
                if isinstance(error, _FileTooLarge):
                    break
                continue
            documents.append(document)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
        problem = getattr(error, "problem", None) or str(error)
        problems.append(Problem(where, "", f"not valid YAML: {problem}", "check the indentation and quoting around this line"))
    finally:
        loader.dispose()
    return documents, problems
