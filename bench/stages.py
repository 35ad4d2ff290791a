"""Where synth's time goes, stage by stage, in one process: `python bench/stages.py [--apps N]`.

Times the same stages `mlkube synth` runs (start-up, building the constructs, collecting, each
transform, schema and cross-object validation, each check, rendering, each output, writing), so a
change can be aimed at the stage that costs most. A script, not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTED = time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apps", type=int, default=239, help="Apps per environment (239 gives about 5,000 objects).")
    parser.add_argument("--out", type=Path, help="Output folder, kept (default: a scratch folder). With the cache on, run twice "
                        "with the same --out to time a re-synth (the second run reuses the first's results).")
    parser.add_argument("--cache", action="store_true", help="Use the synth cache and parallel workers as `mlkube synth` does "
                        "(default: neither, the plain steps).")
    options = parser.parse_args()
    os.environ["MLKUBE_BENCH_APPS"] = str(options.apps)
    # The lock `mlkube synth --out DIR` reads in this repo (bench/run.py ENV): without it the lock transforms walk nothing.
    os.environ.setdefault("MLKUBE_LOCK_DIR", str(ROOT / "dist"))
    sys.path[:0] = [str(ROOT / "constructs"), str(ROOT / "bench")]

    from mlkube.core import synth
    from mlkube.core.gc_tuning import freeze_built_objects, tune_for_one_command
    from mlkube.core.pipeline import execution_order
    from mlkube.output import writing_tree

    tune_for_one_command()  # as `mlkube synth` does (core/gc_tuning.py); MLKUBE_GC=default leaves the collector alone

    # Wall seconds, and this process's CPU seconds (steadier on a shared machine; Node's own CPU is not in it).
    rows: list[tuple[str, float, float]] = [("start-up (Python, cdk8s, Node)", time.perf_counter() - STARTED, time.process_time())]

    def timed(name: str, function, *args) -> None:  # type: ignore[no-untyped-def]
        start, cpu = time.perf_counter(), time.process_time()
        function(*args)
        rows.append((name, time.perf_counter() - start, time.process_time() - cpu))

    start, cpu = time.perf_counter(), time.process_time()
    import platform_app  # builds every construct: Python specs (created in Node only if Node is asked: core/lazy_node.py)

    rows.append(("build constructs", time.perf_counter() - start, time.process_time() - cpu))
    # Scratch on tmpfs: the write stage then measures the program, not the shared disk (issue 22).
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as folder:
        out = options.out or Path(folder) / "dist"
        freeze_built_objects()  # as synth.synthesize does
        ctx = synth.SynthContext(platform_app.platform, out)
        pipeline = platform_app.platform.pipeline
        cache = pipeline.cache  # the default pipeline's: mlkube.incremental.steps
        if options.cache:
            timed("open the synth cache", lambda: setattr(ctx, "store", cache.start(out, platform_app.platform)))
        else:
            os.environ["MLKUBE_JOBS"] = "1"
        timed("collect (one Node call per tree)", synth.collect, ctx)
        for step in pipeline.transforms:
            timed(f"transform: {step.__module__.split('.')[-2]}.{step.__name__}", step, ctx)
        timed("prepare: the cache's reused results; the parallel per-object work started", cache.prepare, ctx)
        for step in (pipeline.checks[index] for index in execution_order(pipeline.checks)):  # as synth.check runs them
            timed("validate: schemas and cross-object" if step.__name__ == "validate_objects" else f"check: {step.__name__}", step, ctx)
        timed("plan the files", synth.plan_files, ctx)
        with writing_tree(ctx.out_dir, ctx.written) as tree:  # as synth.synthesize does
            timed("render YAML into the new tree (or link an unchanged file)", synth.render, ctx, tree)
            for step in pipeline.outputs:
                timed(f"output: {step.__name__}", step, ctx)
            timed("swap the tree in", tree.commit, ctx.files)
        timed("save the synth cache", cache.finish, ctx, ctx.written)
        if ctx.problems:
            raise SystemExit(f"synth found problems: {ctx.problems[:3]}")
    total, total_cpu = sum(row[1] for row in rows), sum(row[2] for row in rows)
    print(f"{len(ctx.manifests)} objects, {total:.2f} s in all ({total_cpu:.2f} s CPU)\n")
    print("| stage | seconds | CPU s | share of CPU | CPU ms per object |\n|---|---|---|---|---|")
    for name, seconds, cpu_seconds in rows:
        print(f"| {name} | {seconds:.3f} | {cpu_seconds:.3f} | {cpu_seconds / total_cpu:.0%} | {cpu_seconds / len(ctx.manifests) * 1000:.3f} |")


if __name__ == "__main__":
    main()
