"""`mlkube synth` peak memory: the Python process and jsii's Node apart, with CPU seconds.

    .venv/bin/python bench/synth_memory.py [--sizes 5k,20k,50k] [--runs 1] [--no-cache] [--jobs N] [--environments prod]

For each size, synthesizes the bench platform (bench/platform_app.py) into a tmpfs folder under
`/usr/bin/time -v` (GNU time: "Maximum resident set size" is the largest of the process and the
children it waited for, so jsii's Node can be the one it reports) and prints, medians of the runs:
CPU seconds (user + system, Node included), CPU milliseconds per object, GNU time's max RSS, and the
peak RSS (VmHWM) of the Python process and of Node apart, read from /proc just before the command
exits (a wrapper runs the CLI in-process). Issue 22's target: the Python process under 200 MiB at
50k objects. Each run has its own empty synth cache (MLKUBE_CACHE_DIR on tmpfs). A script, not a test.

``--environments prod`` synthesizes only those environments of each size's platform (the same apps): what a synth
that built, checked and wrote one environment at a time would hold at most.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import BENCH, ENV, SCRATCH, apps_for, describe_machine, mlkube

TIME = shutil.which("time", path="/usr/bin") or ""
#: Runs `mlkube ARGS` in this process; on the way out (before jsii stops Node) prints the peak RSS of
#: this process and of every process below it (jsii's Node), from /proc/PID/status VmHWM.
WRAPPER = r"""
import os, sys
def peak_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0
def descendants(pid):
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as children:
                for child in children.read().split():
                    found += [int(child), *descendants(int(child))]
        except OSError:
            pass
    return found
sys.argv = ["mlkube", *sys.argv[1:]]
try:
    import mlkube.cli as cli
    getattr(cli, "run", cli.main)()  # the mlkube program as its console script runs it (cli.main before it existed)
finally:
    others = {pid: peak_kib(pid) for pid in descendants(os.getpid())}
    print(f"PEAK python={peak_kib(os.getpid())} others={max(others.values(), default=0)} count={len(others)}", file=sys.stderr)
"""


def measured(apps: int, extra: list[str], constructs: str | None = None, resynth: bool = False,
             environments: str | None = None) -> tuple[float, float, float, float, float, int]:
    """(CPU s, wall s, GNU time max RSS MiB, Python VmHWM MiB, Node VmHWM MiB, objects) of one fresh synth (``resynth``:
    of a second synth into the same folder, with the cache the first one wrote)."""
    with tempfile.TemporaryDirectory(dir=SCRATCH) as folder, tempfile.TemporaryDirectory(dir=SCRATCH) as cache:
        out = Path(folder) / "dist"
        command = [sys.executable, "-c", WRAPPER, *mlkube("synth", "--app", str(BENCH / "platform_app.py"), "--out", str(out), *extra)[3:]]
        env = {**ENV, "MLKUBE_BENCH_APPS": str(apps), "MLKUBE_CACHE_DIR": cache, **({"PYTHONPATH": constructs} if constructs else {}),
               **({"MLKUBE_BENCH_ENVIRONMENTS": environments} if environments else {})}
        if resynth:
            subprocess.run(command, env=env, capture_output=True, check=True)
        result = subprocess.run([TIME, "-v", *command] if TIME else command, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"failed: {' '.join(command[3:])}\n{result.stderr[-3000:]}")
        peak = re.search(r"PEAK python=(\d+) others=(\d+)", result.stderr)
        objects = sum(1 for _ in out.glob("*/*/*.yaml"))
        if not TIME:
            return float("nan"), float("nan"), float("nan"), int(peak[1]) / 1024 if peak else 0, int(peak[2]) / 1024 if peak else 0, objects
        fields = dict(line.strip().rpartition(": ")[::2] for line in result.stderr.splitlines() if ": " in line)
        wall = fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")
        return (float(fields["User time (seconds)"]) + float(fields["System time (seconds)"]), float(wall[-1]) + 60 * float(wall[-2]),
                int(fields["Maximum resident set size (kbytes)"]) / 1024,
                int(peak[1]) / 1024 if peak else float("nan"), int(peak[2]) / 1024 if peak else float("nan"), objects)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="5k,20k,50k", help="object counts, e.g. 5k,20k,50k or an app count like 129a")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-cache", action="store_true", help="pass --no-cache to mlkube synth")
    parser.add_argument("--jobs", type=int, help="pass --jobs N to mlkube synth")
    parser.add_argument("--resynth", action="store_true", help="measure a re-synth, unchanged, into the folder of a first synth")
    parser.add_argument("--environments", help="synthesize only these environments of each size's platform, e.g. prod")
    parser.add_argument("--constructs", help="the source root to run instead of this checkout's constructs/ (e.g. an older "
                        "commit's, from `git archive COMMIT constructs | tar -x -C DIR`: before and after in one run)")
    options = parser.parse_args()
    extra = (["--no-cache"] if options.no_cache else []) + (["--jobs", str(options.jobs)] if options.jobs else [])
    print(describe_machine())
    if options.constructs:
        print(f"source: {options.constructs}")
    print(f"command: mlkube synth --app bench/platform_app.py --out DIR {' '.join(extra)}".rstrip()
          + (" (a re-synth, unchanged: the second synth into DIR)" if options.resynth else "")
          + (f" (only environments {options.environments} of each size's platform)" if options.environments else ""))
    print()
    print("| objects | CPU s | CPU ms/object | wall s | max RSS MiB (GNU time) | Python peak MiB | Node peak MiB | target (Python < 200 MiB at 50k) |")
    print("|---|---|---|---|---|---|---|---|")
    for size in options.sizes.split(","):
        if size.endswith("a"):
            apps = int(size[:-1])
        else:
            apps = apps_for(int(float(size.rstrip("k")) * (1000 if size.endswith("k") else 1)))
        runs = [measured(apps, extra, options.constructs, options.resynth, options.environments) for _ in range(options.runs)]
        cpu, wall, rss, python, node, objects = (statistics.median(values) for values in zip(*runs, strict=True))
        verdict = ("met" if python < 200 else "not met") if objects >= 45_000 and not options.environments else ""
        print(f"| {int(objects):,} | {cpu:.2f} | {cpu / objects * 1000:.3f} | {wall:.1f} | {rss:.0f} | {python:.0f} | {node:.0f} | {verdict} |",
              flush=True)


if __name__ == "__main__":
    main()
