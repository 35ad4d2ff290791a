"""What tuning Python's garbage collector for one synth gives (core/gc_tuning.py): `python bench/gc_tuning.py`.

    .venv/bin/python bench/gc_tuning.py --sizes 5k,20k --runs 3

For each size (bench/platform_app.py), the real `mlkube synth` as a subprocess on tmpfs, run by run
alternately with the collector as Python sets it (`MLKUBE_GC=default`) and tuned (the default), serial and
without the cache (`--no-cache --jobs 1`: every object built, checked and rendered in one process) and in the
default mode (cache written, workers). Prints wall and CPU seconds (the process and its children: jsii's
Node, the workers) and peak RSS, medians, and the tuned/default ratios; checks that both trees are the same
files, byte for byte. A script, not a test.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import tempfile
from pathlib import Path

from resynth import OBJECTS_PER_APP, SCRATCH, synth

MODES = {"serial (--no-cache --jobs 1)": ("--no-cache", "--jobs", "1"), "default (cache, workers)": ()}


def same_trees(left: Path, right: Path) -> bool:
    compared = filecmp.dircmp(left, right)
    if compared.left_only or compared.right_only or compared.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(left, right, compared.common_files, shallow=False)
    return not mismatch and not errors and all(same_trees(left / name, right / name) for name in compared.common_dirs)


def measure(apps: int, runs: int) -> dict[tuple[str, str], list[tuple[float, float, float]]]:
    rows: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="mlkube-gc-", dir=SCRATCH) as folder:
            for number, (mode, flags) in enumerate(MODES.items()):
                for collector in ("default", "tuned"):  # each synth into a folder and a cache of its own: all fresh
                    os.environ["MLKUBE_GC"] = collector
                    out, cache = Path(folder) / f"{collector}-{number}", Path(folder) / f"cache-{collector}-{number}"
                    rows.setdefault((mode, collector), []).append(synth(out, apps, cache, *flags))
                if not same_trees(Path(folder) / f"default-{number}", Path(folder) / f"tuned-{number}"):
                    raise SystemExit("the two collectors gave different trees")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="5k", help="Objects (5k, 20k, 50k) or apps per environment, comma-separated.")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}\n")
    print("| objects | mode | collector | wall s | CPU s | peak MiB | wall tuned/default | CPU tuned/default |\n|---|---|---|---|---|---|---|---|")
    for size in options.sizes.split(","):
        apps = -(-int(size[:-1]) * 1000 // OBJECTS_PER_APP) if size.endswith("k") else int(size)
        rows = measure(apps, options.runs)
        for mode in MODES:
            base = [statistics.median(r[i] for r in rows[(mode, "default")]) for i in range(3)]
            for collector in ("default", "tuned"):
                wall, cpu, peak = (statistics.median(r[i] for r in rows[(mode, collector)]) for i in range(3))
                print(f"| {apps * OBJECTS_PER_APP:,} | {mode} | {collector} | {wall:.2f} | {cpu:.2f} | {peak:.0f} | "
                      f"{wall / base[0]:.0%} | {cpu / base[1]:.0%} |", flush=True)


if __name__ == "__main__":
    main()
