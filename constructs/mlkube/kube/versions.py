"""The Kubernetes version whose API mlkube emits and validates for, unless an environment says otherwise."""

from __future__ import annotations

__all__ = ["DEFAULT_KUBERNETES_VERSION"]

#: A minor version that kubernetes-validate ships strict schemas for (validation/schemas.py reads them).
DEFAULT_KUBERNETES_VERSION = "1.34"
