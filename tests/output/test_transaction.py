"""pin and promote change every file and the lock together or not at all: after a kill, a rerun
converges, and a full disk leaves nothing behind."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from output_support import Killed, copy_example, die_at_call, new_digests, tree_bytes
from test_tree_swap import fill

from mlkube.cli import main


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def pin(dist: Path, digests: dict[str, str], folder: Path | None = None) -> Result:
    digest_file = (folder or dist.parent) / "digests.json"
    digest_file.write_text(json.dumps(digests))
    return run("pin", "--dist", str(dist), "--digests", str(digest_file), "--revision", "r1")


def promotable(folder: Path) -> Path:
    """The example with staging (and dev) on new digests and prod still on the old ones."""
    dist = copy_example(folder)
    original = json.loads((dist / "images.lock.json").read_text())
    assert pin(dist, new_digests(dist)).exit_code == 0
    shutil.rmtree(dist / "prod")
    shutil.copytree(folder.parent / "original-prod", dist / "prod") if (folder.parent / "original-prod").exists() else None
    lock = json.loads((dist / "images.lock.json").read_text())
    lock["environments"]["prod"] = original["environments"]["prod"]
    (dist / "images.lock.json").write_text(json.dumps(lock))
    return dist


@pytest.fixture()
def example_prod(tmp_path: Path) -> None:
    from helpers import REPO_ROOT

    shutil.copytree(REPO_ROOT / "dist/prod", tmp_path / "original-prod")


@pytest.mark.parametrize("replace", [1, 2, 5])
def test_a_killed_pin_is_finished_by_running_it_again(tmp_path: Path, replace: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: a pin killed while replacing files left manifests and lock inconsistent, and running
    # the same pin again did not repair it (check --pinned kept failing, or pin refused).
    expected_dist = copy_example(tmp_path / "expected")
    digests = new_digests(expected_dist)
    assert pin(expected_dist, digests).exit_code == 0
    dist = copy_example(tmp_path / "dist")
    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", die_at_call(os.replace, replace))
        with pytest.raises(Killed):
            pin(dist, digests)
    result = pin(dist, digests)
    assert result.exit_code == 0, result.output
    assert tree_bytes(dist) == tree_bytes(expected_dist)
    check = run("check", "--pinned", "--dist", str(dist))
    assert check.exit_code == 0, check.output


@pytest.mark.parametrize("replace", [1, 3])
def test_a_killed_promote_is_finished_by_running_it_again(tmp_path: Path, example_prod: None, replace: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    expected_dist = promotable(tmp_path / "expected")
    assert run("promote", "staging", "prod", "--dist", str(expected_dist)).exit_code == 0
    dist = promotable(tmp_path / "dist")
    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", die_at_call(os.replace, replace))
        with pytest.raises(Killed):
            run("promote", "staging", "prod", "--dist", str(dist))
    result = run("promote", "staging", "prod", "--dist", str(dist))
    assert result.exit_code == 0, result.output
    assert tree_bytes(dist) == tree_bytes(expected_dist)


def assert_full_disk_changed_nothing(result: Result, before: dict[str, bytes], dist: Path) -> None:
    assert result.exit_code == 2, result.output
    assert "No space left on device" in result.output and "no file was changed" in result.output
    assert "None" not in result.output and "Traceback" not in result.output
    assert tree_bytes(dist) == before  # no stray temporary file either: hidden files are compared too


def test_pin_on_a_full_disk_changes_nothing_and_leaves_nothing(small_disk: Path) -> None:
    # Before: a stray temporary file was left and the message was "could not write None".
    dist = copy_example(small_disk / "dist")
    digests = new_digests(dist)
    before = tree_bytes(dist)
    fill(small_disk / "filler")
    assert_full_disk_changed_nothing(pin(dist, digests, small_disk.parent), before, dist)


def test_promote_on_a_full_disk_changes_nothing_and_leaves_nothing(small_disk: Path, example_prod: None) -> None:
    shutil.copytree(small_disk.parent / "original-prod", small_disk / "original-prod")
    dist = promotable(small_disk / "dist")
    before = tree_bytes(dist)
    fill(small_disk / "filler")
    assert_full_disk_changed_nothing(run("promote", "staging", "prod", "--dist", str(dist)), before, dist)


def test_files_outside_an_output_folder_on_a_full_disk_leave_nothing(small_disk: Path) -> None:
    """init, workflows and schemas import write a few files directly: same promise, without a journal."""
    from mlkube.errors import MlkubeError
    from mlkube.output import replace_files

    (small_disk / "a.yml").write_text("old\n")
    fill(small_disk / "filler")
    with pytest.raises(MlkubeError) as error:
        replace_files({small_disk / "a.yml": b"new\n" * 4096, small_disk / "b.yml": b"new\n"})
    assert f"could not write {small_disk / 'a.yml'}: No space left on device; no file was changed" in str(error.value)
    assert sorted(os.listdir(small_disk)) == ["a.yml", "filler"]
    assert (small_disk / "a.yml").read_text() == "old\n"
