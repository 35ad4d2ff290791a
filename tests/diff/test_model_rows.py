"""A model change is its own diff row (old and new revision); a mutable model in production is a risk."""

from __future__ import annotations

from diff_trees import deployment, pod_spec, restricted_container, risk_summary

PROD, DEV = ("prod", "fraud"), ("dev", "fraud")
OLD, NEW = "0123456789abcdef0123456789abcdef01234567", "fedcba9876543210fedcba9876543210fedcba98"


def serving(model: str) -> dict:
    downloader = restricted_container("model-downloader", args=[model, "/mnt/models"])
    return deployment(spec=pod_spec(restricted_container(), initContainers=[downloader]))


def test_a_new_model_revision_is_its_own_row(run_diff):
    report = run_diff({DEV: [serving(f"hf://acme/chat:{OLD}")]}, {DEV: [serving(f"hf://acme/chat:{NEW}")]})
    rows = [(row.field, row.old, row.new) for row in report.changes[0].fields]
    assert rows == [("model", "hf://acme/chat@0123456789ab", "hf://acme/chat@fedcba987654")]
    assert risk_summary(report) == []


def test_a_mutable_model_in_production_is_a_risk(run_diff):
    report = run_diff({PROD: [serving(f"hf://acme/chat:{OLD}")]}, {PROD: [serving("hf://acme/chat")]})
    assert risk_summary(report) == [("changed", "Deployment fraud/server", "high", "security")]
    assert "model hf://acme/chat is not pinned to one content in production" in report.changes[0].risks[0].reason
    assert "pin it as hf://acme/chat@<revision>" in report.changes[0].risks[0].reason


def test_a_mutable_model_outside_production_is_no_risk(run_diff):
    assert risk_summary(run_diff({DEV: [serving(f"hf://acme/chat:{OLD}")]}, {DEV: [serving("hf://acme/chat")]})) == []


def test_a_new_s3_object_version_is_its_own_row_by_manifest_digest(run_diff):
    from mlkube.core.model_fetch import object_set_digest, versioned_uri

    old, new = ({"model.joblib": version} for version in ("v1", "v2"))
    report = run_diff({DEV: [serving(versioned_uri("s3://models/fraud/v3", old))]}, {DEV: [serving(versioned_uri("s3://models/fraud/v3", new))]})
    rows = [(row.field, row.old, row.new) for row in report.changes[0].fields]
    digests = [object_set_digest("s3://models/fraud/v3", objects)[len("sha256:"):][:12] for objects in (old, new)]
    assert rows == [("model", f"s3://models/fraud/v3@{digests[0]}", f"s3://models/fraud/v3@{digests[1]}")]
