"""Incremental and parallel synth: `python bench/resynth.py [--sizes 5k,20k] [--runs 3]`.

For each size (bench/platform_app.py: N apps x 3 environments), the real `mlkube synth` as a
subprocess, on tmpfs, with the cache in a scratch folder:
- fresh, serial (`--no-cache --jobs 1`: what synth did before issue 22's items 4 and 5);
- fresh, parallel (`--no-cache`, jobs = the CPUs available);
- fresh with an empty cache (the default: cache written, jobs auto);
- re-synth unchanged (the cache warm);
- re-synth with one app changed (a new image tag: its objects in every environment);
- build only: start-up, the synth command's imports and every construct built, nothing synthesized. No cache can
  skip this part of a re-synth of a platform written in Python (its apps are functions that must run), so it is
  the floor of the re-synth rows.
Prints wall and CPU seconds (user + system, with the children waited for: jsii's Node and the
workers) and peak RSS, medians over the runs; ratios against the fresh serial synth and against the fresh default
one (what issue 22's re-synth target compares with). A script, not a test.
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

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "bench" / "platform_app.py"
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None
OBJECTS_PER_APP = 39  # bench/platform_app.py: about 13 objects per app and environment, 3 environments (counted below)


#: The build-only process: what `mlkube synth` imports and runs before synthesizing, as it does (the collector tuned,
#: Node started in a thread while Python imports; the program waits for that thread before it exits).
BUILD_ONLY = ("import runpy, sys\nfrom mlkube.core.gc_tuning import tune_for_one_command\ntune_for_one_command()\n"
              "from mlkube.core.node_start import finish_early_start, start_node_early\nstart_node_early()\n"
              "import mlkube.cli.synth, mlkube.core.synth, mlkube.default_pipeline\nrunpy.run_path(sys.argv[1], run_name='build_only')\n"
              "finish_early_start()\n")


def synth(out: Path, apps: int, cache: Path, *flags: str, changed: int = -1) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak MiB of one `mlkube synth` (or, with the flag `build-only`, of building)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "constructs"), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
           "MLKUBE_BENCH_APPS": str(apps), "MLKUBE_BENCH_CHANGED": str(changed), "MLKUBE_CACHE_DIR": str(cache),
           "MLKUBE_LOCK_DIR": str(ROOT / "dist")}  # the repo's committed lock, whatever the folder (bench/run.py ENV)
    # Bytecode cached as on a user's machine, in a tmpfs folder (bench/run.py does the same): with PYTHONDONTWRITEBYTECODE
    # set, every command would compile mlkube's modules again.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(SCRATCH or tempfile.gettempdir()) / "mlkube-bench-pycache")
    command = [sys.executable, "-c", BUILD_ONLY, str(APP)] if flags == ("build-only",) else \
        [sys.executable, "-m", "mlkube", "synth", "--app", str(APP), "--out", str(out), *flags]
    start = time.perf_counter()
    with tempfile.TemporaryFile(dir=SCRATCH) as err:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"mlkube synth failed:\n{err.read().decode()[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(apps: int, runs: int) -> tuple[int, dict[str, list[tuple[float, float, float]]]]:
    rows: dict[str, list[tuple[float, float, float]]] = {}
    objects = 0
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="mlkube-resynth-", dir=SCRATCH) as folder:
            tmp = Path(folder)
            steps = [
                ("fresh, serial (--no-cache --jobs 1)", tmp / "serial", ("--no-cache", "--jobs", "1"), -1),
                ("fresh, parallel (--no-cache)", tmp / "parallel", ("--no-cache",), -1),
                ("fresh, cache empty (default)", tmp / "dist", (), -1),
                ("re-synth, unchanged", tmp / "dist", (), -1),
                ("re-synth, one app changed", tmp / "dist", (), 0),
                ("build only (the floor of a re-synth)", tmp / "unused", ("build-only",), -1),
            ]
            for name, out, flags, changed in steps:
                rows.setdefault(name, []).append(synth(out, apps, tmp / "cache", *flags, changed=changed))
            objects = sum(1 for _ in (tmp / "serial").glob("*/*/*.yaml"))
    return objects, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="5k", help="Objects (5k, 20k, 50k) or apps per environment, comma-separated.")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"CPUs available: {cpus}; load average at start: {os.getloadavg()[0]:.1f}\n")
    print("| objects | step | wall s | CPU s | peak MiB | wall vs fresh serial | CPU vs fresh serial | wall vs fresh default | CPU vs fresh default |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for size in options.sizes.split(","):
        apps = -(-int(size[:-1]) * 1000 // OBJECTS_PER_APP) if size.endswith("k") else int(size)
        objects, rows = measure(apps, options.runs)
        serial, default = rows["fresh, serial (--no-cache --jobs 1)"], rows["fresh, cache empty (default)"]
        serial_wall, serial_cpu = statistics.median(r[0] for r in serial), statistics.median(r[1] for r in serial)
        default_wall, default_cpu = statistics.median(r[0] for r in default), statistics.median(r[1] for r in default)
        for name, values in rows.items():
            wall, cpu, peak = (statistics.median(r[i] for r in values) for i in range(3))
            print(f"| {objects:,} | {name} | {wall:.2f} | {cpu:.2f} | {peak:.0f} | {wall / serial_wall:.0%} | {cpu / serial_cpu:.0%} | "
                  f"{wall / default_wall:.0%} | {cpu / default_cpu:.0%} |", flush=True)


if __name__ == "__main__":
    main()
