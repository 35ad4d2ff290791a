"""The base of every mlkube spec, shared field types, and pydantic errors turned into problems."""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationError, model_validator
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo

from ..errors import Problem
from ..kube.field_path import field_path_text

__all__ = ["Spec", "AbsolutePath", "DnsLabel", "DNS_LABEL", "parse_spec", "problems_from_validation_error", "field_path",
           "yaml_key", "field_key", "field_named", "python_name", "in_yaml_casing", "yaml_aliases"]

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

#: A DNS-1123 label: lower-case alphanumerics and '-', at most 63 characters (object names, ports).
DnsLabel = Annotated[str, StringConstraints(pattern=DNS_LABEL.pattern, max_length=63, min_length=1)]


def _absolute(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must be an absolute path, e.g. /var/run/secrets/db")
    return value


#: An absolute path inside a container (mount paths).
AbsolutePath = Annotated[str, AfterValidator(_absolute)]


_INT64 = (-(2**63), 2**63 - 1)


def _refused_number(value: Any) -> Any:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
        return f"{value} (wider than a 64-bit integer)"
    return value


def _numeric(annotation: Any) -> bool:
    """An int or float field (optionally ``| None``), where pydantic's lax mode would turn true into 1."""
    if typing.get_origin(annotation) is Annotated:
        return _numeric(typing.get_args(annotation)[0])
    if annotation in (int, float):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_numeric(arg) for arg in typing.get_args(annotation))
    return False


def yaml_key(name: str) -> str:
    """The one alias rule: a field's key in YAML blueprints (and chart values) is its Python name in camelCase,
    as Kubernetes objects write theirs: ``min_replicas`` -> ``minReplicas`` (pydantic's ``to_camel``)."""
    return to_camel(name)


def _title(name: str, _info: Any) -> str:
    # JSON Schema titles stay those of the Python names ("Min Replicas"), not of the alias ("Minreplicas").
    return name.title().replace("_", " ")


class Spec(BaseModel):
    """Base of all specs: unknown fields are errors, values are immutable once validated.

    Fields have a camelCase alias (``yaml_key``): YAML blueprints are read by alias only (blueprint/loader.py),
    Python keywords and dicts by name (and alias).
    """

    # defer_build: a spec's validator is built when first used, not at import, so a synth pays only for the
    # specs its platform uses (issue 22 start-up: about 50 ms less CPU importing the constructs).
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, alias_generator=yaml_key,
                              validate_by_name=True, validate_by_alias=True, field_title_generator=_title, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        # pydantic's lax mode reads true as 1, so 'gpu: {count: true}' would ask for one GPU; and no Kubernetes
        # integer is wider than int64 (the API server cannot decode 2**63). Handing the field a string instead
        # makes pydantic refuse it at the field's own path (and blueprint line), showing what was given.
        if isinstance(data, dict) and any(isinstance(value, bool) or (isinstance(value, int) and not _INT64[0] <= value <= _INT64[1])
                                          for value in data.values()):
            data = {key: (_refused_number(value) if (info := field_named(cls, key)) is not None and _numeric(info.annotation) else value)
                    for key, value in data.items()}
        return data


def field_named(model: type[BaseModel], key: str) -> FieldInfo | None:
    """The field ``key`` names in raw input: its Python name or its alias."""
    fields = model.model_fields
    return fields.get(key) or fields.get(python_name(model, key) or "")


def python_name(model: type[BaseModel], key: str) -> str | None:
    """The Python name of the field whose name or alias is ``key``; None when there is none."""
    if key in model.model_fields:
        return key
    return next((name for name, info in model.model_fields.items() if info.alias == key), None)


def field_key(model: type[BaseModel], data: Mapping[str, Any], name: str) -> str:
    """The key of field ``name`` in raw input ``data``: the one given, else the alias (accepted by both
    the blueprint loader, which reads aliases only, and Python, which reads both). For before-validators
    that fill a default into raw input."""
    alias = model.model_fields[name].alias or name
    return name if name in data and alias not in data else alias


S = TypeVar("S", bound=Spec)


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("resources", "gpu", 0)`` -> ``resources.gpu[0]``: pydantic's error locations in the one field-path format."""
    return field_path_text(loc)


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class that owns the last element of ``loc`` (for "did you mean" hints)."""
    candidates = _walk(model, loc[:-1])[2]
    return candidates[0] if candidates else None


def _unwrap(annotation: Any) -> Any:
    """Find a BaseModel inside ``X | None``, ``list[X]`` and ``dict[str, X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _unwrap(arg)
        if found is not None:
            return found
    return None


def _allowed_values(error: Mapping[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    if "expected" in ctx:
        return f"allowed: {ctx['expected']}"
    if "pattern" in ctx:
        return f"must match {ctx['pattern']}"
    return ""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Every BaseModel inside ``X | None``, ``list[X]``, ``dict[str, X]`` and unions of several models."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in (getattr(annotation, "__args__", ()) or ()) for model in _models_in(arg)]


def _tagged(candidates: list[type[BaseModel]], tag: int | str) -> list[type[BaseModel]]:
    """The member of a tagged union that pydantic's location names by its tag (``image.build.lock_file``)."""
    chosen = [model for model in candidates for info in model.model_fields.values()
              if typing.get_origin(info.annotation) is typing.Literal and tag in typing.get_args(info.annotation)]
    return chosen[:1] or candidates


def _walk(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[tuple[int | str, ...], tuple[int | str, ...], list[type[BaseModel]]]:
    """``loc`` with each field by alias and by Python name, and the models a next part would be a field of.

    Parts that are no field (list indexes, dict keys, union tags such as 'build') are kept as they are."""
    candidates: list[type[BaseModel]] = [model]
    aliased: list[int | str] = []
    named: list[int | str] = []
    for part in loc:
        found = next(((candidate, name) for candidate in candidates if isinstance(part, str)
                      for name in [python_name(candidate, part)] if name is not None), None)
        if found is None:
            aliased.append(part)
            named.append(part)
            candidates = _tagged(candidates, part)
            continue
        owner, name = found
        info = owner.model_fields[name]
        aliased.append(info.alias or name)
        named.append(name)
        candidates = _models_in(info.annotation)
    return tuple(aliased), tuple(named), candidates


def _in_casing(model: type[BaseModel], loc: tuple[int | str, ...], yaml: bool) -> tuple[int | str, ...]:
    """``loc`` with each field named as the reader wrote it: aliases for YAML, Python names otherwise
    (pydantic names a missing field by its alias)."""
    aliased, named, _models = _walk(model, loc)
    return aliased if yaml else named


_SNAKE_WORD = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def yaml_aliases() -> dict[str, str]:
    """Python name -> alias of every multi-word field of every spec (to say messages in YAML casing)."""
    aliases: dict[str, str] = {}
    pending: list[type[BaseModel]] = [Spec]
    while pending:
        cls = pending.pop()
        aliases.update({name: info.alias for name, info in cls.model_fields.items() if info.alias and info.alias != name})
        pending += cls.__subclasses__()
    return aliases


def in_yaml_casing(text: str, aliases: Mapping[str, str] | None = None) -> str:
    """A message of a spec validator (written with Python names) with the field names in YAML casing.

    ``aliases``: ``yaml_aliases()`` computed once by a caller that translates many texts."""
    aliases = yaml_aliases() if aliases is None else aliases
    return _SNAKE_WORD.sub(lambda match: aliases.get(match[0], match[0]), text)


def _unknown_field(owner: type[BaseModel] | None, key: str, path: str, where: str, yaml: bool) -> Problem:
    if owner is None:
        return Problem(where, path, f"unknown field '{key}'", "")
    known = sorted((info.alias or name) if yaml else name for name, info in owner.model_fields.items())
    alias = owner.model_fields[key].alias if yaml and key in owner.model_fields else None
    if alias is not None and alias != key:
        # Blueprints are read by alias only: Python's snake_case is refused with the key to write instead.
        return Problem(where, path, f"unknown field '{key}': blueprints write field names in camelCase, as Kubernetes objects do",
                       f"write '{alias}'")
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else (f"known fields: {', '.join(known)}" if known else "")
    return Problem(where, path, f"unknown field '{key}'", hint)


def problems_from_validation_error(error: ValidationError, model: type[BaseModel], where: str, *, yaml: bool = False) -> list[Problem]:
    """Turn a pydantic error into problems with field paths, the given value and a hint.

    ``yaml``: the input was a YAML blueprint (read by alias): paths, hints and messages name the camelCase keys.
    """
    problems = []
    for item in error.errors(include_url=False):
        kind = item["type"]
        loc = _in_casing(model, tuple(item["loc"]), yaml)
        if kind == "extra_forbidden":  # the key as written: it is no field of its model (even if it names one in another casing)
            loc = (*loc[:-1], item["loc"][-1])
        path = field_path(loc)
        if kind == "extra_forbidden":
            problems.append(_unknown_field(_model_at(model, loc), str(loc[-1]), path, where, yaml))
            continue
        message = item["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        if yaml:
            message = in_yaml_casing(message)
        if kind != "missing" and item.get("input") is not None and not isinstance(item["input"], Mapping | list):
            message += f" (got {item['input']!r})"
        problems.append(Problem(where, path, message, _allowed_values(item)))
    return problems


def parse_spec(model: type[S], value: S | Mapping[str, Any] | None, fields: Mapping[str, Any], where: str,
               parsed: dict[Any, BaseModel] | None = None) -> tuple[S | None, list[Problem]]:
    """Validate ``value`` merged with keyword ``fields`` into ``model``; never raises for user errors.

    ``parsed``: specs validated before (a platform's, see ``Platform.parsed_specs``): the same input of plain data
    gives the same spec object without validating it again. A spec is frozen (``Spec``: pydantic raises on
    assignment) and validation reads nothing but its input, so sharing it is what validating again would give."""
    if isinstance(value, model) and not fields:
        return value, []
    data: dict[str, Any] = {}
    if isinstance(value, BaseModel):
        data.update(value.model_dump(exclude_unset=True))
    elif value is not None:
        data.update(value)
    data.update(fields)
    key = _plain_data_key(model, data) if parsed is not None else None
    if key is not None and key in parsed:  # type: ignore[operator]
        return parsed[key], []  # type: ignore[index, return-value]
    try:
        spec = model.model_validate(data)
    except ValidationError as error:
        return None, problems_from_validation_error(error, model, where)
    if key is not None:
        parsed[key] = spec  # type: ignore[index]
    return spec, []


class _NotPlainData(Exception):
    pass


def _plain_data_key(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """A key equal for equal inputs of plain data (str, int, float, bool, None, dicts, lists, tuples), with each
    value's type in it (``True == 1`` in Python, but pydantic refuses a boolean for a number), in the input's order;
    None for anything else (a spec object, a path, a function): that input is validated each time."""
    try:
        return model, _frozen(data)
    except _NotPlainData:
        return None


_SCALARS = frozenset({str, int, bool, type(None)})


def _frozen(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return kind, value
    if kind is float:
        return float, value.hex()  # exact: 0.0 == -0.0 in Python, but each is written as given
    if kind is dict:
        return dict, tuple((_frozen(key), _frozen(item)) for key, item in value.items())
    if kind is list or kind is tuple:
        return kind, tuple(_frozen(item) for item in value)
    raise _NotPlainData


def _spec_class(name: str) -> type[BaseModel] | None:
    pending: list[type[BaseModel]] = [Spec]
    while pending:
        cls = pending.pop()
        if cls.__name__ == name:
            return cls
        pending += cls.__subclasses__()
    return None


def _user_frame(tb: Any) -> str:
    """``apps/main.py:12``: the last frame of the traceback outside mlkube and its libraries."""
    import os

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the mlkube package (this is mlkube/core/)
    found = ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(package) and "site-packages" not in filename and not filename.startswith("<"):
            found = f"{os.path.relpath(filename) if os.path.isabs(filename) else filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def user_error(error: BaseException) -> Any:
    """An MlkubeError for a spec built directly in a blueprint with a wrong value (a pydantic error
    raised in user code, e.g. ``ExternalSecretSpec(mount_path="relative")``); None for anything else."""
    from ..errors import MlkubeError

    if isinstance(error, MlkubeError):
        return error
    if not isinstance(error, ValidationError):
        return None
    model = _spec_class(error.title)
    where = " ".join(part for part in (_user_frame(error.__traceback__), error.title) if part)
    return MlkubeError(problems_from_validation_error(error, model or BaseModel, where), title=f"invalid {error.title}")
