"""Start-up of a one-app synth, with and without Node started early (core/node_start.py), run by run alternately.

    .venv/bin/python bench/startup.py --runs 15

Each run is `mlkube synth --app bench/platform_app.py` with MLKUBE_BENCH_APPS=1 (39 objects), under
/usr/bin/time-like accounting (wall, and CPU of the process and its children: jsii's Node included), scratch
and the synth cache on tmpfs, bytecode cached as on a user's machine. It also measures, in-process, how long
the main thread waits for Node (starting it and loading the cdk8s assemblies) before it can build: what the
early start moves off the critical path. The wall gain needs a free core for Node while Python imports; on a
machine whose cores are all busy, the two columns meet.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None

# Run in a fresh interpreter: the seconds the main thread spends starting Node, loading assemblies, or waiting for
# the thread that does (the first jsii request after the early start), until the one-app platform is built.
_WAIT_PROBE = """
import os, sys, threading, time
import jsii._kernel.providers.process as process
waited = [0.0]
def timed(function, main_only=True):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            if threading.current_thread() is threading.main_thread():
                waited[0] += time.perf_counter() - start
    return wrapper
process._NodeProcess.start = timed(process._NodeProcess.start)
original_send = process._NodeProcess.send
def send(self, request, response_type):
    if type(request).__name__ == "LoadRequest":
        return timed(original_send)(self, request, response_type)
    return original_send(self, request, response_type)
process._NodeProcess.send = send
original_join = threading.Thread.join
def join(self, timeout=None):
    return (timed(original_join) if self.name == "mlkube-node-start" else original_join)(self, timeout)
threading.Thread.join = join
sys.path.insert(0, sys.argv[1])
import platform_app
print(waited[0])
"""


def _environment(early: bool, cache: str) -> dict[str, str]:
    environment = {**os.environ, "MLKUBE_BENCH_APPS": "1", "MLKUBE_NODE_EARLY": "1" if early else "0", "MLKUBE_CACHE_DIR": cache,
                   "PYTHONPATH": str(ROOT / "constructs"), "PYTHONPYCACHEPREFIX": f"{SCRATCH or tempfile.gettempdir()}/mlkube-bench-pycache"}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def one_synth(early: bool, cache: str) -> tuple[float, float]:
    """Wall and CPU seconds (this process's children: the synth and its Node) of one one-app synth."""
    with tempfile.TemporaryDirectory(dir=SCRATCH) as folder:
        before, start = os.times(), time.perf_counter()
        subprocess.run([sys.executable, "-m", "mlkube", "synth", "--app", str(BENCH / "platform_app.py"), "--out", folder],
                       check=True, capture_output=True, env=_environment(early, cache))
        wall, after = time.perf_counter() - start, os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def node_wait(early: bool, cache: str) -> float:
    """Seconds the main thread waits for Node before the one-app platform is built."""
    environment = _environment(early, cache)
    if early:  # what `mlkube synth` and `from mlkube import ...` do first
        probe = "from mlkube.core.node_start import start_node_early; start_node_early()\n" + _WAIT_PROBE
    else:
        probe = _WAIT_PROBE
    result = subprocess.run([sys.executable, "-c", probe, str(BENCH)], check=True, capture_output=True, text=True, env=environment)
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="Runs of each variant, alternating.")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=SCRATCH) as cache:
        one_synth(True, cache)  # warm the bytecode and the synth cache
        walls: dict[bool, list[float]] = {True: [], False: []}
        cpus: dict[bool, list[float]] = {True: [], False: []}
        waits: dict[bool, list[float]] = {True: [], False: []}
        load_before = os.getloadavg()[0]
        for _ in range(options.runs):
            for early in (True, False):
                wall, cpu = one_synth(early, cache)
                walls[early].append(wall)
                cpus[early].append(cpu)
                waits[early].append(node_wait(early, cache))
        load_after = os.getloadavg()[0]
    print(f"one-app synth, {options.runs} runs each, alternating; load average {load_before:.1f} -> {load_after:.1f}")
    print("| Node started | wall s (median; min) | CPU s (median) | main thread waits for Node, s (median) |")
    print("|---|---|---|---|")
    for early in (True, False):
        label = "early, in a thread (default)" if early else "by jsii, on the first request (MLKUBE_NODE_EARLY=0)"
        print(f"| {label} | {statistics.median(walls[early]):.3f}; {min(walls[early]):.3f} | {statistics.median(cpus[early]):.3f} | "
              f"{statistics.median(waits[early]):.3f} |")


if __name__ == "__main__":
    main()
