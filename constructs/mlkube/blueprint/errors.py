"""Pydantic errors of a blueprint turned into problems at the file, line and column of the value."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ValidationError

from ..core.spec import problems_from_validation_error
from ..errors import Problem
from ..kube.field_path import field_path_text
from .source import DataPath, Position, YamlDocument

__all__ = ["field_path_text", "problems_at", "MAX_MESSAGE"]

#: Messages quote the offending value; a huge value is cut so the report stays readable.
MAX_MESSAGE = 400


def _resolve(document: YamlDocument, loc: Sequence[str | int], *, key_of_last: bool) -> tuple[DataPath, Position]:
    """The data path that ``loc`` names and the best position for it.

    Pydantic's locations contain parts that are not in the data (union tags such as 'uri',
    validator names); they are skipped. An unknown field points at its key, a missing one at the
    mapping that lacks it, any other error at the value.
    """
    resolved: DataPath = ()
    data = document.data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(data, dict) and isinstance(part, str) and part in data:
            resolved, data = (*resolved, part), data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            resolved, data = (*resolved, part), data[part]
        elif last:
            resolved = (*resolved, part)
    if key_of_last and resolved in document.keys:
        return resolved, document.keys[resolved]
    for length in range(len(resolved), -1, -1):
        position = document.values.get(resolved[:length])
        if position is not None:
            return resolved, position
    return resolved, document.start


def _shorten(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + "... (cut)"


def problems_at(document: YamlDocument, error: ValidationError, model: type[BaseModel], prefix: DataPath = ()) -> list[Problem]:
    """Problems for a validation of ``document.data[prefix]`` by ``model``, located in the file."""
    items = error.errors(include_url=False)
    # problems_from_validation_error gives one problem per error, in order: the messages and the
    # "did you mean" hints stay those of the Python constructs, with field names in the blueprint's camelCase.
    generic = problems_from_validation_error(error, model, "", yaml=True)
    problems = []
    for item, problem in zip(items, generic, strict=True):
        loc = (*prefix, *item["loc"])
        path, position = _resolve(document, loc, key_of_last=item["type"] == "extra_forbidden")
        problems.append(Problem(document.where(position), field_path_text(path), _shorten(problem.message), problem.hint))
    return problems
