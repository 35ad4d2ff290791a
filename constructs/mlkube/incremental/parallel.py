"""Per-object work of synth in several processes, where the machine has the cores (issue 22).

The constructs are built once, in this process (the user's Python, and jsii's Node, which cannot be
shared). What follows per object (rendering, the API server's rules, the object-only policy rules)
is cut into chunks that forks of this process claim one at a time and compute, pure Python on their
copy of the plain dicts (never a call to Node), sending back the results (``store.Entry``). This
process meanwhile runs the checks that need none of those results (schemas, volumes, connectivity), then
claims what chunks are left itself (``SharedWork.finish``): the workers and this process end together
however the two kinds of work weigh on a given platform. The steps of synth then read the results
from the store in their usual order, so the output and the reported problems are those of one process.
A worker that fails is only a slower synth: what it did not send is computed in this process.

Chunks are claimed through a pipe holding every chunk's number as a 4-byte record, written whole before
the first fork: a read of 4 bytes takes one record, the whole of it, for one process (Linux fs/pipe.c
``pipe_read`` copies under the pipe's mutex, and every record is read whole), and an empty pipe whose
writer is closed reads as the end. No lock, and no process waits for another to claim.

A worker writes each result, pickled, into an unnamed temporary file as soon as it has it, and this
process reads them back one at a time (``consume``): the results (the rendered YAML of most objects) are
never held whole in either process (issue 22), and a worker never waits for this process to read (a
pipe would fill, and stop it, after 64 KiB).

``--jobs N`` (``MLKUBE_JOBS``); the default uses the CPUs this process may run on
(``os.sched_getaffinity``), and 1 on one CPU or without fork(2).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any, Generic, TypeVar

__all__ = ["JOBS_ENV", "SharedWork", "job_count", "start_shared_work"]

JOBS_ENV = "MLKUBE_JOBS"
#: Fewer items than this per process are done in fewer processes (a fork and the transfer cost milliseconds).
MIN_ITEMS_PER_JOB = 200
#: Chunks per process: enough for the processes to end together, few enough that claiming costs nothing.
CHUNKS_PER_JOB = 32
#: At most this many chunks (4-byte records): the pipe holds them all before anyone reads (64 KiB on Linux).
MAX_CHUNKS = 4096
_RECORD = struct.Struct("=I")
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


class SharedWork(Generic[T, R]):
    """``work`` over ``items`` in chunks, claimed by forked workers from the start and by this process in ``finish``."""

    def __init__(self, items: Sequence[T], work: Callable[[Sequence[T]], Iterable[R]], consume: Callable[[R], None],
                 chunks: list[tuple[int, int]], workers: int) -> None:
        self._items, self._work, self._consume, self._chunks = items, work, consume, chunks
        self._claims: int | None = None
        self._workers: list[tuple[int, IO[bytes]] | None] = []
        self.processes = 1
        if workers and len(chunks) > 1:
            self._claims = _chunk_pipe(len(chunks))
        if self._claims is not None:
            sys.stdout.flush()
            sys.stderr.flush()
            self._workers = [_fork_claiming(self._claims, items, chunks, work) for _ in range(workers)]
            self.processes += sum(1 for worker in self._workers if worker is not None)
        self._finished = False

    def finish(self) -> None:
        """Claim and compute the chunks left, here; then take every worker's results (once; later calls do nothing)."""
        if self._finished:
            return
        self._finished = True
        mine = self._chunks if self._claims is None else _claimed(self._claims, self._chunks)  # no pipe: every chunk
        try:
            for start, end in mine:
                for result in self._work(self._items[start:end]):
                    self._consume(result)
        finally:
            if self._claims is not None:
                os.close(self._claims)
        for worker in self._workers:
            _collect(worker, self._consume)


def start_shared_work(items: Sequence[T], work: Callable[[Sequence[T]], Iterable[R]], jobs: int, consume: Callable[[R], None], *,
                      minimum: int | None = None) -> SharedWork[T, R]:
    """Start ``jobs - 1`` forked workers on ``items`` (fewer when there are fewer than ``minimum`` items per process);
    this process joins them, and takes their results, in ``SharedWork.finish``. Nothing is computed here before."""
    minimum = MIN_ITEMS_PER_JOB if minimum is None else minimum
    jobs = max(1, min(jobs, len(items) // max(1, minimum)))
    count = min(MAX_CHUNKS, len(items), jobs * CHUNKS_PER_JOB) if jobs > 1 else 1
    size, extra = divmod(len(items), max(1, count))
    chunks, start = [], 0
    for index in range(count if items else 0):
        end = start + size + (1 if index < extra else 0)
        chunks.append((start, end))
        start = end
    return SharedWork(items, work, consume, chunks, jobs - 1)


def _chunk_pipe(count: int) -> int | None:
    """The read end of a pipe holding every chunk number (its write end closed); None when no pipe can be made or
    it cannot hold them all (then this process computes every chunk: slower, never stuck on a pipe nobody reads)."""
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None
    data = b"".join(_RECORD.pack(index) for index in range(count))
    try:
        os.set_blocking(write_end, False)  # a full pipe raises instead of waiting for a reader that does not exist yet
        written = os.write(write_end, data)  # MAX_CHUNKS records (16 KiB) fit Linux's 64 KiB and macOS's 16 KiB pipes
    except OSError:
        written = -1
    finally:
        os.close(write_end)
    if written != len(data):
        os.close(read_end)
        return None
    return read_end


def _claimed(claims: int, chunks: Sequence[tuple[int, int]]) -> Iterable[tuple[int, int]]:
    """The chunks this process claims, one record at a time, until the pipe is empty."""
    while True:
        record = os.read(claims, _RECORD.size)
        if len(record) < _RECORD.size:
            return
        yield chunks[_RECORD.unpack(record)[0]]


def _fork_claiming(claims: int, items: Sequence[T], chunks: Sequence[tuple[int, int]],
                   work: Callable[[Sequence[T]], Iterable[Any]]) -> tuple[int, IO[bytes]] | None:
    def claiming(_: Sequence[T]) -> Iterable[Any]:
        for start, end in _claimed(claims, chunks):
            yield from work(items[start:end])

    return _fork(items, claiming)
