"""The tree swap: a kill at any step leaves the old or the new tree, and the next run completes it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from output_support import Killed, die_at_call, die_when, siblings, tree_bytes

from mlkube import Environment, InferenceService, Platform

LOCK = {"version": 1, "environments": {"dev": {"images": {"ghcr.io/acme/fraud": {
    "repository": "ghcr.io/acme/fraud", "tag": "1.4.2", "digest": "sha256:" + "a" * 64,
    "source": {"contentTag": "", "revision": ""}}}}}}


def platform(apps: tuple[str, ...]) -> Platform:
    result = Platform(environments=[Environment(name="dev")])
    for name in apps:
        result.app(name, lambda app: InferenceService(app, "server", image="ghcr.io/acme/fraud:1.4.2"))
    return result


@pytest.fixture()
def dist(tmp_path: Path) -> Path:
    """A synthesized tree with a lock (the state synth must never lose)."""
    dist = tmp_path / "dist"
    platform(("old-app",)).synthesize(dist)
    (dist / "images.lock.json").write_text(json.dumps(LOCK))
    platform(("old-app",)).synthesize(dist)
    return dist


@pytest.mark.parametrize("rename", [1, 2, 3])
def test_a_kill_between_the_renames_is_completed_by_the_next_synth(dist: Path, rename: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: a kill between "dist -> .dist.old-<pid>" and ".dist.new-* -> dist" left no dist/, the
    # lock only in .dist.old-<pid>; the next synth wrote a tree without the lock, and leftovers stayed.
    old = tree_bytes(dist)
    lock = (dist / "images.lock.json").read_bytes()
    monkeypatch.setenv("MLKUBE_RENAME_EXCHANGE", "0")  # the rename path; the exchange is one atomic step
    with monkeypatch.context() as patch:
        patch.setattr(os, "rename", die_at_call(os.rename, rename))
        with pytest.raises(Killed):
            platform(("new-app",)).synthesize(dist)
    after_kill = tree_bytes(dist) if dist.exists() else None
    assert after_kill in (old, None) or "new-app" in str(sorted(after_kill))
    platform(("new-app",)).synthesize(dist)
    assert siblings(dist) == []
    assert (dist / "images.lock.json").read_bytes() == lock
    assert (dist / "dev/new-app/deployment-server.yaml").exists()
    assert not (dist / "dev/old-app").exists()


def test_leftovers_of_killed_runs_are_removed_by_the_next_run(dist: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: every kill while writing left a .dist.new-* folder, never removed (15 after 30 kills).
    for _ in range(3):
        with monkeypatch.context() as patch:
            # dies while writing the staging tree (its first sub-folder)
            patch.setattr(Path, "mkdir", die_when(Path.mkdir, lambda folder, *_, **__: ".dist.new-" in str(folder)))
            with pytest.raises(Killed):
                platform(("new-app",)).synthesize(dist)
    assert len(siblings(dist)) == 1  # each run removed what the one before left
    assert (dist / "dev/old-app").exists()
    platform(("new-app",)).synthesize(dist)
    assert siblings(dist) == []


def test_the_exchange_leaves_a_whole_tree_at_every_instant(dist: Path) -> None:
    """Where renameat2(RENAME_EXCHANGE) works, dist/ is never absent: one atomic step swaps the trees."""
    from mlkube.output.tree import _exchange

    (dist.parent / "a").mkdir()
    (dist.parent / "b").mkdir()
    (dist.parent / "a/x").write_text("a")
    if not _exchange(dist.parent / "a", dist.parent / "b"):
        pytest.skip("this kernel or file system cannot exchange two paths (renameat2 RENAME_EXCHANGE)")
    assert (dist.parent / "b/x").read_text() == "a" and not (dist.parent / "a/x").exists()


def test_a_full_disk_while_writing_the_tree_changes_nothing(small_disk: Path) -> None:
    dist = small_disk / "dist"
    platform(("old-app",)).synthesize(dist)
    before = tree_bytes(dist)
    filler = small_disk / "filler"
    fill(filler)
    with pytest.raises(Exception) as error:
        platform(("new-app", "other-app")).synthesize(dist)
    assert "No space left on device" in str(error.value) and f"{dist} was not changed" in str(error.value)
    assert tree_bytes(dist) == before
    assert sorted(os.listdir(small_disk)) == ["dist", "filler"]


def fill(path: Path) -> None:
    """Write ``path`` until the file system is full (unbuffered: nothing is left to flush at close)."""
    with open(path, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass


def test_a_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    """Two writers of one output never interleave (a run must not take another's staging folder
    for the leftover of a killed run): the second waits for the first's lock on the parent folder."""
    import subprocess
    import sys
    import time

    from mlkube.output import replace_tree

    holder = (f"import fcntl, os, time\nfd = os.open({str(tmp_path)!r}, os.O_RDONLY)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
              f"open({str(tmp_path / 'held')!r}, 'w').close()\ntime.sleep(0.5)\n"
              f"open({str(tmp_path / 'released')!r}, 'w').close()\n")
    process = subprocess.Popen([sys.executable, "-c", holder])
    try:
        while not (tmp_path / "held").exists():
            time.sleep(0.01)
        replace_tree(tmp_path / "dist", {"a.yaml": b"a\n"})
        assert (tmp_path / "released").exists()
    finally:
        process.wait(timeout=30)


def test_synth_on_a_read_only_file_system_is_a_clean_error(small_disk: Path) -> None:
    # Before: a traceback (OSError: Read-only file system).
    import subprocess

    from mlkube.errors import MlkubeError

    dist = small_disk / "dist"
    platform(("old-app",)).synthesize(dist)
    before = tree_bytes(dist)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        with pytest.raises(MlkubeError) as error:
            platform(("new-app",)).synthesize(dist)
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert "Read-only file system" in str(error.value) and "was not changed" in str(error.value)
    assert tree_bytes(dist) == before
