"""The base of every mlkube spec, shared field types, and pydantic errors turned into problems."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
import types
import typing
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationError, model_validator

from ..errors import Problem

__all__ = ["Spec", "AbsolutePath", "DnsLabel", "DNS_LABEL", "parse_spec", "problems_from_validation_error", "field_path"]

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


class Spec(BaseModel):
    """Base of all specs: unknown fields are errors, values are immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        # pydantic's lax mode reads true as 1, so 'gpu: {count: true}' would ask for one GPU; and no Kubernetes
        # integer is wider than int64 (the API server cannot decode 2**63). Handing the field a string instead
        # makes pydantic refuse it at the field's own path (and blueprint line), showing what was given.
        if isinstance(data, dict) and any(isinstance(value, bool) or (isinstance(value, int) and not _INT64[0] <= value <= _INT64[1])
                                          for value in data.values()):
            fields = cls.model_fields
            data = {key: (_refused_number(value) if key in fields and _numeric(fields[key].annotation) else value)
                    for key, value in data.items()}
        return data


S = TypeVar("S", bound=Spec)


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("resources", "gpu", 0)`` -> ``resources.gpu[0]``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class that owns the last element of ``loc`` (for "did you mean" hints)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            continue
        info = current.model_fields.get(str(part))
        if info is None:
            return None
        current = _unwrap(info.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


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


def problems_from_validation_error(error: ValidationError, model: type[BaseModel], where: str) -> list[Problem]:
    """Turn a pydantic error into problems with field paths, the given value and a hint."""
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        path = field_path(loc)
        kind = item["type"]
        if kind == "extra_forbidden":
            owner = _model_at(model, loc)
            known = sorted(owner.model_fields) if owner else []
            close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else (f"known fields: {', '.join(known)}" if known else "")
            problems.append(Problem(where, path, f"unknown field '{loc[-1]}'", hint))
            continue
        message = item["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        if kind != "missing" and item.get("input") is not None and not isinstance(item["input"], Mapping | list):
            message += f" (got {item['input']!r})"
        problems.append(Problem(where, path, message, _allowed_values(item)))
    return problems


def parse_spec(model: type[S], value: S | Mapping[str, Any] | None, fields: Mapping[str, Any], where: str) -> tuple[S | None, list[Problem]]:
    """Validate ``value`` merged with keyword ``fields`` into ``model``; never raises for user errors."""
    if isinstance(value, model) and not fields:
        return value, []
    data: dict[str, Any] = {}
    if isinstance(value, BaseModel):
        data.update(value.model_dump(exclude_unset=True))
    elif value is not None:
        data.update(value)
    data.update(fields)
    try:
        return model.model_validate(data), []
    except ValidationError as error:
        return None, problems_from_validation_error(error, model, where)


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
