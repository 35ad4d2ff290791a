"""mlkube chart --push: a real docker-registry receives the chart; the lock records the digest the registry serves."""

from __future__ import annotations

import json
import shutil
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
