"""A small block-YAML emitter for the plain data mlkube renders, byte-identical to ``render``'s PyYAML path.

PyYAML's Python representer was the largest share of synth at 5,000 objects (issue 22). Objects
built by mlkube are plain ``dict``/``list``/``str``/``int``/``bool``/``None`` trees, and their layout
in block style is fixed: two-space mappings, sequences not indented under a key, ``{}``/``[]`` for
empty collections. This module writes that layout itself and asks PyYAML only how to write each
distinct scalar (quoting, literal blocks), memoized. Anything else (another type, a key that is not
a string, a very long scalar or key) raises ``Unsupported`` and the caller uses PyYAML for the whole
object. tests/test_emitter.py proves the bytes equal on every object of the tests, the bench and
generated data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["Unsupported", "emit_document", "plain_text", "MAX_KEY"]

#: Longest scalar written here: PyYAML folds longer lines at its ``width`` and complex-keys long keys (``? key``).
_MAX_SCALAR = 4096
MAX_KEY = 120
#: Strings that are plain in block context whatever PyYAML's checks: no indicator, space or ``:``; starting with a
#: letter, so not a number, a timestamp or ``.inf``. Words YAML 1.1 reads as booleans or null are excluded below.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_./-]*\Z")
_RESERVED_WORDS = frozenset(
    word for base in ("yes", "no", "true", "false", "on", "off", "null", "y", "n")
    for word in (base, base.capitalize(), base.upper()))


class Unsupported(Exception):
    """The object holds something this emitter does not prove it writes as PyYAML would."""


def emit_document(obj: dict[str, Any], header: tuple[str, ...], scalar: Callable[[Any], str], key: Callable[[str], str]) -> str:
    """``obj`` as a block YAML document: ``header`` keys first, the rest sorted. ``scalar(value)`` is PyYAML's
    rendering of one scalar as a mapping value at the top level (``k: <this>``), ``key(text)`` of one simple key."""
    if type(obj) is not dict or not obj:
        raise Unsupported("top level")
    items = [(name, obj[name]) for name in header if name in obj]
    rest = [(name, value) for name, value in obj.items() if name not in header]
    _check_keys(rest)
    items += sorted(rest)
    out: list[str] = []
    _Writer(out, scalar, key).mapping(items, 0, inline=False)
    return "".join(out)


def _check_keys(items: list[tuple[Any, Any]]) -> None:
    for key, _ in items:
        if type(key) is not str:
            raise Unsupported("key")


class _Writer:
    """Block style as PyYAML's emitter lays it out (indent 2, sequences under a key not indented)."""

    def __init__(self, out: list[str], scalar: Callable[[Any], str], key: Callable[[str], str]) -> None:
        self.out = out
        self.scalar = scalar
        self.key = key

    def mapping(self, items: list[tuple[Any, Any]], indent: int, inline: bool) -> None:
        pad = " " * indent
        for position, (key, value) in enumerate(items):
            if position or not inline:
                self.out.append(pad)
            self.out.append(self.key(key))  # the caller memoizes; plain_text() is its fast path
            self.out.append(":")
            self.value(value, indent)

    def sequence(self, values: list[Any], indent: int, inline: bool) -> None:
        pad = " " * indent
        for position, value in enumerate(values):
            if position or not inline:
                self.out.append(pad)
            self.out.append("- ")
            self.item(value, indent + 2)

    def value(self, value: Any, indent: int) -> None:
        """A mapping value after ``key:`` (the key is at ``indent``)."""
        kind = type(value)
        if kind is dict:
            if not value:
                self.out.append(" {}\n")
                return
            items = list(value.items())
            _check_keys(items)
            self.out.append("\n")
            self.mapping(sorted(items), indent + 2, inline=False)
        elif kind is list:
            if not value:
                self.out.append(" []\n")
                return
            self.out.append("\n")
            self.sequence(value, indent, inline=False)  # a sequence under a key is not indented
        else:
            self.out.append(" ")
            self.text(value, indent + 2)

    def item(self, value: Any, indent: int) -> None:
        """A sequence item after ``- ``; its content starts at ``indent``."""
        kind = type(value)
        if kind is dict:
            if not value:
                self.out.append("{}\n")
                return
            items = list(value.items())
            _check_keys(items)
            self.mapping(sorted(items), indent, inline=True)
        elif kind is list:
            if not value:
                self.out.append("[]\n")
                return
            self.sequence(value, indent, inline=True)
        else:
            self.text(value, indent)

    def text(self, value: Any, indent: int) -> None:
        """A scalar; a literal block's lines move from the reference indent (2) to ``indent``."""
        rendered = _scalar_text(value, self.scalar)
        if "\n" in rendered:
            extra = " " * (indent - 2)
            head, _, body = rendered.partition("\n")
            lines = [extra + line if line else line for line in body.split("\n")]
            rendered = head + "\n" + "\n".join(lines)
        self.out.append(rendered)
        self.out.append("\n")


def _scalar_text(value: Any, scalar: Callable[[Any], str]) -> str:
    kind = type(value)
    if kind is str:
        return scalar(value)  # the caller memoizes; plain_text() is its fast path
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return scalar(value)
    if value is None:
        return "null"
    raise Unsupported(f"type {kind.__name__}")


def plain_text(value: str, limit: int = _MAX_SCALAR) -> str | None:
    """``value`` itself when it is surely written plain; None when PyYAML must be asked; Unsupported when too long."""
    if len(value) > limit:
        raise Unsupported("long scalar or key")
    if _PLAIN.match(value) and value not in _RESERVED_WORDS:
        return value
    return None

