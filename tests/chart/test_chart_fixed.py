"""What a chart fixes at export is safe: images that are not parameters are pinned by digest, model URIs keep the
form the export checked (judged by the real helm v4: bin/setup installs it)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import REPO_ROOT

from mlkube import Environment, InferenceService, Platform, SidecarSpec
from mlkube.core.gitops_settings import NetworkSpec
from mlkube.errors import MlkubeError
from mlkube.pinning.lock import Lock, LockEntry

HELM = REPO_ROOT / ".tools" / "helm" / "helm"
SERVER = "ghcr.io/acme/server:1.0@sha256:" + "a" * 64
#: Model downloads leave the cluster over HTTPS.
EGRESS = NetworkSpec(egress_https_cidrs=["0.0.0.0/0"])
DOWNLOADER = "sha256:" + "d" * 64
COMMIT = "0123456789abcdef0123456789abcdef01234567"

pytestmark = pytest.mark.skipif(not HELM.is_file(), reason="helm is not installed in .tools/helm (bin/setup installs it from npm)")


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HELM_CACHE_HOME": "/nonexistent-cache", "HELM_CONFIG_HOME": "/nonexistent-config"})


def exported(tmp_path: Path, environment: Environment, **spec: Any) -> Path:
    from mlkube.chart.export import export_chart
    from mlkube.output import replace_tree

    # The model downloader (KServe's storage initializer) pinned the way CI's mlkube pin does, in the lock.
    lock = Lock(environments={environment.name: {"kserve/storage-initializer": LockEntry("kserve/storage-initializer", "v0.15.2", DOWNLOADER)}})
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "images.lock.json").write_bytes(lock.to_bytes())
    platform = Platform(environments=[environment])
    platform.app("scoring", lambda app: InferenceService(app, "server", image=SERVER, replicas=2, **spec))
    export = export_chart(platform, "scoring", environment.name, tmp_path / "dist")
    replace_tree(tmp_path / "chart", export.files)
    return tmp_path / "chart"


def downloader_argument(rendered: str) -> str:
    deployment = next(doc for doc in yaml.safe_load_all(rendered) if doc and doc["kind"] == "Deployment")
    [downloader] = [c for c in deployment["spec"]["template"]["spec"]["initContainers"] if c["name"] == "model-downloader"]
    return downloader["args"][0]


def test_fails_when_a_sidecar_image_would_be_fixed_in_the_chart_by_tag(tmp_path: Path) -> None:
    """Failing before: the sidecar's tag went into the templates, so the chart's digest did not name what runs."""
    with pytest.raises(MlkubeError) as caught:  # no model: no downloader
        exported(tmp_path, Environment(name="dev", namespace="ml"),
                 sidecars=[SidecarSpec(name="metrics", image="ghcr.io/acme/exporter:2.1", ports={"metrics": 9400})])
    text = str(caught.value)
    assert "the chart of 'scoring' in 'dev' cannot be exported; nothing was written" in text
    assert "container 'metrics' image 'ghcr.io/acme/exporter:2.1' would be fixed in the chart by tag" in text
    assert "templates/deployment-server.yaml" in text and "pin it first" in text
    assert not (tmp_path / "chart").exists()


def test_a_sidecar_pinned_by_digest_is_fixed_and_listed_in_the_readme(tmp_path: Path) -> None:
    exporter = "ghcr.io/acme/exporter@sha256:" + "e" * 64
    chart = exported(tmp_path, Environment(name="dev", namespace="ml"), sidecars=[SidecarSpec(name="metrics", image=exporter)])
    readme = (chart / "README.md").read_text()
    assert f"(container `metrics`): `{exporter}`" in readme
    refused = helm("template", "scoring", str(chart), "--set", "workloads.server.sidecars[0].image=ghcr.io/acme/exporter:latest")
    assert refused.returncode != 0 and "values don't meet the specifications of the schema" in refused.stderr


def test_a_production_chart_refuses_a_mutable_model_override(tmp_path: Path) -> None:
    """Failing before: the model URI took any string, so `--set ...model.uri=hf://org/name` put a moving model into prod.
    (https:// has no immutable form: synth only warns, so the URI is a parameter in prod.)"""
    chart = exported(tmp_path, Environment(name="prod", namespace="ml", production=True, network=EGRESS),
                     model="https://models.acme.example/fraud/v3")
    for mutable in ("hf://acme/fraud", "s3://acme-models/fraud/v4"):
        refused = helm("template", "scoring", str(chart), "--set", f"workloads.server.model.uri={mutable}")
        assert refused.returncode != 0
        assert "at '/workloads/server/model/uri'" in refused.stderr and "does not match pattern" in refused.stderr
    accepted = helm("template", "scoring", str(chart), "--set", "workloads.server.model.uri=https://models.acme.example/fraud/v4")
    assert accepted.returncode == 0, accepted.stderr
    assert downloader_argument(accepted.stdout) == "https://models.acme.example/fraud/v4"
    assert "Must keep the scheme https://" in (chart / "README.md").read_text()


def test_a_pinned_model_stays_pinned(tmp_path: Path) -> None:
    model = "oci://ghcr.io/acme/models/chat@sha256:" + "1" * 64
    # The default downloader reads no oci://: a downloader that can, pinned.
    chart = exported(tmp_path, Environment(name="dev", namespace="ml", network=EGRESS),
                     model={"source": "uri", "uri": model, "downloader_image": "ghcr.io/acme/oci-fetch@sha256:" + "f" * 64})
    refused = helm("template", "scoring", str(chart), "--set", "workloads.server.model.uri=oci://ghcr.io/acme/models/chat:latest")
    assert refused.returncode != 0
    assert "at '/workloads/server/model/uri'" in refused.stderr and "does not match pattern" in refused.stderr
    other = "oci://ghcr.io/acme/models/chat@sha256:" + "2" * 64
    accepted = helm("template", "scoring", str(chart), "--set", f"workloads.server.model.uri={other}")
    assert accepted.returncode == 0, accepted.stderr
    assert downloader_argument(accepted.stdout) == other
    assert "Must stay pinned: oci://...@sha256:<digest>" in (chart / "README.md").read_text()


def test_a_pinned_hugging_face_model_is_fixed_because_the_downloader_reads_another_form(tmp_path: Path) -> None:
    """hf://org/name@<commit> reaches the downloader as hf://org/name:<commit> (model.download_form): not the value itself."""
    chart = exported(tmp_path, Environment(name="dev", namespace="ml", network=EGRESS), model=f"hf://acme/chat@{COMMIT}")
    refused = helm("template", "scoring", str(chart), "--set", "workloads.server.model.uri=hf://acme/chat")
    assert refused.returncode != 0 and f"at '/workloads/server/model/uri': value must be 'hf://acme/chat@{COMMIT}'" in refused.stderr


@pytest.mark.parametrize(("value", "kind"), [
    ("ghp_" + "A1b2" * 9, "a GitHub token"),
    ("postgres://scorer:s3cr3t@db.internal:5432/features", "a URI with a password"),
])
def test_a_credential_set_as_a_value_is_refused_like_synth_refuses_it(tmp_path: Path, value: str, kind: str) -> None:
    """Failing before: `--set ...env.X=<token>` rendered a credential into the Deployment, which synth's policy refuses."""
    from mlkube.credential_patterns import find_credentials

    assert [credential.kind for credential in find_credentials(value)] == [kind]
    chart = exported(tmp_path, Environment(name="dev", namespace="ml"), env={"LOG_LEVEL": "info"})
    refused = helm("template", "scoring", str(chart), "--set", f"workloads.server.env.LOG_LEVEL={value}")
    assert refused.returncode != 0 and "at '/workloads/server/env/LOG_LEVEL'" in refused.stderr
    assert helm("template", "scoring", str(chart), "--set", "workloads.server.env.LOG_LEVEL=debug").returncode == 0
