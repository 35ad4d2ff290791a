"""Waivers: an explicit, reasoned exception to one rule for one object, written into the object.

A waiver becomes annotations on the object itself, so reviewers of the config repo and scanners see
it where the exception lives:

- ``mlkube.dev/waive.<RULE-ID>: "<reason>"`` is read by mlkube's own engine;
- ``checkov.io/skip<N>: "<CKV_ID>=<reason>"`` for each checkov check that tests the same thing, which
  checkov honours (it reports the check as skipped with the reason as its suppress comment).

A waiver without a reason is an error, at construction time and when the engine reads an object.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from ..errors import MlkubeError, Problem
from .spec import Spec, problems_from_validation_error

__all__ = ["Waiver", "waive", "apply_waivers", "waiver_annotations", "waived_rules", "checkov_skips",
           "WAIVER_PREFIX", "CHECKOV_SKIP_PREFIX"]

WAIVER_PREFIX = "mlkube.dev/waive."
CHECKOV_SKIP_PREFIX = "checkov.io/skip"
#: The module of the policy rules a waiver names (``known_rule``, ``RULES``: whether a rule is waivable, its checkov
#: equivalents). Named, not imported: the rules belong to the policy capability, which the core does not import.
RULE_TABLE = "mlkube.policy.model"


def _policy_rules() -> Any:
    return importlib.import_module(RULE_TABLE)


def _rule_problem(rule: str) -> str | None:
    """Why ``rule`` cannot be waived, or None."""
    rules = _policy_rules()
    found = rules.known_rule(rule)
    if found is None:
        close = difflib.get_close_matches(rule, list(rules.RULES), n=1, cutoff=0.6)
        return f"{rule!r} is not a policy rule" + (f"; did you mean {close[0]}?" if close else " (run `mlkube validate --policy` to see rule IDs)")
    if not found.waivable:
        return f"{rule} cannot be waived"
    return None


class Waiver(Spec):
    """An exception to one policy rule for the object(s) of one construct, with the reason a reviewer reads.

    >>> Waiver(rule="MLK-NET-002", reason="public demo endpoint behind the cloud WAF")
    """

    rule: str = Field(description="ID of the waived rule (e.g. 'MLK-SEC-006'); required, no default.")
    reason: str = Field(description="Why the exception is needed; required and non-empty, written into the object.")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            if _inside_pydantic(sys._getframe(1)):
                raise  # nested in a spec: pydantic adds the field path (waivers[0].reason) and parse_spec reports it
            # Direct construction in a blueprint reports like any mlkube user error: no traceback.
            raise MlkubeError(problems_from_validation_error(error, Waiver, "Waiver"), title="invalid waiver") from None

    @field_validator("rule")
    @classmethod
    def _known_rule(cls, value: str) -> str:
        problem = _rule_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("reason")
    @classmethod
    def _has_reason(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a waiver needs a reason: say why this object needs the exception")
        return " ".join(value.split())


def _inside_pydantic(caller: Any) -> bool:
    """Whether pydantic itself called ``__init__`` (validating a spec that holds waivers)."""
    return Path(caller.f_code.co_filename).parent.name == "pydantic"


def _annotations(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.setdefault("metadata", {})
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict):
        return annotations
    created: dict[str, Any] = {}
    metadata["annotations"] = created
    return created


def _checkov_reason(reason: str) -> str:
    # checkov splits the annotation value on '=' exactly once per value: a second '=' crashes its parser.
    return reason.replace("=", ":")


def waive(obj: dict[str, Any], rule: str, reason: str) -> dict[str, Any]:
    """Waive ``rule`` for ``obj`` (a plain dict) by writing the annotations; returns ``obj``.

    Raises MlkubeError when the rule is unknown or the reason is empty.
    """
    waiver = Waiver(rule=rule, reason=reason)
    annotations = _annotations(obj)
    annotations[WAIVER_PREFIX + waiver.rule] = waiver.reason
    skipped = {check for _, check, _ in checkov_skips(obj)}
    found = _policy_rules().known_rule(waiver.rule)
    for check in found.checkov if found else ():
        if check in skipped:
            continue
        annotations[f"{CHECKOV_SKIP_PREFIX}{_next_skip_number(annotations)}"] = f"{check}={_checkov_reason(waiver.reason)} ({waiver.rule})"
    return obj


def _next_skip_number(annotations: dict[str, Any]) -> int:
    numbers = [int(key[len(CHECKOV_SKIP_PREFIX):]) for key in annotations
               if key.startswith(CHECKOV_SKIP_PREFIX) and key[len(CHECKOV_SKIP_PREFIX):].isdigit()]
    return max(numbers, default=0) + 1


def apply_waivers(obj: dict[str, Any], waivers: Iterable[Waiver], where: str = "") -> list[Problem]:
    """Write every waiver into ``obj``; returns problems instead of raising (for constructs)."""
    problems: list[Problem] = []
    for index, waiver in enumerate(waivers):
        try:
            waive(obj, waiver.rule, waiver.reason)
        except MlkubeError as error:
            problems += [Problem(where, f"waivers[{index}].{p.field}".rstrip("."), p.message, p.hint) for p in error.problems]
    return problems


def waiver_annotations(obj: dict[str, Any]) -> dict[str, str]:
    """``mlkube.dev/waive.*`` annotations of an object, as written (reasons may be empty)."""
    metadata = obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(annotations, dict):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in annotations.items() if str(k).startswith(WAIVER_PREFIX)}


def waived_rules(obj: dict[str, Any]) -> dict[str, str]:
    """Rule ID -> reason for every waiver of this object that has a reason."""
    return {key[len(WAIVER_PREFIX):]: reason for key, reason in waiver_annotations(obj).items() if reason.strip()}


def checkov_skips(obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(annotation key, checkov check ID, reason) for each checkov skip annotation, as checkov reads them."""
    metadata = obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(annotations, dict):
        return []
    skips = []
    for key, value in sorted(annotations.items()):
        if CHECKOV_SKIP_PREFIX in str(key):
            check, _, reason = str(value or "").partition("=")
            skips.append((str(key), check.strip(), reason))
    return skips
