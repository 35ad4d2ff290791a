"""The garbage collector is tuned in a process that is one command, and only there (core/gc_tuning.py, issue 22).

Checked in fresh interpreters: the `mlkube` program and the app the `cdk8s synth` CLI runs (CDK8S_OUTDIR set)
freeze what lives and collect less often; a library user's process (no CDK8S_OUTDIR, or the CLI invoked
in-process) keeps Python's collector as it is; MLKUBE_GC=default turns it off; a cycle that becomes garbage
is still collected; and the output is the same bytes either way. The time it saves is the benchmarks'
business (bench/gc_tuning.py), not these tests'.
"""

from __future__ import annotations

import filecmp
import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import PACKAGE_ROOT, run_mlkube

from mlkube.cli import main
from mlkube.core.gc_tuning import THRESHOLDS

# A one-app platform that reports the collector's state when the Platform exists, during synth (a check), after
# synth, and whether a cycle made while tuned is collected.
_APP = """
import gc, json, sys, weakref
from mlkube import Environment, InferenceService, Platform
state = {}
class Node:
    pass
def probe(ctx):
    state.update(threshold_during_synth=gc.get_threshold(), frozen_during_synth=gc.get_freeze_count())
    node = Node(); node.me = node
    collected = []
    ref = weakref.ref(node, lambda _: collected.append(True))
    del node
    gc.collect()
    state["cycle_collected"] = bool(collected)
platform = Platform(environments=[Environment(name="dev")], checks=[probe])
state.update(threshold_after_platform=gc.get_threshold(), frozen_after_platform=gc.get_freeze_count())

@platform.app("scoring")
def scoring(app):
    InferenceService(app, "server", image="ghcr.io/acme/scoring:1.0")
    state["frozen_while_building"] = gc.get_freeze_count()

state["frozen_after_app"] = gc.get_freeze_count()
try:
    platform.synth()
finally:
    state.update(threshold_after_synth=gc.get_threshold(), frozen_after_synth=gc.get_freeze_count())
    print("PROBE " + json.dumps(state), file=sys.stderr)
"""
_DEFAULT_THRESHOLD = [700, 10, 10]  # CPython's own (Modules/gcmodule.c), what a library user's process keeps


def _probe_script(tmp_path: Path, **env: str) -> dict[str, object]:
    """Runs the platform as `cdk8s synth` would (the app as a script) and returns what it reported."""
    app = tmp_path / "app.py"
    app.write_text(_APP)
    inherited = {key: value for key, value in os.environ.items() if key not in ("CDK8S_OUTDIR", "MLKUBE_GC")}
    result = subprocess.run([sys.executable, str(app)], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=True,
                            env={**inherited, "PYTHONPATH": str(PACKAGE_ROOT), "MLKUBE_OUT": str(tmp_path / "dist"),
                                 "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", **env})
    return _state(result.stderr)


def _state(stderr: str) -> dict[str, object]:
    line = next(line for line in stderr.splitlines() if line.startswith("PROBE "))
    return json.loads(line.removeprefix("PROBE "))


def test_a_library_users_process_keeps_pythons_collector(tmp_path: Path) -> None:
    state = _probe_script(tmp_path)
    assert state["threshold_after_platform"] == state["threshold_during_synth"] == _DEFAULT_THRESHOLD
    assert state["frozen_after_platform"] == state["frozen_after_app"] == state["frozen_during_synth"] == 0


def test_the_app_cdk8s_synth_runs_freezes_what_lives_and_collects_less_often(tmp_path: Path) -> None:
    state = _probe_script(tmp_path, CDK8S_OUTDIR=str(tmp_path / "cdk8s.out"))
    assert state["threshold_after_platform"] == state["threshold_during_synth"] == list(THRESHOLDS)
    frozen_before, frozen_during = state["frozen_after_platform"], state["frozen_during_synth"]
    assert isinstance(frozen_before, int) and isinstance(frozen_during, int)
    assert frozen_before > 10_000  # the modules, classes and schemas imported before the Platform
    # Each app's constructs and objects, frozen once it is built: young collections do not walk them.
    assert state["frozen_after_app"] > state["frozen_while_building"] + 500  # type: ignore[operator]
    assert frozen_during > frozen_before
    assert state["cycle_collected"] is True  # the collector is still on
    # The process exits next: what synth made is frozen too, so the collection at exit skips it.
    frozen_after = state["frozen_after_synth"]
    assert isinstance(frozen_after, int) and frozen_after > frozen_during
    assert state["threshold_after_synth"] == list(THRESHOLDS)


def test_mlkube_gc_default_leaves_the_collector_alone(tmp_path: Path) -> None:
    state = _probe_script(tmp_path, CDK8S_OUTDIR=str(tmp_path / "cdk8s.out"), MLKUBE_GC="default")
    assert state["threshold_during_synth"] == _DEFAULT_THRESHOLD
    assert state["frozen_during_synth"] == 0


def test_mlkube_synth_tunes_the_collector_and_writes_the_same_bytes(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(_APP)
    trees = {}
    for collector in ("tuned", "default"):
        out = tmp_path / f"dist-{collector}"
        result = run_mlkube("synth", "--app", str(app), "--out", str(out), "--no-cache", cwd=tmp_path, env={"MLKUBE_GC": collector})
        assert result.returncode == 0, result.stderr
        state = _state(result.stderr)
        tuned = collector == "tuned"
        assert state["threshold_during_synth"] == (list(THRESHOLDS) if tuned else _DEFAULT_THRESHOLD)
        assert (state["frozen_during_synth"] > 10_000) is tuned  # type: ignore[operator]
        trees[collector] = out
    files = sorted(str(path.relative_to(trees["tuned"])) for path in trees["tuned"].rglob("*") if path.is_file())
    assert files and files == sorted(str(path.relative_to(trees["default"])) for path in trees["default"].rglob("*") if path.is_file())
    _, mismatch, errors = filecmp.cmpfiles(trees["tuned"], trees["default"], files, shallow=False)
    assert not mismatch and not errors


def test_the_cli_invoked_in_another_programs_process_leaves_its_collector_alone(tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A test or a notebook that runs the CLI's synth in its own process (``main``, not the ``mlkube`` program)."""
    app = tmp_path / "app.py"
    app.write_text(_APP)
    monkeypatch.delenv("MLKUBE_GC", raising=False)
    for name in ("MLKUBE_OUT", "MLKUBE_NO_CACHE", "MLKUBE_JOBS"):  # the command sets them for the app it runs
        monkeypatch.setenv(name, "")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    before = (gc.get_threshold(), gc.get_freeze_count())
    result = CliRunner().invoke(main, ["synth", "--app", str(app), "--out", str(tmp_path / "dist"), "--no-cache", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    state = _state(result.output)
    assert state["threshold_during_synth"] == list(before[0]) and state["frozen_during_synth"] == before[1]
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
