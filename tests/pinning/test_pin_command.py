"""``mlkube pin``: digests into the lock and the tree, idempotent, and all or nothing on any fault."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fake_registry import MANIFEST, FakeRegistry
from pin_tree import FRAUD, TAG, TRAINER, all_digests, digest, snapshot_tree, write_tree
from realtools import free_port

from mlkube.cli import main


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def pin(dist: Path, digests: dict[str, str], *extra: str) -> Result:
    digest_file = dist.parent / "digests.json"
    digest_file.write_text(json.dumps(digests))
    return run("pin", "--dist", str(dist), "--digests", str(digest_file), "--revision", "rev1", *extra)


@pytest.fixture()
def dist(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "dist")


def test_pin_records_the_lock(dist: Path) -> None:
    result = pin(dist, all_digests())
    assert result.exit_code == 0, result.output
    assert result.output == "pinned 10 image references in 6 files; lock updated\n"
    lock = json.loads((dist / "images.lock.json").read_text())
    assert lock["environments"]["dev"]["images"] == {
        "fraud": {"repository": "registry.example.com/ml/fraud", "tag": TAG, "digest": digest("a"),
                  "source": {"contentTag": TAG, "revision": "rev1"}},
        "trainer": {"repository": "registry.example.com/ml/trainer", "tag": TAG, "digest": digest("b"),
                    "source": {"contentTag": TAG, "revision": "rev1"}},
        "ghcr.io/acme/proxy": {"repository": "ghcr.io/acme/proxy", "tag": "2.1", "digest": digest("c"),
                               "source": {"contentTag": "", "revision": ""}},
        "busybox": {"repository": "busybox", "tag": "1.36", "digest": digest("d"), "source": {"contentTag": "", "revision": ""}},
    }
    assert lock["environments"]["prod"] == lock["environments"]["dev"]


def test_pin_twice_changes_nothing(dist: Path) -> None:
    assert pin(dist, all_digests()).exit_code == 0
    before = snapshot_tree(dist)
    result = pin(dist, all_digests(), "--revision", "another")
    assert (result.exit_code, result.output) == (0, "nothing to pin: no file changed\n")
    assert snapshot_tree(dist) == before


def test_a_new_digest_for_a_locked_tag_repins(dist: Path) -> None:
    assert pin(dist, all_digests()).exit_code == 0
    result = pin(dist, {FRAUD: digest("e")})
    assert result.exit_code == 0, result.output
    assert f"registry.example.com/ml/fraud@{digest('e')}" in (dist / "prod/fraud/deployment-server.yaml").read_text()
    assert json.loads((dist / "images.lock.json").read_text())["environments"]["dev"]["images"]["fraud"]["digest"] == digest("e")


def test_partial_digests_pin_what_they_name_and_say_what_is_left(dist: Path) -> None:
    result = pin(dist, {FRAUD: digest("a")})
    assert result.exit_code == 0
    assert "pinned 4 image references in 4 files; lock updated" in result.output
    assert "note: 3 image references have no digest yet (busybox:1.36, ghcr.io/acme/proxy:2.1, registry.example.com/ml/trainer:" in result.output


def test_buildah_digestfile_pairs(dist: Path, tmp_path: Path) -> None:
    (tmp_path / "trainer.digest").write_text(digest("b"))
    result = run("pin", "--dist", str(dist), "--digest", f"{TRAINER}={tmp_path / 'trainer.digest'}")
    assert result.exit_code == 0, result.output
    assert f"registry.example.com/ml/trainer@{digest('b')}" in (dist / "dev/fraud/cronjob-retrain.yaml").read_text()


def assert_fails_and_changes_nothing(dist: Path, result: Result, message: str, code: int = 2) -> None:
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("digests", "message"), [
    ({**all_digests(), "registry.example.com/ml/unknown:1": digest("f")},
     "digests: registry.example.com/ml/unknown:1: names an image that no manifest in"),
    ({**all_digests(), FRAUD: "sha256:not-hex"}, f"{FRAUD}: malformed digest 'sha256:not-hex'"),
])
def test_fails_on_bad_digests_and_changes_nothing(dist: Path, digests: dict[str, str], message: str) -> None:
    before = snapshot_tree(dist)
    assert_fails_and_changes_nothing(dist, pin(dist, digests), message)
    assert snapshot_tree(dist) == before


def test_fails_on_an_invalid_lock_and_changes_nothing(dist: Path) -> None:
    (dist / "images.lock.json").write_text('{"version": 1, "environments": {')
    before = snapshot_tree(dist)
    assert_fails_and_changes_nothing(dist, pin(dist, all_digests()), "images.lock.json:1:33: not valid JSON")
    assert snapshot_tree(dist) == before


def last_manifest(dist: Path) -> Path:
    """The last manifest pin writes (files are replaced in path order, the lock after them)."""
    return sorted(p for p in dist.rglob("*.yaml") if b"image:" in p.read_bytes())[-1]


def test_a_read_only_last_file_changes_nothing(dist: Path) -> None:
    last = last_manifest(dist)
    assert last.name == "inferenceservice-scorer.yaml" and last.parent.parent.name == "prod"
    last.chmod(0o444)
    before = snapshot_tree(dist)
    assert_fails_and_changes_nothing(dist, pin(dist, all_digests()), f"{last}: file is read-only")
    assert snapshot_tree(dist) == before
    assert not (dist / "images.lock.json").exists()


def test_a_read_only_lock_changes_nothing(dist: Path) -> None:
    assert pin(dist, {FRAUD: digest("a")}).exit_code == 0
    (dist / "images.lock.json").chmod(0o444)
    before = snapshot_tree(dist)
    assert_fails_and_changes_nothing(dist, pin(dist, all_digests()), "images.lock.json: file is read-only")
    assert snapshot_tree(dist) == before


def test_a_failure_while_replacing_the_last_file_changes_nothing(dist: Path) -> None:
    # An immutable file passes the permission-bit check; the transaction's pre-flight (open for writing) finds it.
    last = last_manifest(dist)
    if subprocess.run(["chattr", "+i", str(last)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (needs root on ext4/xfs)")
    try:
        before = snapshot_tree(dist)
        result = pin(dist, all_digests())
        assert_fails_and_changes_nothing(dist, result, f"no file was changed (1 problem)\n  - {last}: file is read-only")
        assert snapshot_tree(dist) == before
        assert [p.name for p in last.parent.iterdir() if p.name.startswith(".")] == []  # no staged file left
    finally:
        subprocess.run(["chattr", "-i", str(last)], check=True)


def test_resolve_pins_from_the_registry(dist: Path) -> None:
    with FakeRegistry({"ml/fraud:1": MANIFEST, "ml/trainer:1": MANIFEST + b" "}) as registry:
        tree = write_tree(dist.parent / "resolved", ("dev",))
        for path in tree.rglob("*.yaml"):
            text = path.read_text().replace(f"registry.example.com/ml/fraud:{TAG}", f"{registry.address}/ml/fraud:1")
            text = text.replace(f"registry.example.com/ml/trainer:{TAG}", f"{registry.address}/ml/trainer:1")
            text = text.replace('"ghcr.io/acme/proxy:2.1"', f'"{registry.address}/ml/fraud:1"').replace("'busybox:1.36'", "'x@" + digest("9") + "'")
            path.write_text(text)
        result = run("pin", "--dist", str(tree), "--resolve", "--insecure-registry", registry.address)
    assert result.exit_code == 0, result.output
    text = (tree / "dev/fraud/deployment-server.yaml").read_text()
    assert f"image: {registry.address}/ml/fraud@{FakeRegistry.digest_of(MANIFEST)}\n" in text
    # Each distinct tag is asked once.
    assert sorted(r["path"] for r in registry.requests) == ["/v2/ml/fraud/manifests/1", "/v2/ml/trainer/manifests/1"]


@pytest.mark.parametrize("fault", ["500", "down", "missing-tag"])
def test_resolve_faults_change_nothing(dist: Path, fault: str) -> None:
    before = snapshot_tree(dist)
    if fault == "down":
        address = f"127.0.0.1:{free_port()}"
        result = run("pin", "--dist", str(dist), "--resolve", "--insecure-registry", address)
        # The tree's registries are not running at all here: every tag is reported.
        message = "cannot reach the registry"
    else:
        with FakeRegistry({}, mode="500" if fault == "500" else "ok") as registry:
            for path in dist.rglob("*.yaml"):
                path.write_text(path.read_text().replace("registry.example.com", registry.address))
            before = snapshot_tree(dist)
            result = run("pin", "--dist", str(dist), "--resolve", "--insecure-registry", registry.address)
        message = "answered HTTP 500" if fault == "500" else "not found in the registry (HTTP 404"
    assert_fails_and_changes_nothing(dist, result, message)
    assert "the registry did not give every digest; nothing was changed" in result.output
    assert snapshot_tree(dist) == before


def test_fails_without_a_source_of_digests(dist: Path) -> None:
    result = run("pin", "--dist", str(dist))
    assert_fails_and_changes_nothing(dist, result, "give either --resolve or digests")


def test_fails_when_the_tree_does_not_exist(tmp_path: Path) -> None:
    result = run("pin", "--dist", str(tmp_path / "nope"), "--resolve")
    assert_fails_and_changes_nothing(tmp_path, result, "is not a folder")


def test_default_revision_comes_from_the_environment(dist: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLKUBE_REVISION", "abc123")
    digest_file = dist.parent / "digests.json"
    digest_file.write_text(json.dumps(all_digests()))
    assert run("pin", "--dist", str(dist), "--digests", str(digest_file)).exit_code == 0
    lock = json.loads((dist / "images.lock.json").read_text())
    assert lock["environments"]["dev"]["images"]["fraud"]["source"]["revision"] == "abc123"
    assert os.environ["MLKUBE_REVISION"] == "abc123"


def test_two_tags_of_one_repository_get_one_entry_each(tmp_path: Path) -> None:
    app = tmp_path / "dist" / "dev" / "cache"
    app.mkdir(parents=True)
    for tag in ("6", "7"):
        (app / f"pod-redis{tag}.yaml").write_text(f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: redis{tag}\nspec:\n"
                                                  f"  containers:\n  - image: redis:{tag}\n    name: redis\n")
    result = pin(tmp_path / "dist", {"redis:6": digest("6"), "redis:7": digest("7")})
    assert result.exit_code == 0, result.output
    images = json.loads((tmp_path / "dist" / "images.lock.json").read_text())["environments"]["dev"]["images"]
    assert {name: entry["digest"] for name, entry in images.items()} == {"redis:6": digest("6"), "redis:7": digest("7")}
