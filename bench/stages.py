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
    options = parser.parse_args()
    os.environ["MLKUBE_BENCH_APPS"] = str(options.apps)
    sys.path[:0] = [str(ROOT / "constructs"), str(ROOT / "bench")]

    from mlkube.core import synth
    from mlkube.output import replace_tree

    rows: list[tuple[str, float]] = [("start-up (Python, cdk8s, Node)", time.perf_counter() - STARTED)]

    def timed(name: str, function, *args) -> None:  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        function(*args)
        rows.append((name, time.perf_counter() - start))

    start = time.perf_counter()
    import platform_app  # builds every construct: Python specs and one Node call per construct

    rows.append(("build constructs", time.perf_counter() - start))
    # Scratch on tmpfs: the write stage then measures the program, not the shared disk (issue 22).
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as folder:
        ctx = synth.SynthContext(platform_app.platform, Path(folder) / "dist")
        timed("collect (one Node call per tree)", synth.collect, ctx)
        pipeline = platform_app.platform.pipeline
        for step in pipeline.transforms:
            timed(f"transform: {step.__module__.split('.')[-2]}.{step.__name__}", step, ctx)
        for step in pipeline.checks:
            timed("validate: schemas and cross-object" if step.__name__ == "validate_objects" else f"check: {step.__name__}", step, ctx)
        timed("render YAML", synth.render, ctx)
        for step in pipeline.outputs:
            timed(f"output: {step.__name__}", step, ctx)
        timed("write the tree", replace_tree, ctx.out_dir, ctx.files)
        if ctx.problems:
            raise SystemExit(f"synth found problems: {ctx.problems[:3]}")
    total = sum(seconds for _, seconds in rows)
    print(f"{len(ctx.manifests)} objects, {total:.2f} s in all\n")
    print("| stage | seconds | share | ms per object |\n|---|---|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} | {seconds / total:.0%} | {seconds / len(ctx.manifests) * 1000:.3f} |")


if __name__ == "__main__":
    main()
