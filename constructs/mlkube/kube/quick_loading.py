"""The quick path of ``mlkube.loader``: plain files read in one pass, with the same result as the careful one.

The careful reader (``loader._documents``) inspects every document before building it: aliases counted at
every use, duplicate and non-string keys, depth, other tags. Most files have none of these. The quick
walk builds the plain dicts and checks what the careful reader checks; values and characters are counted
where libyaml asks for each node's tag, which it does once for every node without an explicit tag. A walk
that meets a node twice (an alias) or more nodes than were resolved (an explicit tag) stops at once. Any
of these (an alias, a tag, a duplicate or non-string key, a merge key, a limit reached, a YAML error)
returns None and the careful reader reads the file again, so messages and refusals stay exactly its own.
Issue 22: ``mlkube validate`` spent about 0.4 ms per object in the inspection and the Python resolver.
"""

from __future__ import annotations

import operator
from typing import Any

import yaml

from .yaml_reading import ReadLimits, go_yaml_plain

__all__ = ["quick_documents"]

_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_Scalar, _Mapping = yaml.ScalarNode, yaml.MappingNode
#: Nesting the quick walk accepts; deeper files go to the careful reader, which states the limit.
_DEPTH = 100
#: go-yaml v2 resolution of plain scalars (tag, value), shared by every file of the process.
_PLAIN: dict[str, tuple[str, Any]] = {}
_PLAIN_BOUND = 200_000
#: Tags the quick walk builds itself: strings, and plain scalars resolved by ``go_yaml_plain``.
_BUILT = frozenset(("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"))
_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Unusual(Exception):
    """The file needs the careful reader."""


class _CountingLoader(_BaseLoader):  # type: ignore[misc]
    """libyaml's composer; tags resolved as go-yaml v2 does, every node and scalar character counted."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.values = 0
        self.characters = 0

    # libyaml's composer calls these two hooks for every node, for path resolvers that manifests never use
    # (PyYAML _yaml.pyx _compose_node); builtins that ignore their arguments cost less than the Python ones.
    descend_resolver = staticmethod(operator.is_)
    ascend_resolver = staticmethod(tuple)

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        self.values += 1
        if kind is _Scalar:
            self.characters += len(value)
            if not implicit[0]:
                return _STR  # quoted: always a string
            found = _PLAIN.get(value)
            if found is None:
                found = go_yaml_plain(value)
                if len(_PLAIN) < _PLAIN_BOUND:
                    _PLAIN[value] = found
            return found[0]
        return _MAP if kind is _Mapping else _SEQ


def _build(node: Any, depth: int, budget: list[int]) -> Any:
    """The node's value; ``budget`` is the count of nodes libyaml resolved and not yet visited. A node seen
    twice (an alias) or never resolved (an explicit tag) leaves it short: the walk stops at once (an alias
    bomb costs no more than its written size) or ends with a remainder; either way the file is unusual."""
    kind = type(node)
    if kind is _Scalar:
        if node.tag == _STR:
            return node.value
        if node.tag in _BUILT:
            return (_PLAIN.get(node.value) or go_yaml_plain(node.value))[1]
        raise _Unusual  # a merge key written as a value, or a tag of its own
    if depth > _DEPTH:
        raise _Unusual
    children = node.value
    budget[0] -= 2 * len(children) if kind is _Mapping else len(children)
    if budget[0] < 0:
        raise _Unusual
    if kind is _Mapping:
        result = {}
        for key, value in children:
            if type(key) is not _Scalar or key.tag != _STR:
                raise _Unusual  # non-string or merge keys: the careful reader converts or refuses them
            result[key.value] = _build(value, depth + 1, budget)
        if len(result) != len(children):
            raise _Unusual  # a duplicate key: the careful reader names it with its line
        return result
    return [_build(item, depth + 1, budget) for item in children]


def quick_documents(text: str, limits: ReadLimits) -> list[tuple[Any, Any]] | None:
    """(node, value) of every document of a plain file, with ``limits`` updated as the careful reader
    would; None (and ``limits`` untouched) when the file needs the careful reader."""
    loader = _CountingLoader(text)
    documents: list[tuple[Any, Any]] = []
    try:
        while loader.check_node():
            resolved = loader.values
            node = loader.get_node()
            budget = [loader.values - resolved - 1]  # the nodes under the root, each to be visited once
            value = _build(node, 0, budget)
            if budget[0] != 0 or node.tag not in (_MAP, _SEQ, _STR, *_BUILT):
                return None  # an alias or an explicit tag: the careful reader counts and converts them
            documents.append((node, value))
            if len(documents) > limits.file_documents:
                return None
    except (_Unusual, yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()
    if not _within(limits, loader.values, loader.characters, len(documents)):
        return None
    limits.used_values += loader.values
    limits.used_characters += loader.characters
    limits.used_documents += len(documents)
    return documents


def _within(limits: ReadLimits, values: int, characters: int, documents: int) -> bool:
    return (values <= limits.file_values and characters <= limits.file_characters
            and limits.used_values + values <= limits.command_values
            and limits.used_documents + documents <= limits.command_documents
            and limits.used_characters + characters <= limits.command_characters)
