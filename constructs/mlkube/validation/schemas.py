"""Strict JSON-schema validation of Kubernetes objects, with one compiled validator per kind.

Built-in kinds use the schemas shipped in kubernetes-validate (strict variant: unknown fields are
errors). Custom resources use schemas in the ``{group}/{kind}_{version}.json`` layout of
kubeconform and the CRD catalog: the ones mlkube carries for what it emits, and any ``--crd-schemas``
folder the user gives.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from ..errors import MlkubeError
from ..kube.field_path import field_path_text
from ..kube.versions import DEFAULT_KUBERNETES_VERSION
from .api_view import api_server_view, list_map_issues
from .crd_rules import CelRules, SkippedRule, has_rules
from .operator_defaults import with_operator_defaults
from .quantities import QuantityTree, quantity_issues, quantity_tree

if TYPE_CHECKING:  # Python jsonschema reports the errors of invalid objects only: imported then (start-up, issue 22)
    import jsonschema
    from referencing import Registry

__all__ = ["SchemaCatalog", "ValidationSettings", "SchemaIssue", "DEFAULT_KUBERNETES_VERSION", "BUILTIN_CRD_SCHEMAS"]

# The package's folder without importing it (its __init__ imports Python jsonschema: start-up, issue 22).
_K8S_SCHEMAS = Path(importlib.util.find_spec("kubernetes_validate").origin or "").parent / "kubernetes-json-schema"  # type: ignore[union-attr]
#: CRD schemas mlkube carries for the custom resources it emits (written for the fields it uses).
BUILTIN_CRD_SCHEMAS = Path(__file__).parent.parent / "crd_schemas"
_DEFINITIONS_ID = "https://kubernetes.io/api/_definitions.json"


@dataclass(frozen=True)
class ValidationSettings:
    """How objects are validated."""

    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    crd_schema_dirs: tuple[Path, ...] = ()
    #: A kind with no schema is an error (``--strict``) rather than a reported skip.
    strict_unknown_kinds: bool = False
    #: How to give a missing schema, in the words of the caller (a CLI option, a Platform argument).
    missing_schema_hint: str = "give one with --crd-schemas DIR"


@dataclass(frozen=True)
class SchemaIssue:
    field: str
    message: str


def supported_kubernetes_versions() -> list[str]:
    versions = []
    for folder in _K8S_SCHEMAS.glob("v*-local-strict"):
        major, minor = folder.name[1:].split("-")[0].split(".")[:2]
        versions.append(f"{major}.{minor}")
    return sorted(versions, key=lambda v: tuple(int(p) for p in v.split(".")))


@dataclass
class SchemaCatalog:
    """Finds and caches a compiled validator for each (apiVersion, kind)."""

    settings: ValidationSettings = field(default_factory=ValidationSettings)
    _validators: dict[tuple[str, str], Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        version = self.settings.kubernetes_version
        if not re.fullmatch(r"\d+\.\d+", version) or not self._k8s_dir.is_dir():
            raise MlkubeError.single(
                f"no Kubernetes schemas for version {version!r}",
                hint=f"use one of {', '.join(supported_kubernetes_versions())}",
            )
        for folder in self.settings.crd_schema_dirs:
            if not Path(folder).is_dir():
                raise MlkubeError.single(f"CRD schema folder {str(folder)!r} does not exist",
                                         hint="give a folder in the {group}/{kind}_{version}.json layout")

    @property
    def _k8s_dir(self) -> Path:
        return _K8S_SCHEMAS / f"v{self.settings.kubernetes_version}.0-local-strict"

    @cached_property
    def _definitions(self) -> dict[str, Any]:
        definitions: dict[str, Any] = json.loads((self._k8s_dir / "_definitions.json").read_text())
        return definitions

    @cached_property
    def _registry(self) -> Registry:
        from referencing import Registry, Resource

        # The built-in schemas refer to "/api/_definitions.json"; register it under its own $id so
        # references resolve locally, never over the network.
        return Resource.from_contents(self._definitions) @ Registry()

    @cached_property
    def _fast_registry(self) -> Any:
        return jsonschema_rs.Registry([(_DEFINITIONS_ID, self._definitions)])

    def _schema_file(self, api_version: str, kind: str) -> Path | None:
        group, _, version = api_version.rpartition("/")
        lower = kind.lower()
        # Built-in kinds: "<kind>-<first label of group>-<version>.json", core kinds "<kind>-<version>.json".
        builtin = f"{lower}-{group.split('.')[0]}-{version}.json" if group else f"{lower}-{version}.json"
        candidates = [self._k8s_dir / builtin]
        candidates += [Path(folder) / group / f"{lower}_{version}.json" for folder in (*self.settings.crd_schema_dirs, BUILTIN_CRD_SCHEMAS) if group]
        return next((path for path in candidates if path.exists()), None)

    def validator(self, api_version: str, kind: str) -> Any | None:
        """The compiled validator for a kind, or None when no schema is known."""
        key = (api_version, kind)
        if key not in self._validators:
            path = self._schema_file(api_version, kind)
            self._validators[key] = None if path is None else self._compile(path)
        return self._validators[key]

    def _compile(self, path: Path) -> _KindValidator:
        # Built-in schemas have ids under https://kubernetes.io/api/, so "/api/_definitions.json" resolves
        # to the registered definitions; CRD schemas may refer to it too.
        return _KindValidator(json.loads(path.read_text()), self, custom_resource=not path.is_relative_to(self._k8s_dir))

    def skipped_rules(self) -> dict[SkippedRule, int]:
        """CEL rules not evaluated so far (transition rules, functions not available offline), with counts."""
        skipped: Counter[SkippedRule] = Counter()
        for validator in self._validators.values():
            if validator is not None and validator.rules is not None:
                skipped.update(validator.rules.skipped)
        return dict(skipped)

    def has_schema(self, api_version: str, kind: str) -> bool:
        return self.validator(api_version, kind) is not None

    def validate(self, obj: dict[str, Any]) -> Iterator[SchemaIssue]:
        """Yield every schema violation of ``obj``; nothing when it is valid."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            yield SchemaIssue("", "an object needs string 'apiVersion' and 'kind' fields")
            return
        validator = self.validator(api_version, kind)
        if validator is None:
            served = self.served_versions(api_version, kind)
            if served:
                # The CRD is known and does not serve this version: the API server has no such resource.
                group = api_version.rpartition("/")[0]
                yield SchemaIssue("apiVersion", f"{kind} is not served as {api_version}; its CRD serves "
                                                f"{', '.join(f'{group}/{version}' for version in served)}")
            elif self.settings.strict_unknown_kinds:
                yield SchemaIssue("", f"no schema for {kind} ({api_version}); {self.settings.missing_schema_hint}")
            return
        yield from validator.issues(obj)
        # Quantities pass the schema as "string or number"; the API server parses them (memory: aoeu).
        for path, message in quantity_issues(obj, validator.quantities):
            yield SchemaIssue(path, message)

    @cached_property
    def _quantity_cache(self) -> dict[str, QuantityTree]:
        return {}

    def served_versions(self, api_version: str, kind: str) -> list[str]:
        """Versions of a custom resource's group and kind that have a schema (the served ones of its CRD)."""
        group = api_version.rpartition("/")[0]
        if not group:
            return []
        prefix = f"{kind.lower()}_"
        return sorted({path.stem[len(prefix):] for folder in (*self.settings.crd_schema_dirs, BUILTIN_CRD_SCHEMAS)
                       for path in (Path(folder) / group).glob(f"{prefix}*.json")})


class _KindValidator:
    """Two validators for one schema: jsonschema-rs (Rust) decides, about 0.01 ms an object; only for an
    invalid object does Python jsonschema run, to report every error with its field path. A valid custom
    resource then meets its CRD's CEL rules (``x-kubernetes-validations``), as on the API server."""

    def __init__(self, schema: dict[str, Any], catalog: SchemaCatalog, custom_resource: bool = False) -> None:
        self._schema = schema
        self._catalog = catalog
        self._custom_resource = custom_resource
        self._fast = jsonschema_rs.validator_for(schema, registry=catalog._fast_registry, validate_formats=False)
        self._detailed: Any = None
        self._quantities: QuantityTree | None = None
        self.rules = CelRules(schema) if has_rules(schema) else None

    @property
    def quantities(self) -> QuantityTree:
        """Where this kind holds quantities (read from the schema once)."""
        if self._quantities is None:
            self._quantities = quantity_tree(self._schema, self._catalog._definitions.get("$defs", {}),
                                             self._catalog._quantity_cache)
        return self._quantities

    def issues(self, obj: dict[str, Any]) -> Iterator[SchemaIssue]:
        if self._custom_resource:
            # The API server validates a custom resource after it dropped non-nullable nulls and applied
            # the schema's defaults (a defaulted "type" can decide a oneOf): validate that view.
            obj = with_operator_defaults(api_server_view(obj, self._schema))
            yield from (SchemaIssue(field, message) for field, message in list_map_issues(obj, self._schema, viewed=True))
        blocking = False
        if not self._fast.is_valid(obj):
            if self._detailed is None:
                import jsonschema

                cls = jsonschema.validators.validator_for(self._schema, default=jsonschema.Draft202012Validator)
                self._detailed = cls(self._schema, registry=self._catalog._registry, format_checker=None)
            for error in self._detailed.iter_errors(obj):
                blocking = blocking or error.validator not in _NON_BLOCKING
                yield from _issues(error)
        # The API server runs CEL rules unless a schema error is "blocking" (type, required, enum, too long,
        # too many: hasBlockingErr, apiextensions-apiserver pkg/registry/customresource/strategy.go);
        # an unknown field is refused before validation starts (strict field validation).
        if self.rules is not None and not blocking:
            yield from (SchemaIssue(issue.field, issue.message) for issue in self.rules.issues(obj, viewed=self._custom_resource))


#: Schema errors after which the API server still evaluates CEL rules (field.ErrorTypeInvalid and the like).
_NON_BLOCKING = frozenset({"pattern", "minLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                           "minItems", "minProperties", "uniqueItems", "multipleOf", "format"})


_SHOWN = 80


def _message(error: jsonschema.ValidationError) -> str:
    """The error message without the offending value when that value is long: an alias-expanded
    value must never come back in an error (it can be gigabytes)."""
    message = error.message
    shown = repr(error.instance)
    if len(shown) > _SHOWN and shown in message:
        kinds: dict[type, str] = {dict: "the object", list: "the list", str: "the string"}
        kind = kinds.get(type(error.instance), "the value")
        message = message.replace(shown, f"{kind} ({len(shown)} characters)")
    return message if len(message) <= 500 else message[:500] + "..."


def _issues(error: jsonschema.ValidationError) -> Iterator[SchemaIssue]:
    # oneOf/anyOf errors hide the useful part in their context; report the deepest, most specific ones.
    if error.context and error.validator in ("anyOf", "oneOf"):
        # The "null" branch a converted schema adds where the API server prunes a null says nothing useful.
        context = [e for e in error.context if e.schema != {"type": "null"}] or error.context
        deepest = max(len(e.absolute_path) for e in context)
        best = [e for e in context if len(e.absolute_path) == deepest]
        seen = set()
        for sub in best:
            issue = SchemaIssue(field_path_text(sub.absolute_path), _message(sub))
            if issue not in seen:
                seen.add(issue)
                yield issue
        return
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted((error.schema.get("properties") or {}) if isinstance(error.schema, Mapping) else {})
        for extra in sorted(key for key in error.instance if key not in known):
            close = difflib.get_close_matches(extra, known, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            yield SchemaIssue(field_path_text([*error.absolute_path, extra]), f"unknown field '{extra}'{hint}")
        return
    yield SchemaIssue(field_path_text(error.absolute_path), _message(error))
