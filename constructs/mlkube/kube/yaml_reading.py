"""YAML as the API server reads it, and the bounds on reading it (used by ``mlkube.kube.loader``).

- go-yaml v2 resolution of plain scalars (``go_yaml_plain``; yaml/go-yaml resolve.go v2.4.2, which
  sigs.k8s.io/yaml uses): ``y`` is true, ``1:30`` a string, ``1e3`` a number, ``0o17`` an int.
- JSON conversion as sigs.k8s.io/yaml does it (yaml.go convertToJSONableObject): non-string keys
  become strings (ints in decimal, floats with FormatFloat 'g' 32-bit, true/false), null and
  collection keys are refused; values of other tags become JSON values (``json_value``).
- Bounds (``ReadLimits``): each document is inspected before it is built; every distinct node is
  visited once, so an alias bomb costs its written size, and nothing quotes expanded values.
"""

from __future__ import annotations

import datetime
import re
import struct
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml

__all__ = ["ReadLimits", "Refused", "go_yaml_plain", "inspect_document", "json_value"]

_STR = "tag:yaml.org,2002:str"

_TAG = "tag:yaml.org,2002:"
_GO_WORDS: dict[str, tuple[str, Any]] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), (_TAG + "bool", True)),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), (_TAG + "bool", False)),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), (_TAG + "null", None)),
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


class Refused(Exception):
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
        raise Refused(line, "a key is a list or a mapping; JSON (and the API server) allow only string keys", "use a string key")
    try:
        value = loader.construct_object(key, deep=True)
    except (yaml.YAMLError, ValueError) as error:
        raise Refused(line, f"the key cannot be read: {str(error)[:80]}", "quote the key") from None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float_key(value)
    if isinstance(value, str):
        return value
    raise Refused(line, f"a {'null' if value is None else type(value).__name__} key cannot become a JSON key",
                   "quote the key to make it a string")


_PLAIN_TAGS = frozenset(_TAG + name for name in ("str", "int", "float", "bool", "null", "map", "seq", "merge"))


def inspect_document(root: yaml.Node, loader: Any, limits: ReadLimits) -> tuple[int, int, bool]:
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
            raise Refused(node.start_mark.line + 1, "an alias refers to a value that contains it (an endless value)",
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


def json_value(value: Any) -> Any:
    """What JSON conversion makes of values of other YAML tags (sigs.k8s.io/yaml over go-yaml v2):
    !!binary the decoded text, !!timestamp RFC 3339 text, !!set a mapping to nulls, !!omap/!!pairs
    a list of one-key mappings."""
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_value(item) for item in value]
    if isinstance(value, tuple) and len(value) == 2:
        return {value[0]: json_value(value[1])}
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
        raise Refused(line, f"refused: the document nests deeper than {limits.depth} levels", "flatten the document")
    if values > limits.file_values or characters > limits.file_characters:
        raise Refused(line, f"refused: the document expands to more than {limits.file_values} values or "
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
            raise Refused(line, f"duplicate key {key.value[:60]!r} (first on line {seen[key.value]})",
                           "the API server refuses duplicate fields; keep one of them")
        seen[key.value] = line


_MERGE = "tag:yaml.org,2002:merge"
