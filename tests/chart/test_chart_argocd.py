"""GitOps(source="chart"): Argo CD deploys the locked chart by digest; the lock's optional "charts" section."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from helpers import REPO_ROOT

from mlkube import Environment, InferenceService, Platform
from mlkube.core.gitops_settings import GitOps
from mlkube.errors import MlkubeError
from mlkube.pinning.lock import ChartLockEntry, Lock, parse_lock

REPO = "https://example.com/acme/config.git"
DIGEST = "sha256:" + "d" * 64
CHARTS = {"charts": {"dev": {"scoring": {"repository": "ghcr.io/acme/charts/scoring", "version": "0.1.0-dev.c1", "digest": DIGEST}},
                     "prod": {"scoring": {"repository": "ghcr.io/acme/charts/scoring", "version": "0.1.0-prod.c2", "digest": "sha256:" + "e" * 64}}}}


def server(app) -> None:
    InferenceService(app, "server", image="ghcr.io/acme/server:1.0@sha256:" + "a" * 64)


def chart_platform(*environments: Environment) -> Platform:
    platform = Platform(environments=list(environments), gitops=GitOps(repo_url=REPO, source="chart"))
    platform.app("scoring", server)
    return platform


def synthesize(tmp_path: Path, lock: dict, *environments: Environment):
    out = tmp_path / "dist"
    out.mkdir()
    (out / "images.lock.json").write_text(json.dumps({"version": 1, "environments": {}, **lock}))
    return chart_platform(*environments).synthesize(out)


def objects(result, kind: str) -> list[dict]:
    return [m.obj for m in result.manifests if m.kind == kind]


def test_application_deploys_the_locked_chart_by_digest(tmp_path: Path, shared_dir: Path) -> None:
    result = synthesize(tmp_path, CHARTS, Environment(name="dev", namespace="ml", operators={"argocd": "3.1"}))
    [app] = objects(result, "Application")
    assert app["spec"]["source"] == {"path": ".", "repoURL": "oci://ghcr.io/acme/charts/scoring", "targetRevision": DIGEST}
    assert app["metadata"]["annotations"]["mlkube.dev/chart-version"] == "0.1.0-dev.c1"
    [project] = objects(result, "AppProject")
    assert project["spec"]["sourceRepos"] == [REPO, "oci://ghcr.io/acme/charts/scoring"]
    for obj in (app, project):
        jsonschema.validate(obj, json.loads((shared_dir / f"crd-schemas/argoproj.io/{obj['kind'].lower()}_v1alpha1.json").read_text()))
    # The lock survives synth, charts included.
    assert json.loads((tmp_path / "dist" / "images.lock.json").read_text())["charts"] == CHARTS["charts"]


def test_application_set_elements_carry_each_folder_chart(tmp_path: Path) -> None:
    result = synthesize(tmp_path, CHARTS, Environment(name="prod", namespace="ml", production=True, clusters=["eu-1"]))
    [appset] = objects(result, "ApplicationSet")
    elements = appset["spec"]["generators"][0]["matrix"]["generators"][0]["list"]["elements"]
    assert elements == [{"folder": "scoring", "namespace": "ml", "chartRepoURL": "oci://ghcr.io/acme/charts/scoring",
                         "chartDigest": "sha256:" + "e" * 64, "chartVersion": "0.1.0-prod.c2"}]
    assert appset["spec"]["template"]["spec"]["source"] == {"path": ".", "repoURL": "{{chartRepoURL}}", "targetRevision": "{{chartDigest}}"}


def test_fails_when_the_lock_has_no_chart_for_an_app(tmp_path: Path) -> None:
    with pytest.raises(MlkubeError) as caught:
        synthesize(tmp_path, {}, Environment(name="dev", namespace="ml"))
    text = str(caught.value)
    assert "GitOps(source='chart') but the lock has no chart for 'scoring' in 'dev'" in text
    assert "mlkube chart scoring --env dev --out charts/dev/scoring --push <registry>/charts" in text
    assert sorted(p.name for p in (tmp_path / "dist").iterdir()) == ["images.lock.json"]  # nothing written


def test_fails_when_argocd_is_older_than_oci_sources(tmp_path: Path) -> None:
    with pytest.raises(MlkubeError, match=r"Argo CD 2.14 cannot deploy a chart by digest \(OCI sources came in 3.1\)"):
        synthesize(tmp_path, CHARTS, Environment(name="dev", namespace="ml", operators={"argocd": "2.14"}))


def test_a_lock_without_charts_keeps_its_bytes() -> None:
    committed = (REPO_ROOT / "dist" / "images.lock.json").read_text()
    assert parse_lock(committed, "lock").to_bytes().decode() == committed


def test_charts_round_trip_through_the_lock() -> None:
    lock = Lock(charts={"dev": {"app": ChartLockEntry("ghcr.io/acme/charts/app", "1.0.0", DIGEST)}})
    again = parse_lock(lock.to_bytes().decode(), "lock")
    assert again.charts == lock.charts and again.to_bytes() == lock.to_bytes()


def test_fails_when_a_chart_entry_is_not_a_digest() -> None:
    text = json.dumps({"version": 1, "environments": {}, "charts": {"dev": {"app": {"repository": "r", "version": "1.0.0", "digest": "latest"}}}})
    with pytest.raises(MlkubeError, match=r"charts.dev.app.digest: 'latest' is not a sha256 digest"):
        parse_lock(text, "lock")
