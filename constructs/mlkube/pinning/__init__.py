"""Digest pinning: the lock file, digest files, the registry API, and byte-preserving rewrites.

Names load on first use, so synth (which needs only the lock) does not import the registry client.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "check_pinned": "check", "LOCK_FILE": "lock", "Lock": "lock", "LockEntry": "lock", "load_lock": "lock",
    "PinResult": "pin", "default_revision": "pin", "pin_from_digests": "pin", "pin_from_registry": "pin",
    "RegistryClient": "registry", "RegistryError": "registry", "apply_lock": "synth_steps", "require_pinned_images": "synth_steps",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlkube.pinning' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
