"""The cyclic garbage collector, tuned for a process that runs one command and exits (issue 22).

Synth allocates a few hundred thousand containers (the objects' dicts and lists, specs, the traffic model)
that all live until the process ends, and almost none of them is in a reference cycle. CPython's collector
does not know that:
- every 700 allocations it looks at the young objects, and whenever the old generation has grown by a
  quarter it walks every tracked object (CPython's gc module, ``gc.set_threshold``; Python/gc.c
  ``long_lived_pending``);
- at exit, finalization collects again over every object still tracked (Python/pylifecycle.c
  ``Py_FinalizeEx`` calls ``_PyGC_CollectNoFail``). At 5,000 objects that exit took 0.48 s after synth
  had written everything, 0.05 s with the objects frozen.
``bench/gc_tuning.py`` prints what it costs.

So a process that is one command (the ``mlkube`` program: ``mlkube.cli.run``, or the app the ``cdk8s synth``
CLI runs) does, for its whole life:
- ``gc.freeze()`` what exists when it starts (modules, classes, compiled schemas), again as each app is
  built (``Platform._build_app``: young collections walked every object built once, 0.04 s of building 5,031
  objects), and once synth starts: the collector never walks them again, not even at exit (the Python documentation,
  ``gc.freeze``: frozen objects are ignored in all future collections; it also recommends freezing before a
  fork(2) without exec, as synth's workers are).
- ``gc.set_threshold(200_000, 30, 30)``: young collections every 200,000 allocations, as mypy runs its
  builds (python/mypy, mypy/build.py ``build``: "Run gc less frequently, as otherwise we can spend a large
  fraction of cpu in gc").
The collector stays on: a cycle that becomes garbage later is still collected (only frozen objects are never
looked at). The price: a cycle that became garbage while an app was built, and that no young collection found
before the freeze, stays until the process exits: about 3,500 objects, as many at 50,000 built objects as at
500 (the classes and functions made while the first app's build imports modules). ``gc.freeze`` is O(1) in
CPython: it moves the generations' lists whole. A library user's process (tests, notebooks, the CLI's commands
invoked in-process) keeps Python's collector. ``MLKUBE_GC=default`` leaves the collector as it is.
"""

from __future__ import annotations

import gc
import os
import platform

__all__ = ["GC_ENV", "THRESHOLDS", "freeze_built_objects", "tune_for_one_command"]

#: ``MLKUBE_GC=default`` leaves Python's collector as it is.
GC_ENV = "MLKUBE_GC"
#: mypy's thresholds (python/mypy, mypy/build.py).
THRESHOLDS = (200_000, 30, 30)

_tuned = False


def tune_for_one_command() -> bool:
    """For the rest of this process: freeze what lives now and collect less often. Whether the collector is tuned."""
    global _tuned
    if os.environ.get(GC_ENV, "").strip().lower() == "default" or platform.python_implementation() != "CPython":
        return False
    if not _tuned:
        gc.freeze()
        gc.set_threshold(*THRESHOLDS)
        _tuned = True
    return True


def freeze_built_objects() -> None:
    """Once the constructs are built, in a tuned process: they live until it exits, so the collector skips them."""
    if _tuned:
        gc.freeze()
