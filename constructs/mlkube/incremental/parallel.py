"""Per-object work of synth in several processes, where the machine has the cores (issue 22).

The constructs are built once, in this process (the user's Python, and jsii's Node, which cannot be
shared). What follows per object (rendering, the API server's rules, the object-only policy rules)
is split into ``jobs`` contiguous slices: this process does the first, and a fork(2) of it does
each other one, pure Python on its copy of the plain dicts (never a call to Node), and sends back
the results (``store.Entry``). The steps of synth then read them from the store in their usual
order, so the output and the reported problems are those of one process. A worker that fails is
only a slower synth: what it did not send is computed in this process.

A worker writes each result, pickled, into an unnamed temporary file as soon as it has it, and this
process reads them back one at a time after its own slice (``consume``): the results of a slice (the
rendered YAML of half the objects) are never held whole in either process (issue 22), and a worker
never waits for this process to read (a pipe would fill, and stop it, after 64 KiB).

``--jobs N`` (``MLKUBE_JOBS``); the default uses the CPUs this process may run on
(``os.sched_getaffinity``), and 1 on one CPU or without fork(2).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any, TypeVar

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


def run_slices(items: Sequence[T], work: Callable[[Sequence[T]], Iterable[R]], jobs: int, consume: Callable[[R], None], *,
               minimum: int | None = None) -> int:
    """``work`` over ``jobs`` slices of ``items``, the first here and the others in forked processes; every result
    ``work`` yields is given to ``consume`` (in this process), those of the first slice as they come, then those of
    each other slice in order. A failed worker's results stop where it failed (the caller computes the rest).
    Fewer slices when there are fewer than ``minimum`` items per slice (a fork costs milliseconds). The number of slices."""
    minimum = MIN_ITEMS_PER_JOB if minimum is None else minimum
    jobs = max(1, min(jobs, len(items) // max(1, minimum)))
    pieces = _slices(items, jobs) if items else []
    if len(pieces) <= 1:
        for piece in pieces:
            for result in work(piece):
                consume(result)
        return len(pieces)
    sys.stdout.flush()
    sys.stderr.flush()
    workers = [_fork(piece, work) for piece in pieces[1:]]
    for result in work(pieces[0]):
        consume(result)
    for worker in workers:
        _collect(worker, consume)
    return len(pieces)


def _fork(piece: Sequence[T], work: Callable[[Sequence[T]], Iterable[Any]]) -> tuple[int, IO[bytes]] | None:
    try:
        spool = tempfile.TemporaryFile(prefix="mlkube-worker-")  # noqa: SIM115 (read, then closed, by _collect)
    except OSError:
        return None  # no file to spare: this slice is computed here
    try:
        pid = os.fork()
    except OSError:
        spool.close()
        return None  # no process to spare: this slice is computed here
    if pid == 0:  # the worker: compute, write, and leave without running this process's exit handlers (jsii's)
        code = 0
        try:
            for result in work(piece):
                pickle.dump(("ok", result), spool, protocol=5)
            pickle.dump(("done", None), spool, protocol=5)
        except BaseException:
            code = 1
            with contextlib.suppress(BaseException):
                pickle.dump(("failed", traceback.format_exc()), spool)
        finally:
            try:
                spool.flush()
            finally:
                os._exit(code)
    return pid, spool


def _collect(worker: tuple[int, IO[bytes]] | None, consume: Callable[[Any], None]) -> None:
    if worker is None:
        return
    pid, spool = worker
    try:
        os.waitpid(pid, 0)
        spool.seek(0)
        while True:
            status, result = pickle.load(spool)  # one result at a time: the worker's results are never held whole
            if status != "ok":
                return
            consume(result)
    except Exception:
        return  # a worker killed mid-write: what it did not send is computed in this process
    finally:
        spool.close()
