"""The kill test: synth, pin and promote, each SIGKILLed at random write steps, then run again.

The process kills itself at the N-th failpoint (mlkube.output.failpoints: the instants between the
file-system steps of a write), N drawn with a fixed seed from the steps a trace run reached, so a
failure is reproducible. After each kill the output is the old or the new tree (or, on the rename
path, a committed ready tree the next run swaps in); after the rerun it is the new tree and lock,
whole, with no leftovers, and `check --pinned` passes. Bounded: 10 kills per command.
"""

from __future__ import annotations

import json
import random
import runpy
import shutil
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import run_mlkube
from output_support import copy_example, new_digests, siblings, tree_bytes

from mlkube.cli import main

KILLS = 10
SEED = 21

APP = """\
import os
from mlkube import Environment, InferenceService, Platform

platform = Platform(environments=[Environment(name="dev"), Environment(name="qa")])
apps = ["alpha", "beta"] if os.environ["VARIANT"] == "1" else ["alpha", "gamma", "delta"]
for name in apps:
    platform.app(name, lambda app: InferenceService(app, "server", image="ghcr.io/acme/fraud:1.4.2"))

if __name__ == "__main__":
    platform.synth()
"""
LOCK = {"version": 1, "environments": {"dev": {"images": {"ghcr.io/acme/fraud": {
    "repository": "ghcr.io/acme/fraud", "tag": "1.4.2", "digest": "sha256:" + "a" * 64,
    "source": {"contentTag": "", "revision": ""}}}}}}


def steps(tmp_path: Path, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> int:
    """How many failpoints a run of ``mlkube ARGS`` reaches (it runs to the end)."""
    trace = tmp_path / "trace"
    trace.unlink(missing_ok=True)
    result = run_mlkube(*args, cwd=cwd, env={**(env or {}), "MLKUBE_CRASH_TRACE": str(trace)})
    assert result.returncode == 0, result.stderr
    return len(trace.read_text().splitlines())


def killed(*args: str, at: int, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    result = run_mlkube(*args, cwd=cwd, env={**(env or {}), "MLKUBE_CRASH_AT": str(at)})
    assert result.returncode == -signal.SIGKILL, (at, result.returncode, result.stderr)


def synth_here(project: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The run after a kill, in this process: the blueprint's platform, synthesized into project/dist."""
    with monkeypatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        platform = runpy.run_path(str(project / "main.py"), run_name="kill_test")["platform"]
        platform.synthesize(project / "dist")


def test_synth_killed_at_random_steps_always_leaves_a_whole_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text(APP)
    trees = {}
    for variant in ("1", "2"):  # the two trees the runs alternate between, each with the lock
        out = tmp_path / f"expected-{variant}"
        out.mkdir()
        (out / "images.lock.json").write_text(json.dumps(LOCK))
        assert run_mlkube("synth", "--app", "main.py", "--out", str(out), cwd=project, env={"VARIANT": variant}).returncode == 0
        trees[variant] = tree_bytes(out)
    dist = project / "dist"
    shutil.copytree(tmp_path / "expected-1", dist)
    count = steps(tmp_path, "synth", "--app", "main.py", "--out", "dist", cwd=project, env={"VARIANT": "1"})
    randomness = random.Random(SEED)
    current = "1"
    for kill in range(KILLS):
        new = "2" if current == "1" else "1"
        env = {"VARIANT": new, "MLKUBE_RENAME_EXCHANGE": "0" if kill % 2 else "1"}  # both swap paths
        at = randomness.randint(1, count)
        killed("synth", "--app", "main.py", "--out", "dist", at=at, cwd=project, env=env)
        left = tree_bytes(dist) if dist.exists() else None
        ready = [name for name in siblings(dist) if ".ready-" in name]
        assert left in (trees[current], trees[new]) or (left is None and ready and env["MLKUBE_RENAME_EXCHANGE"] == "0"), \
            f"kill {kill} at step {at}: the output is neither the old nor the new tree ({siblings(dist)})"
        synth_here(project, env, monkeypatch)
        assert tree_bytes(dist) == trees[new], f"kill {kill} at step {at}: the rerun did not give the new tree"
        assert siblings(dist) == [], f"kill {kill} at step {at}: leftovers {siblings(dist)}"
        current = new


def rerun(*args: str) -> None:
    """The run after a kill: in this process (only the killed run needs its own)."""
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output


def _check_whole(dist: Path, expected: dict[str, bytes], what: str) -> None:
    assert tree_bytes(dist) == expected, f"{what}: the rerun did not converge"
    rerun("check", "--pinned", "--dist", str(dist))


def test_pin_killed_at_random_steps_converges_when_run_again(tmp_path: Path) -> None:
    digest_file = tmp_path / "digests.json"
    expected_dist = copy_example(tmp_path / "expected")
    digest_file.write_text(json.dumps(new_digests(expected_dist)))
    command = ("pin", "--digests", str(digest_file), "--revision", "r1", "--dist")
    count = steps(tmp_path, *command, str(expected_dist))
    expected = tree_bytes(expected_dist)
    randomness = random.Random(SEED)
    for kill in range(KILLS):
        dist = copy_example(tmp_path / f"dist-{kill}")
        before = tree_bytes(dist)
        at = randomness.randint(1, count)
        killed(*command, str(dist), at=at)
        if not (dist / ".mlkube-txn.ready").exists():  # not committed: every file as it was (staging aside)
            assert {k: v for k, v in tree_bytes(dist).items() if not k.startswith(".mlkube-txn")} == before, f"kill at {at}"
        rerun(*command, str(dist))
        _check_whole(dist, expected, f"pin killed at step {at}")


def test_promote_killed_at_random_steps_converges_when_run_again(tmp_path: Path) -> None:
    base = copy_example(tmp_path / "base")
    original = json.loads((base / "images.lock.json").read_text())
    prod = tmp_path / "prod"
    shutil.copytree(base / "prod", prod)
    (tmp_path / "digests.json").write_text(json.dumps(new_digests(base)))
    rerun("pin", "--digests", str(tmp_path / "digests.json"), "--dist", str(base))
    shutil.rmtree(base / "prod")
    shutil.copytree(prod, base / "prod")  # prod still runs the old digests; staging the new ones
    lock = json.loads((base / "images.lock.json").read_text())
    lock["environments"]["prod"] = original["environments"]["prod"]
    (base / "images.lock.json").write_text(json.dumps(lock, indent=2) + "\n")
    expected_dist = tmp_path / "expected"
    shutil.copytree(base, expected_dist)
    count = steps(tmp_path, "promote", "staging", "prod", "--dist", str(expected_dist))
    assert count >= 4
    expected = tree_bytes(expected_dist)
    randomness = random.Random(SEED)
    for kill in range(KILLS):
        dist = tmp_path / f"dist-{kill}"
        shutil.copytree(base, dist)
        at = randomness.randint(1, count)
        killed("promote", "staging", "prod", "--dist", str(dist), at=at)
        rerun("promote", "staging", "prod", "--dist", str(dist))
        _check_whole(dist, expected, f"promote killed at step {at}")
