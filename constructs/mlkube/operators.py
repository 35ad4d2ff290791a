"""Operators an environment may have, and the check that an option's operator is there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .construct import MlConstruct

__all__ = ["Operator", "OPERATOR_NAMES", "require_operator"]

Operator = Literal["kserve", "keda", "prometheus-operator", "external-secrets", "kueue", "jobset", "volcano", "argocd"]

OPERATOR_NAMES: dict[str, str] = {
    "kserve": "KServe", "keda": "KEDA", "prometheus-operator": "the Prometheus Operator",
    "external-secrets": "External Secrets Operator", "kueue": "Kueue", "jobset": "JobSet", "volcano": "Volcano",
    "argocd": "Argo CD",
}


def require_operator(construct: MlConstruct, operator: Operator, field: str, alternative: str) -> bool:
    """Report an error when the environment declares its operators and ``operator`` is not one of them."""
    environment = construct.ml_app.environment
    declared = environment.operators
    if declared is None or operator in declared:
        return True
    construct._report(field, f"needs {OPERATOR_NAMES[operator]}, which environment '{environment.name}' does not have "
                             f"(operators: {', '.join(declared) or 'none'})",
                      f"add '{operator}' to the environment's operators, or {alternative}")
    return False
