"""Byte-preserving edits: replace image scalars in YAML text and nothing else."""

from __future__ import annotations

import json
from collections.abc import Mapping

from .scan import ImageScalar

__all__ = ["format_scalar", "rewrite_text"]


def format_scalar(value: str, style: str | None) -> str:
    """``value`` written in the style of the scalar it replaces (a digest reference is plain-safe)."""
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == '"':
        return json.dumps(value)
    return value


def rewrite_text(text: str, replacements: Mapping[ImageScalar, str]) -> str:
    """``text`` with each scalar's value replaced; every other character stays as it was."""
    pieces: list[str] = []
    position = 0
    for scalar in sorted(replacements, key=lambda s: s.start):
        pieces.append(text[position:scalar.start])
        pieces.append(format_scalar(replacements[scalar], scalar.style))
        position = scalar.end
    pieces.append(text[position:])
    return "".join(pieces)
