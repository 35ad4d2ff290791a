"""Digest pinning: the lock file, digest files, the registry API, and byte-preserving rewrites."""

from .check import check_pinned
from .lock import LOCK_FILE, Lock, LockEntry, load_lock
from .pin import PinResult, default_revision, pin_from_digests, pin_from_registry
from .registry import RegistryClient, RegistryError
from .synth_steps import apply_lock, require_pinned_images

__all__ = ["LOCK_FILE", "Lock", "LockEntry", "PinResult", "RegistryClient", "RegistryError", "apply_lock",
           "check_pinned", "default_revision", "load_lock", "pin_from_digests", "pin_from_registry",
           "require_pinned_images"]
