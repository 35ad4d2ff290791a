"""Per-object work of synth in several processes, where the machine has the cores (issue 22).

The constructs are built once, in this process (the user's Python, and jsii's Node, which cannot be
shared). What follows per object (rendering, the API server's rules, the object-only policy rules)
is split into ``jobs`` contiguous slices: this process does the first, and a fork(2) of it does
each other one, pure Python on its copy of the plain dicts (never a call to Node), and sends back
the results (``store.Entry``). The steps of synth then read them from the store in their usual
order, so the output and the reported problems are those of one process. A worker that fails is
only a slower synth: what it did not send is computed in this process.

``--jobs N`` (``MLKUBE_JOBS``); the default uses the CPUs this process may run on
(``os.sched_getaffinity``), and 1 on one CPU or without fork(2).
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["JOBS_ENV", "job_count", "run_slices"]

JOBS_ENV = "MLKUBE_JOBS"
#: Fewer items than this per process are done in fewer processes (a fork and the transfer cost milliseconds).
MIN_ITEMS_PER_JOB = 200
T = TypeVar("T")
R = TypeVar("R")


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def job_count(requested: int | None = None) -> int:
    """Processes to use: ``requested``, else ``$MLKUBE_JOBS``, else the CPUs available; 1 without fork(2)."""
    if requested is None:
        text = os.environ.get(JOBS_ENV, "").strip()
        requested = int(text) if text.isdigit() and int(text) > 0 else None
    jobs = requested if requested is not None else available_cpus()
    if not hasattr(os, "fork") or sys.platform == "win32":
        return 1
    return max(1, jobs)


def _slices(items: Sequence[T], count: int) -> list[Sequence[T]]:
    size, extra = divmod(len(items), count)
    slices, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        slices.append(items[start:end])
        start = end
    return [piece for piece in slices if piece]


def run_slices(items: Sequence[T], work: Callable[[Sequence[T]], R], jobs: int, *, minimum: int | None = None) -> list[R | None]:
    """``work`` over ``jobs`` slices of ``items``, the first here and the others in forked processes.

    One result per slice, in order; None for a slice whose process failed (the caller computes it).
    Fewer slices when there are fewer than ``minimum`` items per slice (a fork costs milliseconds)."""
    minimum = MIN_ITEMS_PER_JOB if minimum is None else minimum
    jobs = max(1, min(jobs, len(items) // max(1, minimum)))
    pieces = _slices(items, jobs) if items else []
    if len(pieces) <= 1:
        return [work(piece) for piece in pieces]
    sys.stdout.flush()
    sys.stderr.flush()
    workers: list[tuple[int, int] | None] = []
    for piece in pieces[1:]:
        workers.append(_fork(piece, work))
    results: list[R | None] = [work(pieces[0])]
    for worker in workers:
        results.append(_collect(worker))
    return results


def _fork(piece: Sequence[T], work: Callable[[Sequence[T]], Any]) -> tuple[int, int] | None:
    try:
        reader, writer = os.pipe()
        pid = os.fork()
    except OSError:
        return None  # no process to spare: this slice is computed here
    if pid == 0:  # the worker: compute, send, and leave without running this process's exit handlers (jsii's)
        os.close(reader)
        code = 0
        try:
            payload = pickle.dumps(("ok", work(piece)), protocol=5)
        except BaseException:
            payload, code = pickle.dumps(("failed", traceback.format_exc())), 1
        try:
            with os.fdopen(writer, "wb") as stream:
                stream.write(payload)
        finally:
            os._exit(code)
    os.close(writer)
    return pid, reader


def _collect(worker: tuple[int, int] | None) -> Any:
    if worker is None:
        return None
    pid, reader = worker
    try:
        with os.fdopen(reader, "rb") as stream:
            status, result = pickle.load(stream)  # from the pipe: the pickled bytes are never held whole
    except Exception:
        return None
    finally:
        os.waitpid(pid, 0)
    return result if status == "ok" else None
