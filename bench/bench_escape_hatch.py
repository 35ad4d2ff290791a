"""Benchmark: what cdk8s interop costs synth (escape-hatch patches, the tree read, node validations). Not a test.

    PYTHONPATH=constructs python bench/bench_escape_hatch.py [--servers 500] [--repeat 3]

Synthesizes N InferenceServices (7 objects each), 10 per app (the connectivity check is quadratic within an
app), three ways: no patch; one escape-hatch
JSON patch on every Deployment (api_object_of(...).add_json_patch(JsonPatch.add(...))); and a
``node.add_validation`` on every construct. Prints Python-to-Node round trips and CPU seconds of building
and of synth, and synth's wall seconds (medians of --repeat; Node's CPU shows in wall only), so the cost per patched object reads as calls and milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import cdk8s
import jsii
from jsii._kernel.providers import process

from constructs import IValidation
from mlkube import Environment, InferenceService, Platform, api_object_of

IMAGE = "ghcr.io/acme/fraud:1.4.2"
CALLS = [0]
_send = process._NodeProcess.send


def _counting_send(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    CALLS[0] += 1
    return _send(self, *args, **kwargs)


process._NodeProcess.send = _counting_send  # type: ignore[method-assign]


@jsii.implements(IValidation)
class Passes:
    def validate(self) -> list[str]:
        return []


def _platform(servers: int, variant: str, out_dir: Path) -> Platform:
    platform = Platform(environments=[Environment(name="dev")], out_dir=out_dir)

    def build(app):  # type: ignore[no-untyped-def]
        for index in range(10):
            server = InferenceService(app, f"server-{index}", image=IMAGE)
            if variant == "patched":
                api_object_of(server, "Deployment").add_json_patch(cdk8s.JsonPatch.add("/spec/revisionHistoryLimit", 3))
            elif variant == "validated":
                server.node.add_validation(Passes())
    for app in range(servers // 10):
        platform.app(f"bench-{app:03d}", build)
    return platform


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", type=int, default=500, help="A multiple of 10.")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    print(f"{options.servers} InferenceServices ({options.servers * 7} objects), medians of {options.repeat} runs\n")
    print("| variant | build calls | build CPU s | synth calls | synth CPU s | synth wall s |\n|---|---|---|---|---|---|")
    for variant in ("plain", "patched", "validated"):
        rows = []
        for _ in range(options.repeat):
            with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as folder:
                CALLS[0], start = 0, time.process_time()
                platform = _platform(options.servers, variant, Path(folder) / "dist")
                build_calls, build_cpu = CALLS[0], time.process_time() - start
                CALLS[0], start, wall = 0, time.process_time(), time.perf_counter()
                platform.synthesize()
                rows.append((build_calls, build_cpu, CALLS[0], time.process_time() - start, time.perf_counter() - wall))
        build_calls, build_cpu, synth_calls, synth_cpu, synth_wall = (statistics.median(column) for column in zip(*rows, strict=True))
        print(f"| {variant} | {build_calls:.0f} | {build_cpu:.2f} | {synth_calls:.0f} | {synth_cpu:.2f} | {synth_wall:.2f} |")


if __name__ == "__main__":
    main()
