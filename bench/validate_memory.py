"""`mlkube validate` on files: CPU per object and peak memory, measured by `/usr/bin/time -v`.

    .venv/bin/python bench/validate_memory.py [--sizes 5k,20k] [--runs 3]

For each size, synthesizes the bench platform (bench/platform_app.py, one file per object) into a tmpfs
folder, then runs `mlkube validate DIR` under `/usr/bin/time -v` (GNU time: "Maximum resident set size",
user and system seconds) and prints per object CPU milliseconds (whole command, start-up included) and
peak MiB, medians of the runs, next to PyYAML's C loader parsing the same files in one process (the
issue's reference, measured in the same run: the ratio holds better than the figures on a loaded machine),
against issue 22's targets (at most 0.3 ms per object, under 150 MiB at
20k). Without GNU time, the process's own rusage (os.wait4) gives the same two figures. A script, not a test.
"""

from __future__ import annotations

import argparse
import os
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
#: The reference of issue 22: the same files parsed by PyYAML's C loader in one process (no checks at all).
C_LOADER = r"""
import sys, yaml
from pathlib import Path
count = 0
for path in sorted(Path(sys.argv[1]).rglob("*.yaml")):
    count += sum(1 for document in yaml.load_all(path.read_bytes(), Loader=yaml.CSafeLoader) if document is not None)
print(f"{count} objects valid")
"""


def measured(command: list[str], apps: int) -> tuple[float, float, float, int]:
    """(CPU seconds, peak MiB, wall seconds, objects validated) of one run of ``mlkube validate``."""
    env = {**ENV, "MLKUBE_BENCH_APPS": str(apps)}
    if TIME:
        result = subprocess.run([TIME, "-v", *command], env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"failed: {' '.join(command)}\n{result.stderr[-3000:]}")
        fields = dict(line.strip().rpartition(": ")[::2] for line in result.stderr.splitlines() if ": " in line)
        wall = fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")
        return (float(fields["User time (seconds)"]) + float(fields["System time (seconds)"]),
                int(fields["Maximum resident set size (kbytes)"]) / 1024, float(wall[-1]) + 60 * float(wall[-2]),
                _objects(result.stdout))
    with tempfile.TemporaryFile("w+", dir=SCRATCH) as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.DEVNULL, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"failed: {' '.join(command)}")
        out.seek(0)
        return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, float("nan"), _objects(out.read())


def _objects(stdout: str) -> int:
    found = re.search(r"(\d+) objects valid", stdout)
    return int(found.group(1)) if found else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="5k,20k", help="Object counts, comma-separated (5k = about 5,000 objects).")
    parser.add_argument("--runs", type=int, default=3, help="Runs of validate per size; medians are printed.")
    options = parser.parse_args()
    print(f"{describe_machine()}\n- load average when it started: {os.getloadavg()[0]:.1f}\n"
          f"- measured with: {'/usr/bin/time -v' if TIME else 'os.wait4 rusage'}\n")
    print("| objects | command | CPU s | CPU ms per object | peak MiB | wall s | target: at most 0.3 ms/object; under 150 MiB at 20k |")
    print("|---|---|---|---|---|---|---|")
    for size in options.sizes.split(","):
        apps = apps_for(int(size[:-1]) * 1000) if size.endswith("k") else int(size)
        with tempfile.TemporaryDirectory(prefix="mlkube-validate-", dir=SCRATCH) as folder:
            dist = Path(folder) / "dist"
            subprocess.run(mlkube("synth", "--app", str(BENCH / "platform_app.py"), "--out", str(dist)), check=True,
                           env={**ENV, "MLKUBE_BENCH_APPS": str(apps)}, capture_output=True)
            runs = [(measured(mlkube("validate", str(dist)), apps), measured([sys.executable, "-c", C_LOADER, str(dist)], apps))
                    for _ in range(options.runs)]
        for name, index in (("mlkube validate", 0), ("C loader, parse only", 1)):
            cpu, peak, wall, objects = (statistics.median(values) for values in zip(*(run[index] for run in runs), strict=True))
            per_object = cpu / objects * 1000
            verdict = ("met" if per_object <= 0.3 else "not met") + (
                f"; {'met' if peak < 150 else 'not met'}" if objects >= 20_000 else "") if index == 0 else "(reference)"
            print(f"| {int(objects):,} | {name} | {cpu:.2f} | {per_object:.3f} | {peak:.0f} | {wall:.2f} | {verdict} |", flush=True)


if __name__ == "__main__":
    main()
