"""Reading Kubernetes YAML from files, with line numbers for error messages, as the API server reads it.

- Bounded: a file and a whole command have limits on bytes, documents, values after alias expansion
  (each alias counted at every use, computed without expanding) and nesting depth. A file over a
  limit is refused before it is built; messages never contain the expanded values.
- Duplicate keys are errors with file:line (strict decoding refuses duplicate fields).
- Non-string keys become strings as sigs.k8s.io/yaml does when it turns YAML into JSON
  (yaml.go convertToJSONableObject: ints in decimal, floats with FormatFloat 'g' 32-bit, true/false);
  null and collection keys are refused. Plain scalars resolve as go-yaml v2 resolves them
  (``go_yaml_plain``: ``y`` is true, ``1:30`` a string, timestamps stay strings).
- ``kind: List`` and every ``*List`` kind with ``items`` is expanded: each item is checked as an
  object of its own (kubectl's unstructured decoding, apimachinery unstructured.go decodeToList:
  an item without kind/apiVersion takes the list's kind without "List" and its apiVersion).
- A problem in one file never stops the others: ``load_manifests_isolated`` returns the objects of
  the good files and the problems of the bad ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datetime
import re
import struct
from decimal import Decimal

import yaml

from .errors import MlkubeError, Problem
from .manifest import Manifest

__all__ = ["FastLoader", "LoadedManifest", "ReadLimits", "construct", "load_manifests", "load_manifests_isolated", "line_of",
           "plain_value", "yaml_files"]

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


_TAG = "tag:yaml.org,2002:"
_GO_WORDS: dict[str, tuple[str, Any]] = {
    **{word: (_TAG + "bool", True) for word in ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")},
    **{word: (_TAG + "bool", False) for word in ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")},
    **{word: (_TAG + "null", None) for word in ("", "~", "null", "Null", "NULL")},
    **{word: (_TAG + "float", float("nan")) for word in (".nan", ".NaN", ".NAN")},
    **{word: (_TAG + "float", float("inf")) for word in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF")},
    **{word: (_TAG + "float", float("-inf")) for word in ("-.inf", "-.Inf", "-.INF")},
    "<<": (_TAG + "merge", "<<"),
}
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INT_DIGITS = {16: re.compile(r"[0-9a-fA-F]+"), 10: re.compile(r"[0-9]+"), 8: re.compile(r"[0-7]+"), 2: re.compile(r"[01]+")}


def _go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64), then ParseUint (no sign) as go-yaml v2 tries them; None when neither parses."""
    signed = text[:1] in "+-"
    body = text[1:] if signed else text
    prefix = body[:2].lower()
    if prefix in ("0x", "0b", "0o"):
        digits, base = body[2:], {"0x": 16, "0b": 2, "0o": 8}[prefix]
    elif body[:1] == "0" and len(body) > 1:
        digits, base = body[1:], 8
    else:
        digits, base = body, 10
    if not _INT_DIGITS[base].fullmatch(digits):
        return None
    number = int(digits, base) * (-1 if text[:1] == "-" else 1)
    if -(2**63) <= number < 2**63 or (not signed and number < 2**64):
        return number
    return None


def go_yaml_plain(value: str) -> tuple[str, Any]:
    """(tag, value) of a plain scalar as go-yaml v2 resolves it (resolve.go, v2.4.2; sigs.k8s.io/yaml uses it).

    Unlike PyYAML's YAML 1.1: ``y``/``n`` are booleans, ``1:30`` is a string (no base 60), ``1e3`` and
    ``09`` are floats, ``0o17`` is an int; timestamps stay strings (decode.go keeps them as strings
    when decoding into interface{}); ``=`` is a string."""
    if value in _GO_WORDS:
        return _GO_WORDS[value]
    first = value[:1]
    if first == "." and _YAML_FLOAT.fullmatch(value):
        return _TAG + "float", float(value)
    if first and first in "+-0123456789":
        plain = value.replace("_", "")
        number = _go_int(plain)
        if number is not None:
            return _TAG + "int", number
        if _YAML_FLOAT.fullmatch(plain) and abs(float(plain)) != float("inf"):  # ParseFloat refuses overflow
            return _TAG + "float", float(plain)
    return _TAG + "str", value


class ManifestLoader(FastLoader):
    """FastLoader resolving plain scalars as go-yaml v2 does (``go_yaml_plain``): the API server's
    reader (sigs.k8s.io/yaml) and kubectl's."""

    _plain: dict[str, tuple[str, Any]] = {}

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
    ManifestLoader.add_constructor(_TAG + _name, _construct_go_scalar)


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


@dataclass
class ReadLimits:
    """Bounds on what one command reads; ``used_*`` count across every file of the command."""

    #: Largest file read (bytes).
    file_bytes: int = 32 * 1024 * 1024
    #: Most documents in one file.
    file_documents: int = 20_000
    #: Most values one file expands to, aliases counted at every use (billion laughs stop here).
    file_values: int = 1_000_000
    #: Most characters of scalars one file expands to (a long string behind many aliases).
    file_characters: int = 64 * 1024 * 1024
    #: Most values all files of one command expand to.
    command_values: int = 4_000_000
    #: Most documents, and most characters of expanded scalars, in all files of one command.
    command_documents: int = 200_000
    command_characters: int = 512 * 1024 * 1024
    #: Deepest nesting of mappings and lists (the deepest CRD schemas nest about 60 levels).
    depth: int = 150
    used_values: int = 0
    used_documents: int = 0
    used_characters: int = 0


class _Refused(Exception):
    """A file breaks a limit or has a key the API server cannot read; the message never quotes values."""

    def __init__(self, line: int, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.line, self.message, self.hint = line, message, hint


_NODE_TYPES = (yaml.MappingNode, yaml.SequenceNode)


def _go_float_key(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 32) with go-yaml's spellings of infinities and NaN."""
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    single = struct.unpack("f", struct.pack("f", value))[0]
    text = ""
    for digits in range(9):  # the shortest text that reads back as the same float32
        text = f"{single:.{digits}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            break
    mantissa, _, exponent = text.partition("e")
    power = int(exponent)
    if -4 <= power < 6:  # Go's 'g' with shortest digits switches to %e at exponent 6 (eprec = 6)
        return format(Decimal(text).normalize(), "f") if single else "0"
    return f"{mantissa.rstrip('0').rstrip('.')}e{'+' if power >= 0 else '-'}{abs(power):02d}"


def _string_key(key: yaml.Node, loader: Any) -> str:
    """The JSON key sigs.k8s.io/yaml makes of a non-string YAML key (5 -> "5", true -> "true")."""
    line = key.start_mark.line + 1
    if not isinstance(key, yaml.ScalarNode):
        raise _Refused(line, "a key is a list or a mapping; JSON (and the API server) allow only string keys", "use a string key")
    try:
        value = loader.construct_object(key, deep=True)
    except (yaml.YAMLError, ValueError) as error:
        raise _Refused(line, f"the key cannot be read: {str(error)[:80]}", "quote the key") from None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float_key(value)
    if isinstance(value, str):
        return value
    raise _Refused(line, f"a {'null' if value is None else type(value).__name__} key cannot become a JSON key",
                   "quote the key to make it a string")


_PLAIN_TAGS = frozenset(_TAG + name for name in ("str", "int", "float", "bool", "null", "map", "seq", "merge"))


def _inspect(root: yaml.Node, loader: Any, limits: ReadLimits) -> tuple[int, int, bool]:
    """Check one document before it is built: its keys, and its expanded size and depth.

    Each distinct node is visited once (aliases share nodes), so a billion laughs costs its own size,
    not its expansion. Non-string keys are rewritten in place to the string the API server sees.
    Returns (values, characters) after expansion, and whether a node has another tag (!!binary, !!set...)."""
    size: dict[int, tuple[int, int, int]] = {}  # id -> (values, characters, height)
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    tagged = False
    while stack:
        node, done = stack.pop()
        ident = id(node)
        tagged = tagged or node.tag not in _PLAIN_TAGS
        if done:
            active.discard(ident)
            size[ident] = _combine(node, size, limits)
            continue
        if ident in size:
            continue
        if ident in active:
            raise _Refused(node.start_mark.line + 1, "an alias refers to a value that contains it (an endless value)",
                           "remove the self-referencing alias")
        if not isinstance(node, _NODE_TYPES):
            size[ident] = (1, len(node.value) if isinstance(node.value, str) else 0, 0)
            continue
        active.add(ident)
        stack.append((node, True))
        if isinstance(node, yaml.MappingNode):
            _check_keys(node, loader)
            stack += [(child, False) for pair in node.value for child in pair]
        else:
            stack += [(child, False) for child in node.value]
    values, characters, _ = size[id(root)]
    return values, characters, tagged


def _jsonable(value: Any) -> Any:
    """What JSON conversion makes of values of other YAML tags (sigs.k8s.io/yaml over go-yaml v2):
    !!binary the decoded text, !!timestamp RFC 3339 text, !!set a mapping to nulls, !!omap/!!pairs
    a list of one-key mappings."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, tuple) and len(value) == 2:
        return {value[0]: _jsonable(value[1])}
    if isinstance(value, set):
        return {str(item): None for item in sorted(value, key=str)}
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime.datetime):
        text = value.isoformat()
        return text.replace("+00:00", "Z") if value.tzinfo else text + "Z"
    if isinstance(value, datetime.date):
        return f"{value.isoformat()}T00:00:00Z"
    return value


def _combine(node: yaml.Node, size: dict[int, tuple[int, int, int]], limits: ReadLimits) -> tuple[int, int, int]:
    children = [child for pair in node.value for child in pair] if isinstance(node, yaml.MappingNode) else node.value
    values, characters, height = 1, 0, 0
    for child in children:
        child_values, child_characters, child_height = size[id(child)]
        values, characters, height = values + child_values, characters + child_characters, max(height, child_height + 1)
    line = node.start_mark.line + 1
    if height > limits.depth:
        raise _Refused(line, f"refused: the document nests deeper than {limits.depth} levels", "flatten the document")
    if values > limits.file_values or characters > limits.file_characters:
        raise _Refused(line, f"refused: the document expands to more than {limits.file_values} values or "
                             f"{limits.file_characters} characters (aliases counted at every use)",
                       "remove the repeated aliases, or split the file")
    return values, characters, height


def _check_keys(node: yaml.MappingNode, loader: Any) -> None:
    seen: dict[str, int] = {}
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode) and key.tag == _MERGE:
            continue
        if not (isinstance(key, yaml.ScalarNode) and key.tag == _STR):
            text = _string_key(key, loader)
            key.tag, key.value = _STR, text  # the composed node now reads as the API server reads it
        line = key.start_mark.line + 1
        if key.value in seen:
            raise _Refused(line, f"duplicate key {key.value[:60]!r} (first on line {seen[key.value]})",
                           "the API server refuses duplicate fields; keep one of them")
        seen[key.value] = line


_MERGE = "tag:yaml.org,2002:merge"


def _documents(text: str, limits: ReadLimits, file_values: list[int]) -> Iterator[tuple[Any, Any]]:
    loader = ManifestLoader(text)
    try:
        count = 0
        characters = 0
        while loader.check_node():
            node = loader.get_node()
            count += 1
            if count > limits.file_documents:
                raise _Refused(node.start_mark.line + 1, f"refused: the file has more than {limits.file_documents} documents",
                               "split it into several files")
            values, size, tagged = _inspect(node, loader, limits)
            loader.constructed_objects = {}  # keys read by _inspect were rewritten to strings since
            file_values[0] += values
            characters += size
            limits.used_values += values
            limits.used_documents += 1
            limits.used_characters += size
            if file_values[0] > limits.file_values or characters > limits.file_characters:
                raise _Refused(node.start_mark.line + 1, f"refused: the file expands to more than {limits.file_values} values or "
                               f"{limits.file_characters} characters in all (aliases counted at every use)",
                               "remove the repeated aliases, or split the file")
            if limits.used_values > limits.command_values:
                raise _Refused(node.start_mark.line + 1, f"refused: the files of this command expand to more than "
                               f"{limits.command_values} values in all", "validate fewer files at once")
            if limits.used_documents > limits.command_documents or limits.used_characters > limits.command_characters:
                raise _Refused(node.start_mark.line + 1, f"refused: the files of this command hold more than "
                               f"{limits.command_documents} documents or {limits.command_characters} characters in all",
                               "validate fewer files at once")
            value = construct(node, loader)
            yield node, _jsonable(value) if tagged else value
    finally:
        loader.dispose()


def _list_items(node: Any, obj: dict[str, Any]) -> list[tuple[Any, Any]] | None:
    """(item node, item) of a List, or None when the object is not a list (k8s: a kind ending in List, with items)."""
    kind = obj.get("kind")
    if not (isinstance(kind, str) and kind.endswith("List") and "items" in obj):
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
    if not isinstance(obj.get("items"), list):
        problems.append(Problem(f"{shown}:{line}", "items", f"{obj.get('kind')}: items must be a list of objects"))
        return
    item_kind, api_version = str(obj["kind"])[: -len("List")], obj.get("apiVersion")
    for index, (item_node, item) in enumerate(items):
        if isinstance(item, dict) and item_kind and not item.get("kind"):
            item = {"apiVersion": api_version, "kind": item_kind, **item}  # a typed list (PodList) names its items' kind
        yield from _objects(shown, item_node, item, problems, f"{parent}items[{index}]")


def load_manifests_isolated(paths: Iterable[str | Path], limits: ReadLimits | None = None) -> tuple[list[LoadedManifest], list[Problem]]:
    """Every object of every YAML file, and the problems of files that could not be read (each file on its own)."""
    limits = limits or ReadLimits()
    manifests: list[LoadedManifest] = []
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
    for path in files:
        found, found_problems = _read_file(path, limits)
        manifests += found
        problems += found_problems
    return manifests, problems


def _read_file(path: Path, limits: ReadLimits) -> tuple[list[LoadedManifest], list[Problem]]:
    shown = str(path)
    manifests: list[LoadedManifest] = []
    problems: list[Problem] = []
    try:
        size = path.stat().st_size
        if size > limits.file_bytes:
            return [], [Problem(shown, "", f"refused: the file is too large ({size} bytes; at most {limits.file_bytes})",
                                "split it into several files")]
        text = path.read_bytes().decode("utf-8")
        for node, obj in _documents(text, limits, [0]):
            if obj is not None:
                manifests += _objects(shown, node, obj, problems)
    except _Refused as refused:
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


def load_manifests(paths: Iterable[str | Path], root: Path | None = None) -> list[LoadedManifest]:
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
                return key_node.start_mark.line + 1 if key_node is not None else current.start_mark.line + 1
            current = match
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            current = current.value[part]
        else:
            break
    return current.start_mark.line + 1
