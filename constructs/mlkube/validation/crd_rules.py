"""CRD validation rules (``x-kubernetes-validations``, CEL) evaluated offline, as the API server does on create.

The API server (kubernetes/apiextensions-apiserver ``pkg/apiserver/schema/cel/validation.go``):

- runs the rules only when the object has no blocking schema error (``hasBlockingErr`` in
  ``pkg/registry/customresource/strategy.go``); here: only when the schema passes;
- sees the object after it dropped nulls of non-nullable fields and applied defaults
  (``schema/defaulting/prunenulls.go``, ``schema/defaulting/algorithm.go``): :func:`api_server_view`;
- evaluates each rule with ``self`` bound to the value at the rule's schema node (never a null),
  rules of ``allOf`` branches included; property names are escaped (``namespace`` is
  ``__namespace__``, ``x-y`` is ``x__dash__y``; the ValidationRule documentation of
  apiextensions.k8s.io/v1); the root sees ``apiVersion``, ``kind``, ``metadata.name`` and
  ``metadata.generateName`` only;
- skips transition rules (those using ``oldSelf``) on create: they are counted, never failed;
- reports ``message`` (or the evaluated ``messageExpression``, or "failed rule: RULE") at the
  node's path plus the rule's ``fieldPath``; an evaluation error (a missing key) is an error too.

The expressions run on cel-python (``celpy``, RE2 regular expressions like cel-go). A rule it
cannot run (syntax it cannot parse, a Kubernetes library function not implemented here) is skipped
with its reason recorded in :attr:`CelRules.skipped`, which ``mlkube validate`` prints: a rule is never
passed silently.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from . import cel_library
from .api_view import api_server_view, field_path, resolver

__all__ = ["CelRules", "SkippedRule", "RuleIssue", "escape_property", "has_rules"]

_RULES = "x-kubernetes-validations"
# The CEL reserved words that Kubernetes escapes as __word__ (apiserver/pkg/cel/escaping.go).
_RESERVED = {"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if",
             "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"}
_ESCAPES = {"__": "__underscores__", ".": "__dot__", "-": "__dash__", "/": "__slash__"}
_ESCAPABLE = re.compile(r"^[a-zA-Z_.\-/][a-zA-Z0-9_.\-/]*$")
_STRING_LITERALS = re.compile(r'[rRbB]{0,2}("""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\')')
_CALLS = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_OLD_SELF = re.compile(r"\boldSelf\b")
# CEL's standard macros and functions that cel-python implements.
_STANDARD = {"has", "all", "exists", "exists_one", "map", "filter", "size", "contains", "startsWith", "endsWith", "matches",
             "int", "uint", "double", "string", "bytes", "bool", "duration", "timestamp", "dyn", "type",
             "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear", "getFullYear", "getMonth", "getHours",
             "getMilliseconds", "getMinutes", "getSeconds"}


@dataclass(frozen=True)
class RuleIssue:
    field: str
    message: str


@dataclass(frozen=True)
class SkippedRule:
    rule: str
    reason: str


def escape_property(name: str) -> str | None:
    """The CEL name of a property, or None when CEL cannot reach it (the API server hides it too)."""
    if name in _RESERVED:
        return f"__{name}__"
    if not _ESCAPABLE.match(name):
        return None
    return re.sub(r"__|[./-]", lambda match: _ESCAPES[match.group(0)], name)


def has_rules(schema: dict[str, Any]) -> bool:
    """Whether any node of the schema carries CEL rules."""
    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            return _RULES in node or any(walk(value) for key, value in node.items() if key not in ("enum", "default", "example"))
        if isinstance(node, list):
            return any(walk(item) for item in node)
        return False
    return walk(schema)


def _functions_used(rule: str) -> set[str]:
    return set(_CALLS.findall(_STRING_LITERALS.sub("''", rule)))


@cache
def _environment() -> Any:
    cel_library.load_cel()
    return cel_library.celpy.Environment()


@cache
def _compiled(expression: str) -> Any:
    """The runnable program, or a reason (str) why it cannot run here."""
    unknown = sorted(_functions_used(expression) - _STANDARD - set(cel_library.EXTENSIONS))
    if unknown:
        return f"uses {', '.join(f'{name}()' for name in unknown)}, not available offline"
    try:
        return _environment().program(_environment().compile(expression), functions=cel_library.EXTENSIONS)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"cel-python cannot compile it ({first[:80]})"


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    return {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, list) else set()


def _string_value(value: str, schema: dict[str, Any]) -> Any:
    fmt = schema.get("format")
    try:
        if fmt == "byte":
            return cel_library.celtypes.BytesType(base64.b64decode(value))
        if fmt == "duration":
            return cel_library.celtypes.DurationType(value)
        if fmt in ("date-time", "date"):
            return cel_library.celtypes.TimestampType(value if fmt == "date-time" else f"{value}T00:00:00Z")
    except Exception:
        pass
    return cel_library.celtypes.StringType(value)


class CelRules:
    """Evaluates the CEL rules of one converted CRD schema; counts the rules it skipped and why."""

    def __init__(self, schema: dict[str, Any]) -> None:
        cel_library.load_cel()
        self._root = schema
        self._resolve = resolver(schema)
        self.skipped: Counter[SkippedRule] = Counter()
        self.evaluated = 0

    def issues(self, obj: dict[str, Any], *, viewed: bool = False) -> Iterator[RuleIssue]:
        """Issues of ``obj`` as the API server sees it (``viewed``: ``obj`` is already :func:`api_server_view`'s)."""
        view = obj if viewed else api_server_view(obj, self._root)
        yield from self._walk(view, self._root, [], root=True)

    def _walk(self, value: Any, schema: Any, path: list[Any], root: bool = False) -> Iterator[RuleIssue]:
        schema = self._resolve(schema)
        if value is None:
            return
        converted: list[Any] = []  # the CEL value of this node, made once for all its rules

        def self_value() -> Any:
            if not converted:
                converted.append(self._to_cel(value, schema, root))
            return converted[0]

        for rule in schema.get(_RULES) or ():
            if isinstance(rule, dict) and isinstance(rule.get("rule"), str):
                yield from self._check(rule, self_value, path)
        for branch in schema.get("allOf") or ():
            yield from self._walk(value, branch, path, root)
        if isinstance(value, dict):
            properties = schema.get("properties") or {}
            extra = schema.get("additionalProperties")
            for key, item in value.items():
                if key in properties:
                    yield from self._walk(item, properties[key], [*path, key])
                elif isinstance(extra, dict):
                    yield from self._walk(item, extra, [*path, key])
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for index, item in enumerate(value):
                yield from self._walk(item, schema["items"], [*path, index])

    def _check(self, rule: dict[str, Any], self_value: Callable[[], Any], path: list[Any]) -> Iterator[RuleIssue]:
        expression = rule["rule"]
        if rule.get("optionalOldSelf") is True:
            # The API server evaluates it on create too, with oldSelf an empty optional: cel-python has no optionals.
            self.skipped[SkippedRule(expression, "optionalOldSelf rule: needs CEL optional values, which cel-python lacks")] += 1
            return
        if _OLD_SELF.search(_STRING_LITERALS.sub("''", expression)):
            self.skipped[SkippedRule(expression, "transition rule (oldSelf): the API server checks it only on update")] += 1
            return
        program = _compiled(expression)
        if isinstance(program, str):
            self.skipped[SkippedRule(expression, program)] += 1
            return
        activation = {"self": self_value()}
        self.evaluated += 1
        try:
            result = program.evaluate(activation)
        except cel_library.celpy.CELEvalError as error:
            yield from self._evaluation_error(error, expression, rule, path)
            return
        if isinstance(result, cel_library.celpy.CELEvalError):
            yield from self._evaluation_error(result, expression, rule, path)
            return
        if result is True or result == cel_library.celtypes.BoolType(True):
            return
        yield RuleIssue(field_path(path, rule.get("fieldPath")), _failure_message(rule, activation))

    def _evaluation_error(self, error: Exception, expression: str, rule: dict[str, Any], path: list[Any]) -> Iterator[RuleIssue]:
        cause = error.args[1] if len(error.args) > 1 else None
        text = str(error.args[0]) if error.args else str(error)
        if cause in (KeyError, IndexError, ZeroDivisionError):
            # "no such key", "index out of bounds", "division by zero": the API server reports these too,
            # as "<error> evaluating rule: <message or rule>" (cel/validation.go), in cel-go's words.
            text = re.sub(r"^no such member in mapping: '(.*)'$", r"no such key: \1", text)
            yield RuleIssue(field_path(path, None), f"{text} evaluating rule: {_rule_text(rule)}")
        else:
            self.skipped[SkippedRule(expression, f"cel-python cannot evaluate it ({text[:80]})")] += 1

    def _to_cel(self, value: Any, schema: Any, root: bool = False) -> Any:
        schema = self._resolve(schema)
        types = _types(schema)
        if value is None:
            return None
        if isinstance(value, bool):
            return cel_library.celtypes.BoolType(value)
        # Beyond int64 the API server's JSON decoding keeps a number as float64 (apimachinery's unstructured
        # converter), and CEL's IntType refuses it: it reaches the rules as a double, as on a cluster.
        if isinstance(value, int):
            return cel_library.celtypes.IntType(value) if "number" not in types and _fits_int64(value) else cel_library.celtypes.DoubleType(value)
        if isinstance(value, float):
            whole = "integer" in types and value.is_integer() and _fits_int64(int(value))
            return cel_library.celtypes.IntType(int(value)) if whole else cel_library.celtypes.DoubleType(value)
        if isinstance(value, str):
            return _string_value(value, schema)
        if isinstance(value, list):
            items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
            return cel_library.celtypes.ListType([self._to_cel(item, items) for item in value])
        if isinstance(value, dict):
            return self._object(value, schema, root)
        return cel_library.celpy.json_to_cel(value)

    def _object(self, value: dict[str, Any], schema: dict[str, Any], root: bool) -> Any:
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        if root:
            given = value.get("metadata")
            metadata: dict[str, Any] = given if isinstance(given, dict) else {}
            value = {**value, "metadata": {key: metadata[key] for key in ("name", "generateName") if key in metadata}}
            properties = {**properties, "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                          "metadata": {"type": "object", "properties": {"name": {"type": "string"}, "generateName": {"type": "string"}}}}
        if properties:
            fields = {}
            for key, item in value.items():
                name = escape_property(key)
                if key in properties and name is not None:
                    fields[cel_library.celtypes.StringType(name)] = converted = self._to_cel(item, properties[key])
                    if key in _RESERVED:
                        # Upstream rules also say t.metadata.namespace (JobSet's volumeClaimPolicies rule), which
                        # the API server accepts: offer the plain name beside the escaped one.
                        fields[cel_library.celtypes.StringType(key)] = converted
            return cel_library.celtypes.MapType(fields)
        if isinstance(extra, dict):
            return cel_library.celtypes.MapType({cel_library.celtypes.StringType(key): self._to_cel(item, extra) for key, item in value.items()})
        return cel_library.celpy.json_to_cel(value)


def _rule_text(rule: dict[str, Any]) -> str:
    return str(rule.get("message") or rule["rule"]).strip()


def _failure_message(rule: dict[str, Any], activation: dict[str, Any]) -> str:
    detail = ""
    expression = rule.get("messageExpression")
    if isinstance(expression, str):
        program = _compiled(expression)
        if not isinstance(program, str):
            try:
                evaluated = program.evaluate(activation)
                if isinstance(evaluated, str) and evaluated.strip() and "\n" not in evaluated:
                    detail = evaluated.strip()
            except Exception:
                detail = ""
    if not detail:
        detail = str(rule.get("message") or "").strip() or f"failed rule: {rule['rule'].strip()}"
    prefix = {"FieldValueRequired": "Required value: ", "FieldValueForbidden": "Forbidden: ",
              "FieldValueDuplicate": "Duplicate value: "}.get(str(rule.get("reason")), "")
    return f"{prefix}{detail} (x-kubernetes-validations rule: {_short(rule['rule'])})"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fits_int64(value: int) -> bool:
    return -(2**63) <= value < 2**63
