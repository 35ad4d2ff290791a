"""The promotion chain: CI pins entry environments, gated ones change images only through `mlkube promote`.

Each fault of issue 16's first three points has a test here that failed before: a release pin moved
prod, a code-change synth moved prod to the new unpinned tag (or failed), promote after a vendor tag
bump in staging left prod on a reference synth refused, and nothing noticed a gated environment
edited after its promotion.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import REPO_ROOT, run_mlkube

from mlkube import Environment, InferenceService, Platform
from mlkube.core.gitops_settings import GitOps
from mlkube.core.promotion_chain import promotion_chain
from mlkube.errors import MlkubeError
from mlkube.pinning.lock import LOCK_FILE
from mlkube.pinning.scan import scan_images

REPO = "https://example.com/acme/config.git"
SERVER = "ghcr.io/acme/server"


def digest(char: str) -> str:
    return "sha256:" + char * 64


def _entry(tag: str, char: str, repository: str = SERVER) -> dict:
    return {"repository": repository, "tag": tag, "digest": digest(char), "source": {"contentTag": "", "revision": ""}}


def _platform(image: str, **per_environment: str) -> Platform:
    """dev, staging and prod (production), each running ``image`` unless ``per_environment`` says otherwise."""
    platform = Platform(environments=[Environment(name="dev"), Environment(name="staging"), Environment(name="prod", production=True)],
                        gitops=GitOps(repo_url=REPO))

    def build(app) -> None:
        InferenceService(app, "server", image=per_environment.get(app.environment.name, image))

    platform.app("scoring", build)
    return platform


def _write_lock(out: Path, environments: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / LOCK_FILE).write_text(json.dumps({"version": 1, "environments": environments}))


def _images(out: Path, environment: str) -> list[str]:
    return sorted(s.value for path in sorted((out / environment).glob("*/*.yaml")) for s in scan_images(path.read_text()))


def _released(out: Path) -> None:
    """dev and staging pinned on server 1.0 (digest a), prod promoted from staging."""
    images = {SERVER: _entry("1.0", "a")}
    _write_lock(out, {"dev": {"images": images}, "staging": {"images": images}, "prod": {"images": images, "promoteFrom": "staging"}})


# The chain as declared ----------------------------------------------------------------------------

def test_production_after_staging_is_gated_and_promoted_from_it():
    chain, problems = promotion_chain(_platform(SERVER + ":1.0").environments, GitOps(repo_url=REPO))
    assert problems == [] and chain.sources == {"prod": "staging"} and chain.entry == ("dev", "staging")


def test_entry_environments_in_gitops_gate_the_others():
    envs = [Environment(name="dev"), Environment(name="qa"), Environment(name="prod", production=True, promote_from="qa")]
    chain, problems = promotion_chain(envs, GitOps(entry_environments=["dev"]))
    assert problems == [] and chain.sources == {"qa": "dev", "prod": "qa"} and chain.entry == ("dev",)


@pytest.mark.parametrize(("environments", "gitops", "message"), [
    ([Environment(name="dev"), Environment(name="prod", production=True)], {"entry_environments": ["dev", "prod"]},
     "'prod' is gated (production) and cannot be an entry environment"),
    ([Environment(name="dev"), Environment(name="prod", promote_from="qa")], {}, "'qa' is not another environment of the platform"),
    ([Environment(name="a", promote_from="b"), Environment(name="b", promote_from="a")], {}, "promotion cycle: a -> b -> a"),
    ([Environment(name="dev")], {"entry_environments": ["stage"]}, "no environment 'stage'"),
])
def test_fails_when_the_chain_is_declared_wrong(environments, gitops, message):
    _, problems = promotion_chain(environments, GitOps(**gitops))
    assert any(message in problem.message for problem in problems), problems


def test_a_lone_production_environment_is_its_own_entry():
    chain, problems = promotion_chain([Environment(name="prod", production=True)], None)
    assert problems == [] and chain.sources == {} and chain.entry == ("prod",)


# PR synth: entry environments take the new content tag, gated ones keep their lock -----------------

def test_code_change_synth_keeps_the_gated_environment_on_its_locked_reference(tmp_path, monkeypatch):
    out = tmp_path / "dist"
    _released(out)
    monkeypatch.setenv("MLKUBE_ALLOW_UNPINNED", "1")  # what the PR and release jobs set
    _platform(SERVER + ":2.0").synthesize(out)
    assert _images(out, "dev") == [SERVER + ":2.0"] and _images(out, "staging") == [SERVER + ":2.0"]
    assert _images(out, "prod") == [f"{SERVER}@{digest('a')}"]


def test_code_change_synth_is_green_even_without_allow_unpinned(tmp_path):
    out = tmp_path / "dist"
    _released(out)
    _platform(SERVER + ":2.0").synthesize(out)
    assert _images(out, "prod") == [f"{SERVER}@{digest('a')}"]
    lock = json.loads((out / LOCK_FILE).read_text())
    assert lock["environments"]["prod"]["promoteFrom"] == "staging"


def test_fails_when_a_gated_environment_runs_an_image_never_promoted(tmp_path):
    out = tmp_path / "dist"
    _write_lock(out, {})
    with pytest.raises(MlkubeError) as raised:
        _platform(SERVER + ":2.0").synthesize(out)
    assert "image ghcr.io/acme/server:2.0 was never promoted to gated environment 'prod'" in str(raised.value)
    assert "mlkube promote staging prod" in str(raised.value)
    assert not (out / "prod").exists()


def test_build_matrix_lists_only_entry_environments():
    data = json.loads((REPO_ROOT / "dist/images.json").read_text())
    assert data["images"] and all(set(image["references"]) == {"dev", "staging"} for image in data["images"])


# Release: pin moves the entry environments, never a gated one ------------------------------------

def _copy(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    shutil.copytree(REPO_ROOT / "dist", dist)
    return dist


def test_release_pin_moves_staging_and_leaves_prod(tmp_path):
    dist = _copy(tmp_path)
    lock = json.loads((dist / LOCK_FILE).read_text())
    fraud = lock["environments"]["staging"]["images"]["fraud-scorer"]
    prod_before = {path: path.read_bytes() for path in (dist / "prod").rglob("*.yaml")}
    digests = tmp_path / "digests.json"  # the tag was rebuilt: a new digest for it
    digests.write_text(json.dumps({f"{fraud['repository']}:{fraud['tag']}": digest("f")}))
    result = run_mlkube("pin", "--dist", str(dist), "--digests", str(digests))
    assert result.returncode == 0, result.stderr
    after = json.loads((dist / LOCK_FILE).read_text())
    assert after["environments"]["staging"]["images"]["fraud-scorer"]["digest"] == digest("f")
    assert after["environments"]["prod"] == lock["environments"]["prod"]
    assert {path: path.read_bytes() for path in (dist / "prod").rglob("*.yaml")} == prod_before


# Promote: only into the gated environment, from its source, whole references --------------------

@pytest.mark.parametrize(("source", "target", "message"), [
    ("staging", "dev", "'dev' is an entry environment: CI pins it"),
    ("dev", "prod", "'prod' is promoted from 'staging', not from 'dev'"),
])
def test_fails_when_promotion_does_not_follow_the_chain(tmp_path, source, target, message):
    dist = _copy(tmp_path)
    before = (dist / LOCK_FILE).read_bytes()
    result = run_mlkube("promote", source, target, "--dist", str(dist))
    assert result.returncode == 2 and message in result.stderr
    assert (dist / LOCK_FILE).read_bytes() == before


def test_promote_after_a_vendor_tag_bump_in_staging_then_synth(tmp_path):
    """staging runs server 1.1 (digest b), prod 1.0 (digest a): promote copies repository, tag and digest; synth keeps them."""
    out = tmp_path / "dist"
    _released(out)
    _platform(SERVER + ":1.0").synthesize(out)
    lock = json.loads((out / LOCK_FILE).read_text())
    lock["environments"]["staging"]["images"] = {SERVER: _entry("1.1", "b")}
    (out / LOCK_FILE).write_text(json.dumps(lock))
    staging = out / "staging/scoring/deployment-server.yaml"
    staging.write_text(staging.read_text().replace(digest("a"), digest("b")))
    result = run_mlkube("promote", "staging", "prod", "--dist", str(out), env={"MLKUBE_REVISION": "r1"})
    assert result.returncode == 0, result.stderr
    promoted = json.loads((out / LOCK_FILE).read_text())["environments"]["prod"]
    assert promoted["images"][SERVER] == _entry("1.1", "b")
    assert _images(out, "prod") == [f"{SERVER}@{digest('b')}"]
    # The promote workflow synthesizes next: prod's blueprint still says 1.0, its lock says 1.1@b.
    _platform(SERVER + ":1.0", staging=SERVER + ":1.1").synthesize(out)
    assert _images(out, "prod") == [f"{SERVER}@{digest('b')}"]
    assert run_mlkube("check", "--pinned", "--dist", str(out)).returncode == 0


def test_check_pinned_fails_when_a_gated_environment_drifts_after_promotion(tmp_path):
    out = tmp_path / "dist"
    _released(out)
    _platform(SERVER + ":1.0").synthesize(out)
    assert run_mlkube("promote", "staging", "prod", "--dist", str(out), env={"MLKUBE_REVISION": "r1"}).returncode == 0
    assert run_mlkube("check", "--pinned", "--dist", str(out)).returncode == 0
    # Someone moves prod by hand, lock and manifest together, without mlkube promote.
    lock = json.loads((out / LOCK_FILE).read_text())
    lock["environments"]["prod"]["images"][SERVER]["digest"] = digest("c")
    (out / LOCK_FILE).write_text(json.dumps(lock))
    prod = out / "prod/scoring/deployment-server.yaml"
    prod.write_text(prod.read_text().replace(digest("a"), digest("c")))
    result = run_mlkube("check", "--pinned", "--dist", str(out))
    assert result.returncode == 1
    assert "prod's locked images differ from what `mlkube promote` copied from staging" in result.stderr


def test_promoting_twice_changes_nothing(tmp_path):
    out = tmp_path / "dist"
    _released(out)
    _platform(SERVER + ":1.0").synthesize(out)
    assert run_mlkube("promote", "staging", "prod", "--dist", str(out), env={"MLKUBE_REVISION": "r1"}).returncode == 0
    before = (out / LOCK_FILE).read_bytes()
    result = run_mlkube("promote", "staging", "prod", "--dist", str(out), env={"MLKUBE_REVISION": "r2"})
    assert result.returncode == 0 and "0 files changed" in result.stdout
    assert (out / LOCK_FILE).read_bytes() == before


def test_promote_copies_the_model_pins_with_the_images(tmp_path):
    """Model pins (``models`` of an environment in the lock) travel with the images, and count in the promotion fingerprint."""
    out = tmp_path / "dist"
    _released(out)
    _platform(SERVER + ":1.0").synthesize(out)
    lock = json.loads((out / LOCK_FILE).read_text())
    models = {"hf://acme/scorer": {"pinned": "hf://acme/scorer@" + "3f2a9c0" * 5 + "abcde", "source": {"via": "resolve", "from": "x", "revision": "r0"}}}
    lock["environments"]["staging"]["models"] = models
    (out / LOCK_FILE).write_text(json.dumps(lock))
    assert run_mlkube("promote", "staging", "prod", "--dist", str(out)).returncode == 0
    assert json.loads((out / LOCK_FILE).read_text())["environments"]["prod"]["models"] == models
    assert run_mlkube("check", "--pinned", "--dist", str(out)).returncode == 0
    lock = json.loads((out / LOCK_FILE).read_text())
    lock["environments"]["prod"]["models"]["hf://acme/scorer"]["pinned"] = "hf://acme/scorer@" + "0" * 40
    (out / LOCK_FILE).write_text(json.dumps(lock))
    assert run_mlkube("check", "--pinned", "--dist", str(out)).returncode == 1
