"""Digest pinning: the lock file, digest files, the registry API, and byte-preserving rewrites.

Names load on first use, so synth (which needs only the lock) does not import the registry client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "check_pinned": "check", "LOCK_FILE": "lock", "Lock": "lock", "LockEntry": "lock", "load_lock": "lock",
    "PinResult": "pin", "default_revision": "pin", "pin_from_digests": "pin", "pin_from_registry": "pin",
    "RegistryClient": "registry", "RegistryError": "registry", "apply_lock": "synth_steps", "require_pinned_images": "synth_steps",
}

__all__ = [
    "LOCK_FILE", "Lock", "LockEntry", "PinResult", "RegistryClient", "RegistryError", "apply_lock", "check_pinned", "default_revision",
    "load_lock", "pin_from_digests", "pin_from_registry", "require_pinned_images",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlkube.pinning' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


# What type checkers see: the same names, imported eagerly.
if TYPE_CHECKING:
    from .check import check_pinned
    from .lock import LOCK_FILE, Lock, LockEntry, load_lock
    from .pin import PinResult, default_revision, pin_from_digests, pin_from_registry
    from .registry import RegistryClient, RegistryError
    from .synth_steps import apply_lock, require_pinned_images
