"""Values the API server (or the kubelet) would refuse, found in rendered objects at synth.

The JSON schemas check types and field names, not these: ConfigMap and Secret keys, env names,
volume sub-paths, int32/int64 ranges, CronJob name length, image references. Rules live in
``mlkube.kube.apiserver_rules`` (with their upstream sources).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..core.image import match_reference
from ..errors import Problem
from ..kube.apiserver_rules import CRONJOB_NAME_MAX, INT32_MAX, INT64_MAX, config_key_problem, env_name_problem, sub_path_problem
from ..kube.manifest import Manifest
from ..policy.pods import containers, pod_views
from .schemas import _K8S_SCHEMAS, DEFAULT_KUBERNETES_VERSION

if TYPE_CHECKING:
    from ..core.synth import SynthContext

__all__ = ["apiserver_problems", "check_apiserver_rules", "int32_fields"]


@functools.lru_cache(maxsize=1)
def int32_fields() -> frozenset[str]:
    """Field names that are int32 wherever the Kubernetes schemas define them (and never int64):
    read from the kubernetes-validate schemas, the API's own OpenAPI formats."""
    path = _K8S_SCHEMAS / f"v{DEFAULT_KUBERNETES_VERSION}.0-local-strict" / "_definitions.json"
    definitions = json.loads(path.read_text()).get("$defs", {})
    formats: dict[str, set[str]] = {}

    def format_of(schema: Any) -> str | None:
        if not isinstance(schema, dict):
            return None
        return schema.get("format") or format_of(schema.get("items")) or format_of(schema.get("additionalProperties"))

    for schema in definitions.values():
        for name, prop in ((schema or {}).get("properties") or {}).items() if isinstance(schema, dict) else ():
            found = format_of(prop)
            if found in ("int32", "int64"):
                formats.setdefault(name, set()).add(found)
    return frozenset(name for name, found in formats.items() if found == {"int32"})


def _integers(value: Any, path: str, name: str, parents: frozenset[int] = frozenset()) -> Iterator[tuple[str, str, int]]:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield path, name, value
    elif isinstance(value, (dict, list)) and id(value) not in parents and len(parents) < 200:
        inside = parents | {id(value)}  # an object that contains itself (a YAML alias) ends the walk
        if isinstance(value, dict):
            for key, item in value.items():
                yield from _integers(item, f"{path}.{key}" if path else str(key), str(key), inside)
        else:
            for index, item in enumerate(value):
                yield from _integers(item, f"{path}[{index}]", name, inside)


#: Ten digits in a row: only such a number can be outside the int32 range (|n| > 2147483647). Found as ten 0xFF
#: bytes after every ASCII digit of the UTF-8 text became 0xFF (a byte UTF-8 never holds): two C passes, several
#: times faster than the regular expression ``[0-9]{10}``, which answers the same.
_DIGITS_TO_FF = bytes.maketrans(b"0123456789", b"\xff" * 10)
_TEN_DIGITS = b"\xff" * 10


#: ``json.dumps(obj, ensure_ascii=False)``, a fifth cheaper: one encoder, and no record of the containers being encoded
#: (an object that contains itself then ends in RecursionError rather than ValueError; both are caught).
_json_text = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode


def _may_overflow(obj: Any) -> bool:
    """False when no integer of ``obj`` can be outside the int32 range (C calls instead of the walk)."""
    try:
        text = _json_text(obj)
    except (TypeError, ValueError, RecursionError):
        return True  # not JSON data (a YAML alias cycle, a date): walked
    # surrogatepass: a lone surrogate (from YAML) becomes three bytes >= 0x80, never a digit.
    return _TEN_DIGITS in text.encode("utf-8", "surrogatepass").translate(_DIGITS_TO_FF)


def _integer_problems(manifest: Manifest) -> Iterator[Problem]:
    if not _may_overflow(manifest.obj):
        return
    int32 = int32_fields()
    for path, name, value in _integers(manifest.obj, "", ""):
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            yield Problem(manifest.where, path, f"{manifest.describe()}: {value} does not fit in a 64-bit integer "
                          "(the API server cannot decode it)", "use a smaller number")
        elif name in int32 and not -INT32_MAX - 1 <= value <= INT32_MAX:
            yield Problem(manifest.where, path, f"{manifest.describe()}: {name} {value} is larger than {INT32_MAX} "
                          "(a 32-bit field in the Kubernetes API)", "use a smaller number")


def _key_problems(manifest: Manifest) -> Iterator[Problem]:
    sections = {"ConfigMap": ("data", "binaryData"), "Secret": ("data", "stringData")}.get(manifest.kind, ())
    for section in sections:
        for key in manifest.obj.get(section) or {}:
            problem = config_key_problem(key)
            if problem:
                yield Problem(manifest.where, f"{section}[{key}]", f"{manifest.describe()}: {problem}",
                              "use a file-name-like key, e.g. 'config.yaml' or 'LOG_LEVEL'")


def _container_problems(manifest: Manifest) -> Iterator[Problem]:
    for pod in pod_views(manifest.obj):
        for view in containers(pod):
            container = view.container
            for index, env in enumerate(container.get("env") or []):
                problem = _env_name_problem(env.get("name") if isinstance(env, dict) else None)
                if problem:
                    yield Problem(manifest.where, f"{view.path}.env[{index}].name", f"{manifest.describe()}: {problem}")
            for index, mount in enumerate(container.get("volumeMounts") or []):
                sub_path = mount.get("subPath") if isinstance(mount, dict) else None
                problem = sub_path_problem(sub_path) if sub_path else None
                if problem:
                    yield Problem(manifest.where, f"{view.path}.volumeMounts[{index}].subPath", f"{manifest.describe()}: {problem}")
            image = container.get("image")
            # pkg/apis/core/validation: an image must not have leading or trailing whitespace; the kubelet then
            # parses it with distribution/reference (an unparsable one fails as InvalidImageName).
            if isinstance(image, str) and image and not _valid_image(image):
                yield Problem(manifest.where, f"{view.path}.image", f"{manifest.describe()}: image {image!r} is not a valid "
                              "reference (the kubelet would fail it with InvalidImageName)",
                              "write [registry/]repository[:tag][@sha256:digest], repository in lower case")


# Pure functions of one string, asked again for every container of every object (the same few env names and images).
@functools.lru_cache(maxsize=4096)
def _env_name_problem_of(name: str) -> str | None:
    return env_name_problem(name)


def _env_name_problem(name: object) -> str | None:
    return _env_name_problem_of(name) if type(name) is str else env_name_problem(name)


@functools.lru_cache(maxsize=4096)
def _valid_image(image: str) -> bool:
    return match_reference(image) is not None


def apiserver_problems(manifest: Manifest) -> list[Problem]:
    """Everything in one object that the API server or the kubelet would refuse."""
    problems = [*_integer_problems(manifest), *_key_problems(manifest), *_container_problems(manifest)]
    if manifest.kind == "CronJob" and len(manifest.name) > CRONJOB_NAME_MAX:
        problems.append(Problem(manifest.where, "metadata.name", f"{manifest.describe()}: a CronJob name has at most "
                                f"{CRONJOB_NAME_MAX} characters (got {len(manifest.name)}): its Jobs add an 11-character suffix",
                                "give the construct a shorter id or name"))
    return problems


def check_apiserver_rules(ctx: SynthContext) -> None:
    """A CHECKS step: every object, whoever built it."""
    for manifest in ctx.manifests:
        ctx.problems += apiserver_problems(manifest)
