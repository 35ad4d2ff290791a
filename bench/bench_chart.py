"""Benchmark: `mlkube chart` on the example platform (not a test).

    .venv/bin/python bench/bench_chart.py [--app fraud-scoring --env dev]

Times, through the real CLI from the repository root, one chart (APP in ENV) and every chart of the example
(`mlkube chart --all`), and prints wall and CPU seconds (the CPU of the command and its Node child: the
machine is shared, so wall time depends on its load; CPU time much less).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(*args: str) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "mlkube", "chart", *args], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"})
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", default="fraud-scoring")
    parser.add_argument("--env", default="dev")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlkube-bench-chart-") as folder:
        wall, cpu, _ = timed(options.app, "--env", options.env, "--out", f"{folder}/one")
        print(f"mlkube chart {options.app} --env {options.env}: {wall:.1f} s wall, {cpu:.1f} s CPU")
        wall, cpu, out = timed("--all", "--out", f"{folder}/all")
        charts = out.count("\nchart ") + out.startswith("chart ")
        print(f"mlkube chart --all: {charts} charts, {wall:.1f} s wall ({wall / charts:.1f} s a chart), {cpu:.1f} s CPU")
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
