"""The render floor, with and without PyYAML's Python representer: `python bench/render_floor.py [--apps N]`.

Builds the bench platform (bench/platform_app.py) once, then times rendering its final object dicts:
- PyYAML's C dumper on the plain dicts (the floor of the issue: libyaml emitter, Python representer);
- the same floor without the representer: the nodes it would build, built beforehand, serialized by libyaml;
- mlkube's reference path (`render.to_yaml_pyyaml`: the same, with mlkube's key order and literal blocks);
- mlkube's emitter (`render.to_yaml`: the same bytes, no Python representer; checked equal here).
Prints seconds and ms per object. A script, not a test.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apps", type=int, default=139, help="Apps per environment (139 gives about 5,000 objects).")
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each renderer; the best is printed.")
    options = parser.parse_args()
    os.environ["MLKUBE_BENCH_APPS"] = str(options.apps)
    sys.path[:0] = [str(ROOT / "constructs"), str(ROOT / "bench")]
    import tempfile

    import platform_app
    import yaml

    from mlkube.core import synth
    from mlkube.kube import render

    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as folder:
        ctx = synth.SynthContext(platform_app.platform, Path(folder) / "dist")
        synth.collect(ctx)
        for step in platform_app.platform.pipeline.transforms:
            step(ctx)
    objects = [manifest.obj for manifest in ctx.manifests]

    def floor() -> None:
        for obj in objects:
            yaml.dump(obj, Dumper=yaml.CSafeDumper, sort_keys=True, default_flow_style=False)

    def represented(obj: object) -> yaml.Node:
        dumper = yaml.CSafeDumper(io.StringIO(), sort_keys=True, default_flow_style=False)
        return dumper.represent_data(obj)

    nodes = [represented(obj) for obj in objects]

    def floor_without_representer() -> None:
        for node in nodes:
            yaml.serialize(node, Dumper=yaml.CSafeDumper)

    def reference() -> None:
        for obj in objects:
            render.to_yaml_pyyaml(obj)

    def emitter() -> None:
        for obj in objects:
            render.to_yaml(obj)

    assert all(render.to_yaml(obj) == render.to_yaml_pyyaml(obj) for obj in objects), "emitter differs from PyYAML"
    assert all(yaml.serialize(node, Dumper=yaml.CSafeDumper)
               == yaml.dump(obj, Dumper=yaml.CSafeDumper, sort_keys=True, default_flow_style=False)
               for node, obj in zip(nodes, objects, strict=True)), "the floor without the representer writes other bytes"
    print(f"{len(objects)} objects, best of {options.repeat}\n")
    print("| renderer | seconds | ms per object |\n|---|---|---|")
    for name, function in [("floor: yaml.dump, CSafeDumper (Python representer)", floor),
                           ("floor without the representer: libyaml serializes nodes built beforehand", floor_without_representer),
                           ("mlkube reference: to_yaml_pyyaml (Python representer)", reference),
                           ("mlkube emitter: to_yaml (no representer, same bytes)", emitter)]:
        best = float("inf")
        for _ in range(options.repeat):
            start = time.perf_counter()
            function()
            best = min(best, time.perf_counter() - start)
        print(f"| {name} | {best:.3f} | {best / len(objects) * 1000:.3f} |")


if __name__ == "__main__":
    main()
