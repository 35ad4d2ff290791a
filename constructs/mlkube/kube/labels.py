"""The recommended ``app.kubernetes.io/*`` labels, on every object mlkube emits."""

from __future__ import annotations

__all__ = ["standard_labels", "selector_labels", "MANAGED_BY"]

MANAGED_BY = "mlkube"


def selector_labels(name: str) -> dict[str, str]:
    """The labels a selector uses; stable for the life of the workload (selectors are immutable)."""
    return {"app.kubernetes.io/instance": name, "app.kubernetes.io/name": name}


def standard_labels(name: str, component: str, part_of: str) -> dict[str, str]:
    return {
        **selector_labels(name),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/part-of": part_of,
    }
