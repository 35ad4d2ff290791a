"""The cyclic garbage collector, tuned for a process that builds a platform, writes it, and exits (issue 22).

Synth allocates a few hundred thousand containers (the objects' dicts and lists, specs, the traffic model)
that all live until the process ends, and almost none of them is in a reference cycle. CPython's collector
does not know that: every 700 allocations it looks at the young objects, and whenever the old generation
has grown by a quarter it walks every tracked object, the modules, pydantic's schemas and everything built
so far included (CPython's gc module, "gc.set_threshold" and Python/gc.c's ``long_lived_pending``). At 5,000
objects that was about half the CPU of building the constructs (0.38 of 0.17 s without it) and 0.3 s of a
whole synth (``bench/gc_tuning.py`` prints the figures).

What this does, only in a process that is one synth (``mlkube synth``, or the app the ``cdk8s synth`` CLI
runs), never in a library user's process (tests, notebooks):
- ``gc.freeze()`` what exists when the synth starts (modules, classes, compiled schemas: they live until
  exit anyway), then again once the constructs are built: the collector never walks them again. The
  Python documentation (gc.freeze) describes this use, for objects a program keeps until it exits.
- ``gc.set_threshold(200_000, 30, 30)``: young collections every 200,000 allocations, as mypy runs its
  builds (python/mypy, mypy/build.py ``build``: "Run gc less frequently, as otherwise we can spend a
  large fraction of cpu in gc").
The collector stays on: a cycle that becomes garbage during synth is still collected (only frozen objects
are never looked at, and those were alive when frozen). When the synth ends, the collector is put back as it was
(``gc.unfreeze()``, the thresholds it had): a test or a notebook that runs the CLI's synth in its own process,
or a Platform under CDK8S_OUTDIR, keeps Python's collector afterwards. ``MLKUBE_GC=default`` leaves the collector
as it is.
"""

from __future__ import annotations

import contextlib
import gc
import os
import platform
from collections.abc import Iterator

__all__ = ["GC_ENV", "THRESHOLDS", "collector_tuned", "freeze_built_objects", "restore_collector", "tune_for_one_synth"]

#: ``MLKUBE_GC=default`` leaves Python's collector as it is.
GC_ENV = "MLKUBE_GC"
#: mypy's thresholds (python/mypy, mypy/build.py).
THRESHOLDS = (200_000, 30, 30)

#: The thresholds before tuning, and whether this module froze objects; None: not tuned.
_before: tuple[tuple[int, int, int], bool] | None = None


def tune_for_one_synth() -> bool:
    """Freeze what lives now and collect less often, until ``restore_collector``; whether the collector is tuned."""
    global _before
    if os.environ.get(GC_ENV, "").strip().lower() == "default" or platform.python_implementation() != "CPython":
        return False
    if _before is None:
        # Objects someone else froze stay theirs: then only the thresholds change (unfreeze would release theirs too).
        freezes = gc.get_freeze_count() == 0
        _before = (gc.get_threshold(), freezes)
        if freezes:
            gc.freeze()
        gc.set_threshold(*THRESHOLDS)
    return True


def freeze_built_objects() -> None:
    """Once the constructs are built, in a tuned process: they live until synth ends, so the collector skips them."""
    if _before is not None and _before[1]:
        gc.freeze()


def restore_collector() -> None:
    """The collector as it was before ``tune_for_one_synth``: its thresholds, and nothing frozen by it."""
    global _before
    if _before is not None:
        thresholds, froze = _before
        _before = None
        gc.set_threshold(*thresholds)
        if froze:
            gc.unfreeze()


@contextlib.contextmanager
def collector_tuned() -> Iterator[None]:
    """The collector tuned for one synth inside the block, as it was after (unless it was tuned already)."""
    tuned_here = _before is None and tune_for_one_synth()
    try:
        yield
    finally:
        if tuned_here:
            restore_collector()
