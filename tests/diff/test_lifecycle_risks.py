"""Every way a change can lose a claim's data is high (issue 16): app removal, Application removal,
namespace removal, a claim re-created elsewhere; and a claim losing its protection is flagged.

The first test is the issue's check: `mlkube diff --fail-on high` exits 1 when an app with a
CheckpointVolume is removed from the committed example (it said "low" before).
"""

from __future__ import annotations

import shutil

from diff_trees import changed, pvc, risk_summary, service
from example_change import copy_dist
from helpers import run_mlkube

KEEP = {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}
DEV = ("dev", "fraud")


def namespace(name: str = "fraud", options: str | None = "Prune=false,Delete=false") -> dict:
    metadata: dict = {"name": name}
    if options:
        metadata["annotations"] = {"argocd.argoproj.io/sync-options": options}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def kept_claim(namespace_name: str = "fraud") -> dict:
    return changed(pvc(namespace=namespace_name), "metadata.annotations", KEEP)


def test_app_removal_with_a_checkpoint_volume_fails_on_high(tmp_path):
    base, head = copy_dist(tmp_path / "base"), copy_dist(tmp_path / "head")
    shutil.rmtree(head / "staging/llm-chat")
    (head / "staging/_argocd/application-staging-llm-chat.yaml").unlink()
    result = run_mlkube("diff", str(base), str(head), "--fail-on", "high", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert '"reason": "app \'llm-chat\' is removed: Prune=false,Delete=false keep the claim and its namespace' in result.stdout
    assert "the Application of ml-llm-chat/llm-checkpoints, ml-llm-chat/llm-checkpoints-finetune-v1 is removed" in result.stdout


def test_app_removal_without_delete_false_deletes_the_data(run_diff):
    """Before issue 16 Namespaces carried only Prune=false: the Application's cascade deletes the namespace, and the claim with it."""
    report = run_diff({DEV: [namespace(options="Prune=false"), kept_claim()]}, {("dev", "other"): [service()]})
    claim = next(change for change in report.changes if change.kind == "PersistentVolumeClaim")
    assert [(risk.level.label, risk.category) for risk in claim.risks] == [("high", "data loss")]
    assert "its Namespace lacks Prune=false,Delete=false, so the volume and its data are deleted" in claim.risks[0].reason


def test_namespace_removed_without_prune_false_deletes_its_claims(run_diff):
    report = run_diff({DEV: [namespace(options=None), kept_claim(), service()]}, {DEV: [service()]})
    assert ("removed", "PersistentVolumeClaim fraud/models", "high", "data loss") in risk_summary(report)
    claim = next(change for change in report.changes if change.kind == "PersistentVolumeClaim")
    assert "deleting a namespace deletes every claim in it" in claim.risks[0].reason


def test_claim_recreated_in_another_namespace_is_an_empty_volume(run_diff):
    """An app rename moves its namespace (ml-{app}): the new claim is a new, empty volume."""
    report = run_diff({DEV: [kept_claim("fraud"), service()]}, {DEV: [kept_claim("fraud-v2"), service()]})
    claim = next(change for change in report.changes if change.kind == "PersistentVolumeClaim" and change.status == "removed")
    assert (claim.risks[0].level.label, claim.risks[0].category) == ("high", "data loss")
    assert "the claim reappears in namespace 'fraud-v2': that is a new, empty volume" in claim.risks[0].reason


def test_claim_losing_delete_false_is_flagged(run_diff):
    weaker = changed(pvc(), "metadata.annotations", {"argocd.argoproj.io/sync-options": "Prune=false"})
    report = run_diff({DEV: [kept_claim(), service()]}, {DEV: [weaker, service()]})
    assert risk_summary(report) == [("changed", "PersistentVolumeClaim fraud/models", "medium", "data loss")]
    assert "loses Delete=false" in report.changes[0].risks[0].reason


def test_snapshot_added_with_its_new_claim_copies_an_empty_volume(run_diff):
    snapshot = {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot", "metadata": {"name": "models-v1", "namespace": "fraud"},
                "spec": {"source": {"persistentVolumeClaimName": "models"}}}
    report = run_diff({DEV: [service()]}, {DEV: [service(), kept_claim(), snapshot]})
    assert ("added", "VolumeSnapshot fraud/models-v1", "medium", "data loss") in risk_summary(report)
    later = run_diff({DEV: [service(), kept_claim()]}, {DEV: [service(), kept_claim(), snapshot]})
    assert risk_summary(later) == []
