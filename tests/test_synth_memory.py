"""Synth's own memory (issue 22): what synth adds on top of the objects already built grows with the objects
by no more than a few hundred bytes each (the cache's per-object records), not by the rendered files.

Before, synth held every file's bytes until the tree swap (about 1-2 KB per object, 100 MiB at 50k
objects), and the cache held them again (its entries, the workers' results). Now each file is written
into the staging tree as it is rendered, and the cache keeps rendered YAML in a spill file. The figures
are tracemalloc's (Python allocations), measured from the start of ``synthesize``: the platform is built
before. Memory, not time: no timing is asserted.
"""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from mlkube import Environment, InferenceService, MlApp, Platform
from mlkube.core.synth import SynthContext

#: What synth may add per object at most, beyond a fixed cost. Measured here (files of about 1 KB): the old code
#: added 730 bytes per object without the cache and 2,600 with it; now 20 and 190 (the cache's per-object records).
BYTES_PER_OBJECT = 400


def _synth_peak(apps: int, out: Path) -> tuple[int, int]:
    """(tracemalloc peak of one synth of ``apps`` apps, objects written); the platform is built before tracing."""
    platform = Platform(environments=[Environment(name="dev")])
    for index in range(apps):
        platform.app(f"app-{index:03d}", lambda app: InferenceService(app, "server", image="ghcr.io/acme/fraud:1.4.2",
                                                                        config={"MODEL_ID": "m"}))
    tracemalloc.start()
    try:
        result = platform.synthesize(out)
        return tracemalloc.get_traced_memory()[1], len(result.manifests)
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("cache", [False, True], ids=["no-cache", "cache"])
def test_synth_does_not_hold_the_rendered_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: bool) -> None:
    monkeypatch.setenv("MLKUBE_JOBS", "1")  # workers are other processes: their memory is not this one's
    monkeypatch.setenv("MLKUBE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLKUBE_NO_CACHE", "0" if cache else "1")
    _synth_peak(2, tmp_path / "warm-up")  # imports and one-time tables are not per object
    small, small_objects = _synth_peak(20, tmp_path / "small")
    large, large_objects = _synth_peak(200, tmp_path / "large")
    per_object = (large - small) / (large_objects - small_objects)
    written = sum(path.stat().st_size for path in (tmp_path / "large").rglob("*.yaml")) / large_objects
    assert per_object < BYTES_PER_OBJECT, (f"synth added {per_object:.0f} bytes per object ({small} -> {large} bytes of peak "
                                           f"for {small_objects} -> {large_objects} objects); a file is {written:.0f} bytes")


def test_the_cdk8s_cli_output_joins_the_written_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the cdk8s CLI (CDK8S_OUTDIR), each environment's <env>.k8s.yaml is its files joined by '---', read back
    one at a time from the written tree (SynthResult.files no longer holds the bytes)."""
    monkeypatch.setenv("CDK8S_OUTDIR", str(tmp_path / "cdk8s.out"))
    monkeypatch.setenv("MLKUBE_GC", "default")  # this test's process is not the app cdk8s runs: keep its collector
    monkeypatch.setenv("MLKUBE_OUT", str(tmp_path / "dist"))
    platform = Platform(environments=[Environment(name="dev"), Environment(name="prod")])
    for name in ("a", "b"):
        platform.app(name, lambda app: InferenceService(app, "server", image="ghcr.io/acme/fraud:1.4.2"))
    platform.synth()
    for environment in ("dev", "prod"):
        files = sorted((tmp_path / "dist" / environment).glob("*/*.yaml"))
        assert len(files) > 4
        expected = b"---\n".join(path.read_bytes() for path in files)
        assert (tmp_path / "cdk8s.out" / f"{environment}.k8s.yaml").read_bytes() == expected


def test_a_problem_found_after_rendering_leaves_the_old_tree_and_no_staging(tmp_path: Path) -> None:
    """Files are written into the staging tree as they are rendered; an output step that then finds a problem
    fails synth with the old tree untouched and the staging tree removed (nothing half-written)."""
    from mlkube.default_pipeline import default_pipeline
    from mlkube.errors import MlkubeError, Problem

    def build(app: MlApp) -> None:
        InferenceService(app, "server", image="ghcr.io/acme/fraud:1.4.2")

    dist = tmp_path / "dist"
    first = Platform(environments=[Environment(name="dev")])
    first.app("old-app", build)
    first.synthesize(dist)
    before = {str(path.relative_to(dist)): path.read_bytes() for path in sorted(dist.rglob("*")) if path.is_file()}

    def late_problem(ctx: SynthContext) -> None:
        assert ctx.written  # rendered and written into the staging tree by now
        ctx.problems.append(Problem("test", "", "found after rendering", "none"))

    second = Platform(environments=[Environment(name="dev")], pipeline=default_pipeline().with_steps(outputs=[late_problem]))
    second.app("new-app", build)
    with pytest.raises(MlkubeError, match="found after rendering"):
        second.synthesize(dist)
    assert {str(path.relative_to(dist)): path.read_bytes() for path in sorted(dist.rglob("*")) if path.is_file()} == before
    assert sorted(name for name in os.listdir(tmp_path) if name != "dist") == []
