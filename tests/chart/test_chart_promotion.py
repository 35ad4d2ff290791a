"""Charts under the promotion rules of images: promote, check --pinned, recording a gated environment's chart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers import run_mlkube

from mlkube import Environment, InferenceService, Platform
from mlkube.core.gitops_settings import GitOps, WorkloadOverride
from mlkube.errors import MlkubeError
from mlkube.pinning.lock import ChartLockEntry, Lock, LockEntry, Promotion, fingerprint, load_lock

REPO = "https://example.com/acme/config.git"
SERVER = "ghcr.io/acme/server"
STAGING_IMAGE = LockEntry(SERVER, "1.0", "sha256:" + "1" * 64)
PROD_IMAGE = LockEntry(SERVER, "1.0", "sha256:" + "0" * 64)
CHART_REPOSITORY = "ghcr.io/acme/charts/scoring"


def chart(digit: str, version: str, promotion: str = "") -> ChartLockEntry:
    return ChartLockEntry(CHART_REPOSITORY, version, "sha256:" + digit * 64, promotion)


def platform() -> Platform:
    environments = [Environment(name="staging", namespace="ml"),
                    Environment(name="prod", namespace="ml", production=True,
                                overrides={"scoring/server": WorkloadOverride(replicas=6)})]
    built = Platform(environments=environments, gitops=GitOps(repo_url=REPO, source="chart"))
    built.app("scoring", lambda app: InferenceService(app, "server", image=f"{SERVER}:1.0", replicas=2))
    return built


def promoted_lock(prod_chart_promotion: str | None = None) -> Lock:
    """staging pinned to a newer build of 1.0, prod promoted (earlier) to the older one; each environment has its own chart."""
    prod_images = {SERVER: PROD_IMAGE}
    promotion = fingerprint(prod_images)
    return Lock(environments={"staging": {SERVER: STAGING_IMAGE}, "prod": prod_images}, sources={"prod": "staging"},
                promotions={"prod": Promotion("staging", "rev-1", promotion)},
                charts={"staging": {"scoring": chart("a", "0.1.0-staging.c1")},
                        "prod": {"scoring": chart("b", "0.1.0-prod.c1", promotion if prod_chart_promotion is None else prod_chart_promotion)}})


def synthesized(tmp_path: Path, lock: Lock) -> Path:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "images.lock.json").write_bytes(lock.to_bytes())
    platform().synthesize(dist)
    return dist


def application(dist: Path, environment: str) -> Path:
    [path] = [p for p in (dist / environment / "_argocd").glob("*.yaml") if yaml.safe_load(p.read_text())["kind"] == "Application"]
    return path


# promote ------------------------------------------------------------------------------------------------------------

def test_promote_drops_the_targets_chart_pins_of_the_earlier_promotion_and_copies_no_source_chart(tmp_path: Path) -> None:
    """Failing before: promote left prod's chart pin, so Argo CD kept deploying a chart of the images it had just replaced."""
    dist = synthesized(tmp_path, promoted_lock())
    result = run_mlkube("promote", "staging", "prod", "--dist", str(dist), "--revision", "rev-2")
    assert result.returncode == 0, result.stderr
    assert "1 chart pin of prod rendered the previous images and was dropped (scoring)" in result.stdout
    assert "mlkube chart --all --env prod --out DIR --push REGISTRY" in result.stdout
    lock = load_lock(dist)
    assert lock.environments["prod"] == {SERVER: STAGING_IMAGE}
    # staging's chart renders staging's objects (2 replicas, not prod's 6): it is not copied to prod.
    assert "prod" not in lock.charts and lock.charts["staging"]["scoring"] == chart("a", "0.1.0-staging.c1")
    # Until prod's chart is pushed again, synth says what to run instead of deploying a stale chart.
    with pytest.raises(MlkubeError, match="the lock has no chart for 'scoring' in 'prod'"):
        platform().synthesize(dist)


def test_promoting_the_same_images_again_keeps_the_targets_chart(tmp_path: Path) -> None:
    lock = promoted_lock()
    lock.environments["staging"] = {SERVER: PROD_IMAGE}  # staging holds what prod was promoted with
    dist = synthesized(tmp_path, lock)
    result = run_mlkube("promote", "staging", "prod", "--dist", str(dist))
    assert result.returncode == 0, result.stderr
    assert "chart pin" not in result.stdout
    assert load_lock(dist).charts["prod"] == lock.charts["prod"]


# recording a chart of a gated environment -------------------------------------------------------------------------------

def test_a_gated_environments_chart_is_bound_to_the_promotion_it_renders(tmp_path: Path) -> None:
    from mlkube.chart.helm import record_charts

    dist = synthesized(tmp_path, promoted_lock())
    lock = load_lock(dist)
    del lock.charts["prod"]
    (dist / "images.lock.json").write_bytes(lock.to_bytes())
    record_charts(dist, [("prod", "scoring", chart("c", "0.1.0-prod.c2")), ("staging", "scoring", chart("d", "0.1.0-staging.c2"))])
    after = load_lock(dist)
    assert after.charts["prod"]["scoring"] == chart("c", "0.1.0-prod.c2", lock.promotions["prod"].fingerprint)
    assert after.charts["staging"]["scoring"] == chart("d", "0.1.0-staging.c2")  # an entry environment: no promotion to bind


def test_fails_when_a_chart_is_recorded_for_a_gated_environment_that_does_not_hold_its_promotion(tmp_path: Path) -> None:
    """Failing before: `mlkube chart --env prod --push` recorded a chart of images that never came through promote."""
    from mlkube.chart.helm import record_charts

    lock = promoted_lock()
    dist = synthesized(tmp_path, lock)
    changed = load_lock(dist)
    changed.environments["prod"] = {SERVER: LockEntry(SERVER, "hotfix", "sha256:" + "9" * 64)}  # edited by hand
    (dist / "images.lock.json").write_bytes(changed.to_bytes())
    before = (dist / "images.lock.json").read_bytes()
    with pytest.raises(MlkubeError) as caught:
        record_charts(dist, [("prod", "scoring", chart("c", "0.1.0-prod.c2"))])
    assert "prod is a gated environment (promoted from staging) and its lock does not hold a promotion" in str(caught.value)
    assert "mlkube promote staging prod, then export and push its charts" in str(caught.value)
    assert (dist / "images.lock.json").read_bytes() == before


def test_chart_push_for_a_never_promoted_gated_environment_exits_2_before_pushing(tmp_path: Path) -> None:
    from helpers import REPO_ROOT

    dist = tmp_path / "dist"
    dist.mkdir()
    lock = json.loads((REPO_ROOT / "dist" / "images.lock.json").read_text())
    lock["environments"]["prod"].pop("promoted", None)  # prod as before any `mlkube promote` recorded one
    (dist / "images.lock.json").write_text(json.dumps(lock))
    # An unreachable registry: the refusal must come first (a push would fail differently).
    result = run_mlkube("chart", "fraud-scoring", "--env", "prod", "--out", str(tmp_path / "chart"), "--dist", str(dist),
                        "--push", "127.0.0.1:9/charts", "--plain-http", cwd=REPO_ROOT)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no chart was pushed" in result.stderr and "prod is a gated environment (promoted from staging)" in result.stderr
    assert "Traceback" not in result.stderr


# check --pinned ------------------------------------------------------------------------------------------------------

def test_check_pinned_passes_when_every_application_deploys_its_locked_chart(tmp_path: Path) -> None:
    dist = synthesized(tmp_path, promoted_lock())
    result = run_mlkube("check", "--pinned", "--dist", str(dist), "--env", "prod")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "1 image references pinned by digest, 1 chart references at their locked digest in prod\n"


@pytest.mark.parametrize(("edit", "message"), [
    (lambda text: text.replace("sha256:" + "b" * 64, "0.1.0-prod.c1"),
     "chart oci://ghcr.io/acme/charts/scoring is referenced by tag or version '0.1.0-prod.c1', not by digest (the lock records sha256:bbbb"),
    (lambda text: text.replace("sha256:" + "b" * 64, "sha256:" + "e" * 64),
     f"chart oci://ghcr.io/acme/charts/scoring digest sha256:{'e' * 64} is not the one locked in prod (sha256:{'b' * 64})"),
    (lambda text: text.replace("oci://ghcr.io/acme/charts/scoring", "oci://ghcr.io/other/charts/scoring"),
     "chart oci://ghcr.io/other/charts/scoring is not in the lock of prod"),
])
def test_check_pinned_fails_when_an_application_does_not_deploy_the_locked_chart_digest(tmp_path: Path, edit, message: str) -> None:
    """Failing before: check --pinned read only image fields, so an Application moved to a chart tag passed."""
    dist = synthesized(tmp_path, promoted_lock())
    path = application(dist, "prod")
    path.write_text(edit(path.read_text()))
    result = run_mlkube("check", "--pinned", "--dist", str(dist), "--env", "prod")
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr
    assert f"{path}:" in result.stderr and "spec.source.targetRevision" in result.stderr


def test_check_pinned_fails_when_a_gated_chart_was_not_recorded_for_the_current_promotion(tmp_path: Path) -> None:
    """A prod chart pin copied by hand (no promotion bound) renders images that did not come through promote."""
    dist = synthesized(tmp_path, promoted_lock(prod_chart_promotion=""))
    result = run_mlkube("check", "--pinned", "--dist", str(dist), "--env", "prod")
    assert result.returncode == 1
    assert "was not recorded for prod's current promotion" in result.stderr
    # staging is an entry environment: its chart needs no promotion.
    assert run_mlkube("check", "--pinned", "--dist", str(dist), "--env", "staging").returncode == 0


def test_check_pinned_reads_the_chart_of_each_application_set_element(tmp_path: Path) -> None:
    environments = [Environment(name="staging", namespace="ml"), Environment(name="prod", namespace="ml", production=True, clusters=["eu-1"])]
    built = Platform(environments=environments, gitops=GitOps(repo_url=REPO, source="chart"))
    built.app("scoring", lambda app: InferenceService(app, "server", image=f"{SERVER}:1.0", replicas=2))
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "images.lock.json").write_bytes(promoted_lock().to_bytes())
    built.synthesize(dist)
    assert run_mlkube("check", "--pinned", "--dist", str(dist), "--env", "prod").returncode == 0
    [appset] = [p for p in (dist / "prod" / "_argocd").glob("*.yaml") if yaml.safe_load(p.read_text())["kind"] == "ApplicationSet"]
    appset.write_text(appset.read_text().replace("chartDigest: sha256:" + "b" * 64, "chartDigest: 0.1.0-prod.c1"))
    result = run_mlkube("check", "--pinned", "--dist", str(dist), "--env", "prod")
    assert result.returncode == 1 and "is referenced by tag or version '0.1.0-prod.c1', not by digest" in result.stderr


def test_a_new_chart_platform_synthesizes_before_its_gated_environment_was_ever_promoted(tmp_path: Path) -> None:
    """The first synth of a source='chart' platform: prod cannot have charts before `mlkube promote`, which needs a tree."""
    lock = promoted_lock()
    lock.promotions.clear()
    lock.sources.clear()
    del lock.charts["prod"]
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "images.lock.json").write_bytes(lock.to_bytes())
    result = platform().synthesize(dist)
    assert any("prod was never promoted, so it has no charts yet" in warning for warning in result.warnings)
    sources = {m.obj["metadata"]["name"]: m.obj["spec"]["source"] for m in result.manifests if m.kind == "Application"}
    assert sources["staging-scoring"]["repoURL"] == "oci://ghcr.io/acme/charts/scoring"
    assert sources["prod-scoring"]["repoURL"] == REPO  # its folder, until promoted
