"""Kubernetes ``$(VAR)`` expansion, as the kubelet applies it to env values, command and args.

A port of kubernetes/kubernetes third_party/forked/golang/expansion/expand.go: ``$(NAME)`` becomes the value
of NAME when it is defined and stays as written when it is not; ``$$`` is an escaped ``$``; any other ``$``
is kept. (API reference, Container.args: "Variable references $(VAR_NAME) are expanded using the container's
environment. If a variable cannot be resolved, the reference in the input string will be unchanged.")
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["expand"]


def expand(text: str, variables: Mapping[str, str]) -> str:
    out: list[str] = []
    checkpoint = cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            read, is_variable, advance = _read_variable_name(text[cursor + 1:])
            out.append(variables.get(read, f"$({read})") if is_variable else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


def _read_variable_name(rest: str) -> tuple[str, bool, int]:
    if rest[0] == "$":
        return "$", False, 1  # escaped operator
    if rest[0] == "(":
        closer = rest.find(")", 1)
        if closer > 0:
            return rest[1:closer], True, closer + 1
        return "$(", False, 1  # incomplete reference: kept as written
    return "$" + rest[0], False, 1
