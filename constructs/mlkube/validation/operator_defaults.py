"""Fields an operator's mutating admission webhook fills before the API server validates the object.

Mutating admission runs before schema validation, so a field the operator's webhook always fills is
not missing on the cluster even when the manifest leaves it out. Only the defaults that decide
whether the schema accepts an object are listed here, each with its source.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

__all__ = ["with_operator_defaults"]


def _jobset_failure_rule_names(obj: dict[str, Any]) -> None:
    # kubernetes-sigs/jobset pkg/webhooks/jobset_webhook.go (Default): an unnamed failurePolicy rule i
    # is named fmt.Sprintf("failurePolicyRule%v", i); the CRD requires the name.
    spec = obj.get("spec")
    policy = spec.get("failurePolicy") if isinstance(spec, dict) else None
    rules = policy.get("rules") if isinstance(policy, dict) else None  # a malformed object: the schema says why
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        if isinstance(rule, dict) and not rule.get("name"):
            rule["name"] = f"failurePolicyRule{index}"


_DEFAULTERS: dict[tuple[str, str], Callable[[dict[str, Any]], None]] = {
    ("jobset.x-k8s.io", "JobSet"): _jobset_failure_rule_names,
}


def with_operator_defaults(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` as the operator's webhook leaves it (a copy when anything is filled)."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    defaulter = _DEFAULTERS.get((group, str(obj.get("kind"))))
    if defaulter is None:
        return obj
    filled = copy.deepcopy(obj)
    defaulter(filled)
    return filled
