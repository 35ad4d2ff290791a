"""Kubernetes label selectors (matchLabels and matchExpressions), evaluated the way the API server does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["selects"]


def _expression_holds(expression: dict[str, Any], labels: Mapping[str, str]) -> bool:
    key: Any = expression.get("key")
    operator = expression.get("operator")
    values = [str(v) for v in expression.get("values") or []]
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False  # an unknown operator selects nothing (the API server would reject it)


def selects(selector: dict[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether a LabelSelector selects an object with these labels; an empty selector selects everything."""
    selector = selector or {}
    match_labels = selector.get("matchLabels") or {}
    # Loops rather than any()/all() over generators: the evaluator asks this tens of thousands of times per synth.
    for key, value in match_labels.items():
        if labels.get(str(key)) != str(value):
            return False
    for expression in selector.get("matchExpressions") or []:
        if isinstance(expression, dict) and not _expression_holds(expression, labels):
            return False
    return True
