"""`mlkube promote SRC DST` on a copy of the example config repo."""

from __future__ import annotations

import json
import re
import shutil

import yaml
from helpers import REPO_ROOT, run_mlkube


def _copy(tmp_path):
    dist = tmp_path / "dist"
    shutil.copytree(REPO_ROOT / "dist", dist)
    return dist


def _images(folder):
    return sorted({c["image"] for path in folder.glob("*/deployment-*.yaml")
                   for c in yaml.safe_load(path.read_text())["spec"]["template"]["spec"]["containers"]})


def test_promote_copies_staging_digests_to_the_target_lock_and_manifests(tmp_path):
    dist = _copy(tmp_path)
    lock = json.loads((dist / "images.lock.json").read_text())
    lock["environments"]["prod"]["images"] = {}
    (dist / "images.lock.json").write_text(json.dumps(lock))
    result = run_mlkube("promote", "staging", "prod", "--dist", str(dist), "--revision", "abc123")
    assert result.returncode == 0, result.stderr
    assert f"promoted {len(lock['environments']['staging']['images'])} images from staging to prod" in result.stdout
    after = json.loads((dist / "images.lock.json").read_text())
    assert after["environments"]["prod"]["images"] == after["environments"]["staging"]["images"]
    assert after["environments"]["prod"]["promoted"]["from"] == "staging"
    assert after["environments"]["prod"]["promoted"]["revision"] == "abc123"
    assert _images(dist / "prod") == _images(dist / "staging")
    assert all("@sha256:" in image for image in _images(dist / "prod"))


def test_example_prod_runs_the_digests_staging_locked():
    lock = json.loads((REPO_ROOT / "dist/images.lock.json").read_text())
    assert lock["environments"]["prod"]["images"] == lock["environments"]["staging"]["images"]
    assert lock["environments"]["prod"]["models"] == lock["environments"]["staging"]["models"]  # the model pins too (issue 20)
    assert lock["environments"]["prod"]["promoteFrom"] == "staging"
    assert _images(REPO_ROOT / "dist/prod") == _images(REPO_ROOT / "dist/staging")


def test_fails_when_promote_source_has_an_unpinned_image(tmp_path):
    dist = _copy(tmp_path)
    # staging as before CI pinned it: nothing locked, its server on a tag.
    lock = json.loads((dist / "images.lock.json").read_text())
    del lock["environments"]["staging"]
    (dist / "images.lock.json").write_text(json.dumps(lock))
    server = dist / "staging/fraud-scoring/deployment-fraud-scorer.yaml"
    server.write_text(re.sub(r"ghcr.io/acme/fraud-scorer@sha256:[0-9a-f]+", "ghcr.io/acme/fraud-scorer:1.4.2", server.read_text()))
    result = run_mlkube("promote", "staging", "prod", "--dist", str(dist))
    assert result.returncode == 1
    assert "cannot promote staging to prod: nothing is locked" in result.stderr
    lock["environments"]["staging"] = lock["environments"]["dev"]
    (dist / "images.lock.json").write_text(json.dumps(lock))
    result = run_mlkube("promote", "staging", "prod", "--dist", str(dist))
    assert result.returncode == 1
    assert "cannot promote staging to prod: staging has unpinned images; nothing was written" in result.stderr
    assert "fraud-scoring/deployment-fraud-scorer.yaml:" in result.stderr
    assert "image 'ghcr.io/acme/fraud-scorer:1.4.2' is not pinned by digest" in result.stderr
    assert json.loads((dist / "images.lock.json").read_text()) == lock


def test_fails_when_promote_source_environment_does_not_exist(tmp_path):
    result = run_mlkube("promote", "qa", "prod", "--dist", str(_copy(tmp_path)))
    assert result.returncode == 2 and "no environment 'qa'" in result.stderr and "dev, prod, staging" in result.stderr
