"""A realistic change of an example platform (an image bump, a GPU change, a removed volume):
Markdown snapshot, exact JSON, the Mermaid diagram, and the lock's source revisions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from diff_trees import (
    DIGEST_A,
    DIGEST_B,
    IMAGE_A,
    IMAGE_B,
    MarkdownSnapshot,
    cronjob,
    deployment,
    hpa,
    network_policy,
    pdb,
    pod_spec,
    pvc,
    restricted_container,
    service,
    write_app,
    write_lock,
)

from mlkube.diff import diff_specs, render_json, render_markdown
from mlkube.diff.markdown import code
from mlkube.diff.mermaid import escape_label, mermaid_flowchart

REVISION_A = "0f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
REVISION_B = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"


@pytest.fixture
def markdown_snapshot(snapshot):
    return snapshot.use_extension(MarkdownSnapshot)


def server(environment: str, *, image: str, gpu: dict[str, Any], product: str, with_volume: bool) -> dict[str, Any]:
    resources = {"requests": {"cpu": "2", "memory": "8Gi", **gpu}, "limits": {"memory": "8Gi", **gpu}}
    mounts = {"volumeMounts": [{"name": "models", "mountPath": "/models", "readOnly": True}]} if with_volume else {}
    container = {**restricted_container("server", image, **mounts), "resources": resources}
    volumes = {"volumes": [{"name": "models", "persistentVolumeClaim": {"claimName": "models"}}]} if with_volume else {}
    spec = pod_spec(container, nodeSelector={"nvidia.com/gpu.product": product}, **volumes)
    return deployment("server", "fraud-scoring", replicas=3 if environment == "prod" else 1,
                      labels={"app.kubernetes.io/name": "server"}, spec=spec)


def write_platform(root, *, after: bool) -> None:
    """dev and prod, each with a fraud-scoring app (GPU server) and a training app (nightly CronJob)."""
    for environment in ("dev", "prod"):
        bumped = after and environment == "prod"  # the change under review touches prod only, except the GPU
        gpu = {"nvidia.com/mig-3g.40gb": 1} if after else {"nvidia.com/gpu": 1}
        product = "NVIDIA-H100-80GB-HBM3" if after else "NVIDIA-A100-SXM4-80GB"
        objects = [
            server(environment, image=IMAGE_B if bumped else IMAGE_A, gpu=gpu, product=product, with_volume=not after),
            service("server", "fraud-scoring"), hpa("server", "fraud-scoring", minimum=2, maximum=8),
            pdb("server", "fraud-scoring"), network_policy("server", "fraud-scoring"),
        ]
        if not after:
            objects.append(pvc("models", "fraud-scoring", size="50Gi"))
        write_app(root, environment, "fraud-scoring", *objects)
        write_app(root, environment, "training", cronjob("retrain", "training", image=IMAGE_B if bumped else IMAGE_A))
        write_lock(root, environment, {"fraud": (DIGEST_B if bumped else DIGEST_A, REVISION_B if bumped else REVISION_A)})
    (root / "images.json").write_text("{}")
    (root / "images" / "fraud").mkdir(parents=True)
    (root / "images" / "fraud" / "Dockerfile").write_text("FROM scratch\n")


@pytest.fixture
def platform_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_platform(tmp_path / "base", after=False)
    write_platform(tmp_path / "head", after=True)
    return diff_specs("base", "head")


def test_markdown_of_a_realistic_change(platform_report, markdown_snapshot):
    assert render_markdown(platform_report) == markdown_snapshot


def test_json_of_a_realistic_change(platform_report):
    data = json.loads(render_json(platform_report))
    assert data["summary"] == {"added": 0, "removed": 2, "changed": 3,
                               "risks": {"high": 2, "medium": 0, "low": 0, "info": 1}, "highestRisk": "high"}
    assert [(c["environment"], c["app"], c["status"], c["kind"], c["name"]) for c in data["changes"]] == [
        ("dev", "fraud-scoring", "removed", "PersistentVolumeClaim", "models"),
        ("dev", "fraud-scoring", "changed", "Deployment", "server"),
        ("prod", "fraud-scoring", "removed", "PersistentVolumeClaim", "models"),
        ("prod", "fraud-scoring", "changed", "Deployment", "server"),
        ("prod", "training", "changed", "CronJob", "retrain"),
    ]
    prod_server = next(c for c in data["changes"] if c["environment"] == "prod" and c["kind"] == "Deployment")
    assert prod_server == {
        "environment": "prod", "app": "fraud-scoring", "production": True, "status": "changed",
        "group": "apps", "kind": "Deployment", "namespace": "fraud-scoring", "name": "server",
        "baseFile": "prod/fraud-scoring/deployment-server.yaml", "headFile": "prod/fraud-scoring/deployment-server.yaml",
        "movedFromApp": None,
        "fields": [
            {"field": "GPU product", "old": "NVIDIA-A100-SXM4-80GB", "new": "NVIDIA-H100-80GB-HBM3"},
            {"field": "volumes", "old": "models (persistentVolumeClaim models)", "new": None},
            {"field": "server: image", "old": f"ghcr.io/acme/fraud:1.4.2@sha256:{'a1' * 6} (source {REVISION_A[:12]})",
             "new": f"ghcr.io/acme/fraud:1.5.0@sha256:{'b2' * 6} (source {REVISION_B[:12]})"},
            {"field": "server: nvidia.com/gpu", "old": "1", "new": None},
            {"field": "server: nvidia.com/mig-3g.40gb", "old": None, "new": "1"},
        ],
        "otherChanges": ["spec.template.spec.containers[server].volumeMounts"],
        "risks": [],
    }
    removed_claims = [c for c in data["changes"] if c["kind"] == "PersistentVolumeClaim"]
    assert [(c["environment"], c["status"], c["risks"]) for c in removed_claims] == [
        ("dev", "removed", [{"level": "high", "category": "data loss",
                             "reason": "the claim is deleted; with the usual reclaim policy (Delete) its volume and data go too"}]),
        ("prod", "removed", [{"level": "high", "category": "data loss",
                              "reason": "the claim is deleted; with the usual reclaim policy (Delete) its volume and data go too"}]),
    ]
    assert data["base"] == "base" and data["head"] == "head" and data["notes"] == []


def test_report_is_byte_identical_across_runs(platform_report):
    assert render_markdown(diff_specs("base", "head")) == render_markdown(platform_report)
    assert render_json(diff_specs("base", "head")) == render_json(platform_report)


def test_mermaid_labels_are_escaped():
    assert escape_label('Deployment "a" <b> | [c] {d} #e `f`') == (
        "Deployment #quot;a#quot; #lt;b#gt; #124; #91;c#93; #123;d#125; #35;e #96;f#96;")


def test_mermaid_diagram_stays_small(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_app(tmp_path / "base", "dev", "many", *[service(f"s{index}", "many") for index in range(9)])
    (tmp_path / "head").mkdir()
    diagram = mermaid_flowchart(diff_specs("base", "head"))
    assert diagram.splitlines() == [
        "flowchart LR",
        '  subgraph env0["dev"]',
        '    app0["many"]',
        '    app0 -->|"removed"| obj0["Service s0"]',
        '    app0 -->|"removed"| obj1["Service s1"]',
        '    app0 -->|"removed"| obj2["Service s2"]',
        '    app0 -->|"removed"| obj3["Service s3"]',
        '    app0 --> more0["+5 more"]',
        "  end",
    ]


def test_markdown_code_spans_escape_backticks_and_table_pipes():
    assert code("a`b") == "`` a`b ``"
    assert code("x|y") == "`x|y`"
    assert code("x|y", in_table=True) == "`x\\|y`"


def test_markdown_of_every_kind_of_entry(tmp_path, monkeypatch, markdown_snapshot):
    """Levels from info to high, an unchanged Service that loses its pods, a move between apps,
    quiet additions, an equivalent rewrite, and names that need escaping in the diagram."""
    monkeypatch.chdir(tmp_path)
    relabelled = deployment("api", "shop", labels={"app.kubernetes.io/name": "api-v2"})
    write_app(tmp_path / "base", "prod", "shop", deployment("api", "shop"), service("api", "shop"), network_policy("api", "shop"))
    write_app(tmp_path / "base", "dev", "shop", deployment("api", "shop", replicas=2), pvc("cache", "shop", size="1Gi"))
    write_app(tmp_path / "head", "prod", "shop", relabelled, service("api", "shop"))
    write_app(tmp_path / "head", "dev", "shop", deployment("api", "shop", replicas=0))
    write_app(tmp_path / "head", "dev", "shared", pvc("cache", "shop", size="1024Mi"))
    write_app(tmp_path / "head", "dev", "new-app", service("web", "new-app"), pdb("web", "new-app"))
    assert render_markdown(diff_specs("base", "head")) == markdown_snapshot
