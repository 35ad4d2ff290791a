"""Per-app YAML snapshots and the changed-field summary of a snapshot failure."""

from __future__ import annotations

from mlkube import Environment, InferenceService, Platform
from mlkube.testing import changed_fields, snapshot_platform, synth_platform
from mlkube.testing.snapshot import app_documents

IMAGE = "ghcr.io/acme/fraud:1.4.2"


def two_environments() -> Platform:
    platform = Platform(environments=[Environment(name="dev"), Environment(name="prod")])
    platform.app("fraud", lambda app: InferenceService(app, "scorer", image=IMAGE, replicas=2))
    return platform


def test_platform_snapshot_keeps_one_file_per_environment_and_app(platform_snapshot, request):
    platform_snapshot(two_environments())
    folder = request.path.parent / "__snapshots__" / request.path.stem
    for name in ("dev-fraud", "prod-fraud"):
        text = (folder / f"{request.node.name}[{name}].yaml").read_text()
        assert text.startswith(f"# {name.replace('-', '/', 1)}/serviceaccount-scorer.yaml\napiVersion: v1\n")
        assert f"# {name.replace('-', '/', 1)}/deployment-scorer.yaml\n" in text


def test_snapshot_platform_returns_the_objects(snapshot):
    objects = snapshot_platform(two_environments(), snapshot)
    assert objects.apps() == [("dev", "fraud"), ("prod", "fraud")]


def test_app_documents_read_like_the_config_repo():
    documents = app_documents(synth_platform(two_environments()))
    assert list(documents) == ["dev-fraud", "prod-fraud"]
    headers = [line for line in documents["dev-fraud"].splitlines() if line.startswith("# ")]
    assert headers == ["# dev/fraud/serviceaccount-scorer.yaml", "# dev/fraud/deployment-scorer.yaml",
                       "# dev/fraud/service-scorer.yaml", "# dev/fraud/poddisruptionbudget-scorer.yaml",
                       "# dev/fraud/networkpolicy-scorer.yaml", "# dev/fraud/networkpolicy-scorer-clients.yaml"]


def test_changed_fields_names_each_field_and_object():
    old = "# dev/a/deployment-x.yaml\nkind: Deployment\nspec:\n  replicas: 2\n  paused: false\n---\n# dev/a/service-x.yaml\nkind: Service\n"
    new = "# dev/a/deployment-x.yaml\nkind: Deployment\nspec:\n  replicas: 3\n  minReadySeconds: 5\n---\n# dev/a/hpa-x.yaml\nkind: HPA\n"
    assert changed_fields(old, new) == [
        "dev/a/deployment-x.yaml: spec.minReadySeconds: added (5)",
        "dev/a/deployment-x.yaml: spec.paused: removed (was False)",
        "dev/a/deployment-x.yaml: spec.replicas: 2 -> 3",
        "dev/a/service-x.yaml: object removed",
        "dev/a/hpa-x.yaml: object added",
    ]
