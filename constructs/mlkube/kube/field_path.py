"""The one field-path format of every message: ``("spec", "containers", 0, "image")`` -> ``spec.containers[0].image``."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["field_path_text"]


def field_path_text(path: Iterable[object]) -> str:
    """List indexes in brackets, keys joined by dots (keys holding dots, such as ``nvidia.com/gpu``, stay as they are)."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + str(part)
    return text
