"""Benchmarks at platform scale: `python bench/run.py [--sizes 10,100,5k,20k,50k] [--runs 3] [--no-plus]`.

For each size (apps x 3 environments), in the same run and on the same objects:
- mlkube: the real `mlkube synth` (build, validate, write), `validate`, `pin`, `diff`, as subprocesses;
  a re-synth into the same folder with nothing changed, and with one app changed (a new image tag);
- cdk8s-plus: the same serving set written with cdk8s-plus high-level classes, `app.synth()`;
- the floor: dumping the final object dicts with PyYAML's C dumper, in-process (files already parsed),
  and as a process (start Python, read the dicts from JSON, dump, write every file);
- `helm template` as a peer when helm is at .tools/helm/helm (or $HELM): one chart, one call for all apps.
Prints wall time (median of runs), peak memory, objects per second and the ratios, and writes
bench/RESULTS.md with the machine description and the commit. A script, not a test.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import json
import math
import os
import platform as machine
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = sys.executable
#: Bytecode cached as on a user's machine (in a tmpfs folder, out of the tree): with PYTHONDONTWRITEBYTECODE set,
#: every command would compile mlkube's modules again (0.1-0.3 s of start-up on this machine).
PYCACHE = Path("/dev/shm" if Path("/dev/shm").is_dir() else tempfile.gettempdir()) / "mlkube-bench-pycache"
ENV = {**{key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"},
       "PYTHONPATH": str(ROOT / "constructs"), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
       "PYTHONPYCACHEPREFIX": str(PYCACHE),
       # `mlkube synth --out DIR` in a config repo reads the repo's committed lock (pinning/lock.py lock_path): here the
       # example platform's dist/images.lock.json, so every synth pays the lock's walk over every object, as a real
       # repo's does. Named, so stages.py and every command see the same lock whatever their folder.
       "MLKUBE_LOCK_DIR": str(ROOT / "dist")}

FLOOR = r"""
import sys, time, yaml
from pathlib import Path
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
objects = [(p.relative_to(src), yaml.load(p.read_text(), Loader=yaml.CSafeLoader)) for p in sorted(src.glob("*/*/*.yaml"))]
start = time.perf_counter()
for relative, obj in objects:
    target = dst / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.dump(obj, Dumper=yaml.CSafeDumper, sort_keys=True, default_flow_style=False))
print(time.perf_counter() - start)
"""

#: The floor as a whole process: the final dicts from one JSON file (C parser), PyYAML's C dumper, every file written.
FLOOR_PROCESS = r"""
import json, sys, yaml
from pathlib import Path
dst = Path(sys.argv[2])
objects = json.loads(Path(sys.argv[1]).read_text())
folders = set()
for relative, obj in objects:
    target = dst / relative
    if target.parent not in folders:
        target.parent.mkdir(parents=True, exist_ok=True)
        folders.add(target.parent)
    target.write_text(yaml.dump(obj, Dumper=yaml.CSafeDumper, sort_keys=True, default_flow_style=False))
"""

#: Scratch on tmpfs where the machine has one: the figures are then the programs', not the shared disk's.
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None
#: The synth cache (mlkube.incremental) in scratch: each output folder of a run has its own, so every first synth is cold.
ENV["MLKUBE_CACHE_DIR"] = tempfile.mkdtemp(prefix="mlkube-bench-cache-", dir=SCRATCH)
atexit.register(shutil.rmtree, ENV["MLKUBE_CACHE_DIR"], True)
#: CPU seconds (user + system, with waited children) of the last run(): steadier than wall time on a shared machine.
LAST_CPU = [0.0]
HELM = Path(os.environ.get("HELM") or ROOT / ".tools" / "helm" / "helm")


#: GNU time reports a command's own peak RSS. wait4's ru_maxrss would not: Linux carries the parent's high-water
#: mark into a forked child until it execs (exec_mmap keeps the larger), so every command run from this process,
#: which holds a whole platform's objects, would report at least this process's size.
GNU_TIME = "/usr/bin/time"


def run(command: list[str], apps: int, cwd: Path = ROOT, extra_env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, the command's peak RSS in MiB (the largest of it and the children it waited for: jsii's Node), stdout."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+", dir=SCRATCH) as out, tempfile.TemporaryFile("w+", dir=SCRATCH) as err, \
            tempfile.NamedTemporaryFile("r", dir=SCRATCH) as peak_file:
        timed = [GNU_TIME, "-f", "%M", "-o", peak_file.name, *command] if os.access(GNU_TIME, os.X_OK) else command
        process = subprocess.Popen(timed, cwd=cwd, env={**ENV, "MLKUBE_BENCH_APPS": str(apps), **(extra_env or {})},
                                   stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        LAST_CPU[0] = usage.ru_utime + usage.ru_stime
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
        reported = peak_file.read().strip().splitlines()
        peak_kib = int(reported[-1]) if reported and reported[-1].isdigit() else usage.ru_maxrss
    if process.returncode != 0:
        raise SystemExit(f"benchmark step failed: {' '.join(command)}\n{stderr[-3000:]}")
    return seconds, peak_kib / 1024, stdout


def count_objects(dist: Path) -> int:
    return sum(1 for _ in dist.glob("*/*/*.yaml"))


def count_documents(folder: Path) -> int:
    """Objects in cdk8s's own output (one multi-document file per chart)."""
    return sum(text.count("\nkind: ") + text.startswith("kind: ") for text in (p.read_text() for p in folder.glob("*.yaml")))


def mlkube(*args: str) -> list[str]:
    return [PYTHON, "-m", "mlkube", *args]


@functools.cache
def has_command(name: str) -> bool:
    result = subprocess.run(mlkube(name, "--help"), env=ENV, capture_output=True, text=True)
    return result.returncode == 0


def write_digests(dist: Path, path: Path) -> int:
    import hashlib

    import yaml
    references = set()
    for file in dist.glob("*/*/*.yaml"):
        for line in file.read_text().splitlines():
            stripped = line.strip().removeprefix("- ")
            if stripped.startswith("image: "):
                references.add(stripped.split(": ", 1)[1].strip("'\""))
    digests = {ref: "sha256:" + hashlib.sha256(ref.encode()).hexdigest() for ref in sorted(references) if "@" not in ref}
    path.write_text(json.dumps(digests, indent=2))
    del yaml
    return len(digests)


def bump_images(dist: Path, every: int = 10) -> None:
    for index, file in enumerate(sorted(dist.glob("*/*/deployment-*.yaml"))):
        if index % every == 0:
            file.write_text(file.read_text().replace(":1.0\n", ":1.1\n"))


def dump_objects(dist: Path, path: Path) -> None:
    import yaml
    objects = [(str(p.relative_to(dist)), yaml.load(p.read_text(), Loader=yaml.CSafeLoader)) for p in sorted(dist.glob("*/*/*.yaml"))]
    path.write_text(json.dumps(objects))


def helm_chart(dist: Path, apps: int, chart: Path) -> None:
    """A chart whose templates are app-0000's rendered files, ranged over every app of values.yaml."""
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: peer\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("apps:\n" + "".join(f"- app-{index:04d}\n" for index in range(apps)))
    for environment in sorted(p.name for p in dist.iterdir() if p.is_dir() and (p / "app-0000").is_dir()):
        documents = [f.read_text().replace("app-0000", "{{ $app }}") for f in sorted((dist / environment / "app-0000").glob("*.yaml"))]
        body = "".join(f"---\n{text}" for text in documents)
        (chart / "templates" / f"{environment}.yaml").write_text("{{- range $app := .Values.apps }}\n" + body + "{{- end }}\n")


def measure(apps: int, runs: int, plus: bool = True) -> dict[str, object]:
    results: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    peaks: dict[str, float] = {}
    objects = plus_objects = helm_objects = 0
    with tempfile.TemporaryDirectory(prefix="mlkube-bench-", dir=SCRATCH) as folder:
        tmp = Path(folder)
        for attempt in range(runs):
            dist = tmp / f"dist-{attempt}"
            seconds, peak, _ = run(mlkube("synth", "--app", str(BENCH / "platform_app.py"), "--out", str(dist)), apps)
            results.setdefault("mlkube synth", []).append(seconds)
            cpus.setdefault("mlkube synth", []).append(LAST_CPU[0])
            peaks["mlkube synth"] = max(peaks.get("mlkube synth", 0), peak)
            objects = count_objects(dist)
            seconds, peak, _ = run(mlkube("synth", "--app", str(BENCH / "platform_app.py"), "--out", str(dist)), apps)
            results.setdefault("mlkube re-synth, unchanged", []).append(seconds)
            cpus.setdefault("mlkube re-synth, unchanged", []).append(LAST_CPU[0])
            peaks["mlkube re-synth, unchanged"] = max(peaks.get("mlkube re-synth, unchanged", 0), peak)
            seconds, _, _ = run(mlkube("synth", "--app", str(BENCH / "platform_app.py"), "--out", str(dist)), apps,
                                extra_env={"MLKUBE_BENCH_CHANGED": "0"})
            results.setdefault("mlkube re-synth, one app changed", []).append(seconds)
            cpus.setdefault("mlkube re-synth, one app changed", []).append(LAST_CPU[0])
            seconds, peak, _ = run(mlkube("validate", str(dist)), apps)
            results.setdefault("mlkube validate", []).append(seconds)
            cpus.setdefault("mlkube validate", []).append(LAST_CPU[0])
            peaks["mlkube validate"] = max(peaks.get("mlkube validate", 0), peak)
            floor_seconds = float(run([PYTHON, "-c", FLOOR, str(dist), str(tmp / f"floor-{attempt}")], apps)[2].strip())
            results.setdefault("floor (PyYAML C dump)", []).append(floor_seconds)
            dump_objects(dist, tmp / "objects.json")
            seconds, peak, _ = run([PYTHON, "-c", FLOOR_PROCESS, str(tmp / "objects.json"), str(tmp / f"floor-process-{attempt}")], apps)
            results.setdefault("floor as a process", []).append(seconds)
            cpus.setdefault("floor as a process", []).append(LAST_CPU[0])
            peaks["floor as a process"] = max(peaks.get("floor as a process", 0), peak)
            if HELM.is_file():
                chart = tmp / f"chart-{attempt}"
                helm_chart(dist, apps, chart)
                seconds, _, rendered = run([str(HELM), "template", "peer", str(chart)], apps)
                results.setdefault("helm template (peer)", []).append(seconds)
                cpus.setdefault("helm template (peer)", []).append(LAST_CPU[0])
                helm_objects = rendered.count("\nkind: ")
            if plus:
                seconds, peak, _ = run([PYTHON, str(BENCH / "cdk8s_plus_app.py"), str(tmp / f"plus-{attempt}")], apps)
                plus_objects = count_documents(tmp / f"plus-{attempt}")
                results.setdefault("cdk8s-plus synth", []).append(seconds)
                cpus.setdefault("cdk8s-plus synth", []).append(LAST_CPU[0])
                peaks["cdk8s-plus synth"] = max(peaks.get("cdk8s-plus synth", 0), peak)
            if has_command("pin"):
                pinned = tmp / f"pinned-{attempt}"
                shutil.copytree(dist, pinned)
                digests = tmp / "digests.json"
                write_digests(pinned, digests)
                seconds, _, _ = run(mlkube("pin", "--digests", str(digests), "--dist", str(pinned)), apps)
                results.setdefault("mlkube pin", []).append(seconds)
                cpus.setdefault("mlkube pin", []).append(LAST_CPU[0])
            if has_command("diff"):
                head = tmp / f"head-{attempt}"
                shutil.copytree(dist, head)
                bump_images(head)
                seconds, _, _ = run(mlkube("diff", str(dist), str(head), "--format", "json"), apps)
                results.setdefault("mlkube diff", []).append(seconds)
                cpus.setdefault("mlkube diff", []).append(LAST_CPU[0])
    medians = {name: statistics.median(values) for name, values in results.items()}
    counts = {"cdk8s-plus synth": plus_objects, "helm template (peer)": helm_objects}
    cpu = {name: statistics.median(values) for name, values in cpus.items()}
    return {"apps": apps, "objects": objects, "counts": counts, "seconds": medians, "cpu": cpu, "peak_mib": peaks}


def startup(runs: int) -> float:
    """Median wall seconds of a one-app synth (each into a scratch folder removed afterwards)."""
    seconds = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(dir=SCRATCH) as folder:
            seconds.append(run(mlkube("synth", "--app", str(BENCH / "platform_app.py"), "--out", folder), 1)[0])
    return statistics.median(seconds)


def apps_for(target_objects: int) -> int:
    with tempfile.TemporaryDirectory(dir=SCRATCH) as folder:
        run(mlkube("synth", "--app", str(BENCH / "platform_app.py"), "--out", folder), 1)
        per_app = count_objects(Path(folder))
    return max(1, math.ceil(target_objects / per_app))


def describe_machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), machine.processor())
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "?")
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "constructs", "bench"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return (f"- commit: `{commit}`{' (with uncommitted changes)' if dirty else ''}\n- CPU: {cpu}, {os.cpu_count()} cores; memory {int(memory) // 1024} MiB\n"
            f"- Python {machine.python_version()}, Node {node}, {machine.system()} {machine.release()}")


def help_time(runs: int) -> tuple[float, float]:
    """Wall and CPU seconds of `mlkube --help` (medians)."""
    walls, cpus = [], []
    for _ in range(runs):
        before = os.times()
        walls.append(run(mlkube("--help"), 1)[0])
        after = os.times()
        cpus.append((after.children_user - before.children_user) + (after.children_system - before.children_system))
    return statistics.median(walls), statistics.median(cpus)


def render(rows: list[dict[str, object]], start_up: float, runs: int, help_seconds: float = 0.0, help_cpu: float = 0.0) -> str:
    lines = ["| apps x envs | objects | step | median s | CPU s | objects/s | peak MiB | vs floor as a process (wall; CPU) | "
             "mlkube synth vs cdk8s-plus (per object; in total; CPU in total) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        seconds: dict[str, float] = row["seconds"]  # type: ignore[assignment]
        cpu: dict[str, float] = row["cpu"]  # type: ignore[assignment]
        floor, synth = seconds["floor as a process"], seconds["mlkube synth"]
        plus = seconds.get("cdk8s-plus synth")
        for step, value in seconds.items():
            count = row["counts"].get(step) or row["objects"]  # type: ignore[union-attr]
            ratio_floor = f"{value / floor:.2f}x" + (f"; {cpu[step] / cpu['floor as a process']:.2f}x" if step in cpu else "")
            ratio_plus = ""
            if step == "mlkube synth" and plus:
                per_object = (plus / row["counts"]["cdk8s-plus synth"]) / (synth / row["objects"])  # type: ignore[index,operator]
                ratio_plus = (f"{per_object:.1f}x faster; {plus / synth:.1f}x; "
                              f"{cpu['cdk8s-plus synth'] / cpu['mlkube synth']:.1f}x")
            peak = row["peak_mib"].get(step, "")  # type: ignore[union-attr]
            cpu_text = f"{cpu[step]:.2f}" if step in cpu else ""
            lines.append(f"| {row['apps']} x 3 | {count} | {step} | {value:.2f} | {cpu_text} | {count / value:,.0f} | "  # type: ignore[operator]
                         f"{f'{peak:.0f}' if peak else ''} | {ratio_floor} | {ratio_plus} |")
    per_object = [(row["seconds"]["mlkube validate"] / row["objects"]) * 1000 for row in rows]  # type: ignore[index]
    synth_ms = [(row["seconds"]["mlkube synth"] / row["objects"]) * 1000 for row in rows]  # type: ignore[index]
    lines += ["", f"Start-up (a one-app platform, `mlkube synth`, median of {runs}): **{start_up:.2f} s**.",
              f"`mlkube --help`: {help_seconds:.3f} s wall, {help_cpu:.3f} s CPU (median of {runs}).",
              f"`mlkube synth` per object (whole command): {', '.join(f'{v:.2f} ms' for v in synth_ms)}.",
              f"`mlkube validate` per object (whole command, including start-up): {', '.join(f'{v:.2f} ms' for v in per_object)}."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,5k", help="Apps per environment, comma-separated; '5k' (or '20k', '50k') means "
                        "enough apps for about 5,000 (20,000, 50,000) objects.")
    parser.add_argument("--no-plus", action="store_true", help="Skip the cdk8s-plus reference (minutes at 50k objects).")
    parser.add_argument("--runs", type=int, default=3, help="Runs per size; medians are reported.")
    parser.add_argument("--write", action="store_true", help="Write bench/RESULTS.md (the measured table; the analysis is kept).")
    options = parser.parse_args()
    sizes = [apps_for(int(size[:-1]) * 1000) if size.endswith("k") else int(size) for size in options.sizes.split(",")]
    rows = []
    for apps in sizes:
        print(f"measuring {apps} apps x 3 environments ...", file=sys.stderr, flush=True)
        rows.append(measure(apps, options.runs, plus=not options.no_plus))
    table = render(rows, startup(options.runs), options.runs, *help_time(options.runs))
    flags = " --no-plus" if options.no_plus else ""
    report = (f"## Measured\n\n{describe_machine()}\n- load average when it started: {os.getloadavg()[0]:.1f}\n"
              f"- command: `python bench/run.py --sizes {options.sizes} --runs {options.runs}{flags}`\n\n{table}\n")
    print(report)
    if options.write:
        results = BENCH / "RESULTS.md"
        text = results.read_text() if results.exists() else "# Benchmarks\n\n<!-- measured -->\n<!-- /measured -->\n"
        head, _, rest = text.partition("<!-- measured -->")
        _, _, tail = rest.partition("<!-- /measured -->")
        results.write_text(f"{head}<!-- measured -->\n{report}<!-- /measured -->{tail}")


if __name__ == "__main__":
    main()
