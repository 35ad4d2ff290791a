"""Failpoints: named instants between the file-system steps of a write, where a test can kill mlkube.

The kill test sets ``MLKUBE_CRASH_AT=N`` and the process SIGKILLs itself at the N-th failpoint it
reaches: a kill exactly between two steps, reproducible with a seed, instead of a kill after a
random delay that mostly lands outside the write (the failpoint pattern of etcd's gofail and
FreeBSD's fail(9)). ``MLKUBE_CRASH_TRACE=FILE`` appends the name of every failpoint reached, so a
test can count them. Unset (always, outside tests), a failpoint is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

__all__ = ["failpoint", "CRASH_AT_ENV", "CRASH_TRACE_ENV"]

CRASH_AT_ENV = "MLKUBE_CRASH_AT"
CRASH_TRACE_ENV = "MLKUBE_CRASH_TRACE"

_reached = 0


def failpoint(name: str) -> None:
    """Mark an instant between two write steps (see the module docstring)."""
    global _reached
    crash_at, trace = os.environ.get(CRASH_AT_ENV), os.environ.get(CRASH_TRACE_ENV)
    if not crash_at and not trace:
        return
    _reached += 1
    if trace:
        with open(trace, "a", encoding="utf-8") as handle:
            handle.write(name + "\n")
    if crash_at and crash_at.isdigit() and _reached == int(crash_at):
        os.kill(os.getpid(), signal.SIGKILL)
