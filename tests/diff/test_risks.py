"""One before/after tree per risk rule, and the changes that must report no risk."""

from __future__ import annotations

import pytest
from diff_trees import (
    DELETE,
    IMAGE_A,
    IMAGE_B,
    changed,
    cronjob,
    deployment,
    hpa,
    job,
    network_policy,
    pdb,
    pod_spec,
    pvc,
    restricted_container,
    risk_summary,
    service,
    statefulset,
    write_app,
)

from mlkube.diff import Level, diff_specs
from mlkube.kube.render import to_yaml

PROD, DEV = ("prod", "fraud"), ("dev", "fraud")


# -- data loss ---------------------------------------------------------------------------------------

def test_removed_claim_is_data_loss(run_diff):
    report = run_diff({PROD: [pvc(), service()]}, {PROD: [service()]})
    assert risk_summary(report) == [("removed", "PersistentVolumeClaim fraud/models", "high", "data loss")]
    assert report.changes[0].risks[0].reason == ("the claim is deleted; with the usual reclaim policy (Delete) "
                                                 "its volume and data go too")


def test_removed_claim_that_argo_cd_may_not_prune_is_low(run_diff):
    """The example platform's CheckpointVolume writes ``Prune=false``: Argo CD leaves the claim in place."""
    kept = changed(pvc(), "metadata.annotations", {"argocd.argoproj.io/sync-options": "Prune=false, Delete=false"})
    report = run_diff({PROD: [kept, service()]}, {PROD: [service()]})
    assert risk_summary(report) == [("removed", "PersistentVolumeClaim fraud/models", "low", "data loss")]
    assert report.changes[0].risks[0].reason == (
        "the claim leaves the config repo, but its argocd.argoproj.io/sync-options Prune=false keeps Argo CD from "
        "deleting it: volume and data stay, unmanaged, and the app shows OutOfSync until the claim is deleted by hand")


@pytest.mark.parametrize("options", ["Prune=confirm", "Delete=false", "PruneLast=true"])
def test_removed_claim_with_other_sync_options_is_still_high(run_diff, options):
    """Prune=confirm only waits for a person to confirm; Delete=false is about deleting the Application."""
    annotated = changed(pvc(), "metadata.annotations", {"argocd.argoproj.io/sync-options": options})
    report = run_diff({PROD: [annotated, service()]}, {PROD: [service()]})
    assert risk_summary(report) == [("removed", "PersistentVolumeClaim fraud/models", "high", "data loss")]


@pytest.mark.parametrize(("field", "value"), [
    ("storageClassName", "fast-ssd"),
    ("accessModes", ["ReadWriteMany"]),
    ("volumeMode", "Block"),
])
def test_claim_change_that_needs_a_new_volume_is_data_loss(run_diff, field, value):
    report = run_diff({DEV: [pvc()]}, {DEV: [changed(pvc(), f"spec.{field}", value)]})
    assert risk_summary(report) == [("changed", "PersistentVolumeClaim fraud/models", "high", "data loss")]
    assert report.changes[0].risks[0].reason.startswith(f"spec.{field} cannot change on an existing claim")


def test_claim_growing_is_no_risk(run_diff):
    grown = run_diff({DEV: [pvc(size="10Gi")]}, {DEV: [pvc(size="20Gi")]})
    assert risk_summary(grown) == []
    assert [(row.field, row.old, row.new) for row in grown.changes[0].fields] == [("storage", "10Gi", "20Gi")]


def test_claim_shrinking_is_data_loss(run_diff):
    report = run_diff({DEV: [pvc(size="10Gi")]}, {DEV: [pvc(size="5Gi")]})
    assert [risk.reason for risk in report.changes[0].risks] == [
        "storage shrinks from 10Gi to 5Gi: volumes cannot shrink, so only a new empty claim would apply"]


def test_volume_mode_written_as_its_default_is_no_change_of_volume(run_diff):
    report = run_diff({DEV: [pvc()]}, {DEV: [pvc(volumeMode="Filesystem")]})
    assert risk_summary(report) == []


def test_statefulset_removed_with_claims_deleted_is_data_loss(run_diff):
    deleting = statefulset(persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete"})
    assert risk_summary(run_diff({DEV: [deleting]}, {DEV: []})) == [("removed", "StatefulSet fraud/db", "high", "data loss")]


def test_statefulset_removed_with_claims_retained_is_no_risk(run_diff):
    assert risk_summary(run_diff({DEV: [statefulset()]}, {DEV: []})) == []


# -- recreation --------------------------------------------------------------------------------------

def test_deployment_selector_change_is_recreation(run_diff):
    new = changed(deployment(), "spec.selector.matchLabels", {"app.kubernetes.io/name": "server", "tier": "web"})
    new = changed(new, "spec.template.metadata.labels.tier", "web")
    report = run_diff({DEV: [deployment()]}, {DEV: [new]})
    assert risk_summary(report) == [("changed", "Deployment fraud/server", "medium", "recreation")]
    assert report.changes[0].risks[0].reason == ("Deployment spec.selector is immutable: Argo CD must delete and "
                                                 "recreate the object (or the sync fails)")


@pytest.mark.parametrize(("field", "value"), [
    ("serviceName", "db-headless"),
    ("podManagementPolicy", "Parallel"),
    ("volumeClaimTemplates.0.spec.resources.requests.storage", "20Gi"),
])
def test_statefulset_immutable_field_is_recreation(run_diff, field, value):
    report = run_diff({DEV: [statefulset()]}, {DEV: [changed(statefulset(), f"spec.{field}", value)]})
    assert risk_summary(report) == [("changed", "StatefulSet fraud/db", "medium", "recreation")]


def test_job_template_change_without_replace_cannot_sync(run_diff):
    report = run_diff({DEV: [job()]}, {DEV: [job(image=IMAGE_B)]})
    assert risk_summary(report) == [("changed", "Job fraud/train", "high", "recreation")]
    assert "Job spec.template is immutable and the object has no Force=true,Replace=true" in report.changes[0].risks[0].reason
    assert "the sync fails with 'field is immutable'" in report.changes[0].risks[0].reason


def test_job_template_change_with_replace_says_the_job_runs_again(run_diff):
    """What mlkube writes (gitops/sync_waves.py): Argo CD deletes and re-creates the changed Job."""
    options = {"argocd.argoproj.io/sync-options": "Force=true,Replace=true"}
    report = run_diff({DEV: [changed(job(), "metadata.annotations", options)]},
                      {DEV: [changed(job(image=IMAGE_B), "metadata.annotations", options)]})
    assert risk_summary(report) == [("changed", "Job fraud/train", "medium", "recreation")]
    assert "on sync Argo CD deletes and re-creates it (Force=true,Replace=true): a running run stops and the job runs again" \
        in report.changes[0].risks[0].reason


def test_cronjob_template_change_says_the_next_runs_change(run_diff):
    report = run_diff({DEV: [cronjob()]}, {DEV: [cronjob(image=IMAGE_B)]})
    assert risk_summary(report) == [("changed", "CronJob fraud/retrain", "info", "recreation")]
    assert report.changes[0].risks[0].reason.startswith("the CronJob's next runs use the new job template")


def test_job_completion_mode_change_is_recreation(run_diff):
    report = run_diff({DEV: [job(completions=4)]}, {DEV: [job(completions=4, completionMode="Indexed")]})
    assert [risk.reason.split(" and ")[0] for risk in report.changes[0].risks] == ["Job spec.completionMode is immutable"]


def test_service_cluster_ip_change_is_recreation(run_diff):
    report = run_diff({DEV: [service(clusterIP="10.0.0.12")]}, {DEV: [service(clusterIP="None")]})
    assert risk_summary(report) == [("changed", "Service fraud/server", "medium", "recreation")]
    assert report.changes[0].risks[0].reason.startswith("Service spec.clusterIP (10.0.0.12 -> None) is immutable")


def test_service_type_change_to_external_name_is_recreation(run_diff):
    external = changed(service(type="ExternalName", externalName="api.example.com"), "spec.selector", DELETE)
    report = run_diff({DEV: [service()]}, {DEV: [external]})
    assert [(risk.category, risk.reason.split(":")[0]) for risk in report.changes[0].risks] == [
        ("recreation", "Service type ClusterIP -> ExternalName")]


def test_object_moved_to_another_app_is_recreation(run_diff):
    report = run_diff({("dev", "fraud"): [service()]}, {("dev", "shared"): [service()]})
    assert [(change.status, change.app, change.moved_from_app) for change in report.changes] == [("changed", "shared", "fraud")]
    assert risk_summary(report) == [("changed", "Service fraud/server", "medium", "recreation")]


def test_claim_moved_to_another_app_is_data_loss(run_diff):
    report = run_diff({("dev", "fraud"): [pvc()]}, {("dev", "shared"): [pvc()]})
    assert risk_summary(report) == [("changed", "PersistentVolumeClaim fraud/models", "high", "data loss")]


# -- availability ------------------------------------------------------------------------------------

def test_production_replicas_to_zero_is_high(run_diff):
    report = run_diff({PROD: [deployment(replicas=3)]}, {PROD: [deployment(replicas=0)]})
    assert risk_summary(report) == [("changed", "Deployment fraud/server", "high", "availability")]
    assert report.changes[0].risks[0].reason == ("spec.replicas goes from 3 to 0 in production environment 'prod': "
                                                 "nothing will run")


def test_replicas_to_zero_outside_production_is_info(run_diff):
    report = run_diff({DEV: [deployment(replicas=3)]}, {DEV: [deployment(replicas=0)]})
    assert risk_summary(report) == [("changed", "Deployment fraud/server", "info", "availability")]


def test_production_option_names_the_production_environments(run_diff):
    staging = ("staging", "fraud")
    report = run_diff({staging: [deployment(replicas=None)], PROD: [deployment(replicas=2)]},
                      {staging: [deployment(replicas=0)], PROD: [deployment(replicas=0)]}, production=["staging"])
    assert [(change.environment, risk.level.label) for change in report.changes for risk in change.risks] == [
        ("prod", "info"), ("staging", "high")]
    assert report.changes[1].risks[0].reason.startswith("spec.replicas goes from 1 to 0")


def test_production_hpa_maximum_to_zero_is_high(run_diff):
    report = run_diff({PROD: [deployment(replicas=None), hpa()]}, {PROD: [deployment(replicas=None), hpa(minimum=0, maximum=0)]})
    assert risk_summary(report) == [("changed", "HorizontalPodAutoscaler fraud/server", "high", "availability")]
    assert [(row.field, row.old, row.new) for row in report.changes[0].fields] == [
        ("min replicas", "2", "0"), ("max replicas", "10", "0")]


def test_removed_pod_disruption_budget_is_medium(run_diff):
    report = run_diff({PROD: [deployment(), pdb()]}, {PROD: [deployment()]})
    assert risk_summary(report) == [("removed", "PodDisruptionBudget fraud/server", "medium", "availability")]


def test_pod_disruption_budget_removed_with_its_pods_is_no_risk(run_diff):
    assert risk_summary(run_diff({PROD: [deployment(), pdb()]}, {PROD: []})) == []


def test_service_that_no_longer_selects_its_pods_is_high(run_diff):
    relabelled = deployment(labels={"app.kubernetes.io/name": "server-v2"})
    report = run_diff({PROD: [deployment(), service()]}, {PROD: [relabelled, service()]})
    assert risk_summary(report) == [
        ("changed", "Deployment fraud/server", "medium", "recreation"),
        ("unchanged", "Service fraud/server", "high", "availability"),
    ]
    assert report.changes[1].risks[0].reason == (
        "the Service's selector {app.kubernetes.io/name=server} no longer matches the pod labels of any workload in "
        "its namespace: it will have no endpoints")


def test_unchanged_service_of_another_app_that_loses_its_pods_is_high(run_diff):
    worker_service = service("api", selector={"app.kubernetes.io/name": "worker"})
    report = run_diff({("prod", "api"): [worker_service], ("prod", "worker"): [deployment("worker")]},
                      {("prod", "api"): [worker_service],
                       ("prod", "worker"): [deployment("worker", labels={"app.kubernetes.io/name": "worker-v2"})]})
    assert [(change.status, change.app, change.describe(), [r.level.label for r in change.risks]) for change in report.changes] == [
        ("unchanged", "api", "Service fraud/api", ["high"]),
        ("changed", "worker", "Deployment fraud/worker", ["medium"]),
    ]


def test_service_selector_changed_away_from_its_pods_is_high(run_diff):
    report = run_diff({PROD: [deployment(), service()]}, {PROD: [deployment(), service(selector={"app": "other"})]})
    assert risk_summary(report) == [("changed", "Service fraud/server", "high", "availability")]


def test_service_selecting_pods_of_an_unchanged_app_in_the_namespace_is_no_risk(run_diff):
    # The Service's pods live in another app's folder, which does not change: it must be read to know that.
    report = run_diff({("prod", "api"): [service(selector={"app.kubernetes.io/name": "worker"})],
                       ("prod", "worker"): [deployment("worker")]},
                      {("prod", "api"): [service(selector={"app.kubernetes.io/name": "worker"}, sessionAffinity="ClientIP")],
                       ("prod", "worker"): [deployment("worker")]})
    assert [change.describe() for change in report.changes] == ["Service fraud/server"]
    assert risk_summary(report) == []


# -- security ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("setting", "path", "value"), [
    ("runAsNonRoot: true", "spec.template.spec.securityContext.runAsNonRoot", False),
    ("allowPrivilegeEscalation: false", "spec.template.spec.containers.0.securityContext.allowPrivilegeEscalation", DELETE),
    ("capabilities drop ALL", "spec.template.spec.containers.0.securityContext.capabilities.drop", ["NET_RAW"]),
    ("seccompProfile RuntimeDefault", "spec.template.spec.securityContext.seccompProfile.type", "Unconfined"),
    ("readOnlyRootFilesystem: true", "spec.template.spec.containers.0.securityContext.readOnlyRootFilesystem", False),
])
def test_pod_losing_a_restricted_setting_is_security(run_diff, setting, path, value):
    report = run_diff({DEV: [deployment()]}, {DEV: [changed(deployment(), path, value)]})
    assert risk_summary(report) == [("changed", "Deployment fraud/server", "medium", "security")]
    assert report.changes[0].risks[0].reason == f"the pod loses {setting} (containers: server)"


def test_sidecar_without_restricted_settings_is_security(run_diff):
    sidecar = {"name": "proxy", "image": IMAGE_A}
    head = deployment(spec=pod_spec(restricted_container(), sidecar))
    report = run_diff({DEV: [deployment()]}, {DEV: [head]})
    assert [risk.reason for risk in report.changes[0].risks] == [
        "the pod loses allowPrivilegeEscalation: false (containers: proxy)",
        "the pod loses capabilities drop ALL (containers: proxy)",
        "the pod loses readOnlyRootFilesystem: true (containers: proxy)",
    ]


@pytest.mark.parametrize(("path", "value", "gain"), [
    ("spec.template.spec.containers.0.securityContext.privileged", True, "privileged container server"),
    ("spec.template.spec.hostNetwork", True, "hostNetwork: true"),
    ("spec.template.spec.volumes", [{"name": "sock", "hostPath": {"path": "/var/run"}}], "hostPath volume /var/run"),
])
def test_pod_gaining_host_access_is_high(run_diff, path, value, gain):
    report = run_diff({DEV: [deployment()]}, {DEV: [changed(deployment(), path, value)]})
    assert [(risk.level.label, risk.category, risk.reason) for risk in report.changes[0].risks] == [
        ("high", "security", f"the pod gains {gain}: access to the node beyond the restricted standard")]


def test_added_workload_with_host_network_is_high(run_diff):
    report = run_diff({DEV: []}, {DEV: [changed(deployment(), "spec.template.spec.hostNetwork", True)]})
    assert risk_summary(report) == [("added", "Deployment fraud/server", "high", "security")]


def test_removed_network_policy_is_security(run_diff):
    report = run_diff({DEV: [deployment(), network_policy()]}, {DEV: [deployment()]})
    assert risk_summary(report) == [("removed", "NetworkPolicy fraud/server", "medium", "security")]


def test_image_from_digest_to_tag_is_security(run_diff):
    tagged = changed(deployment(), "spec.template.spec.containers.0.image", "ghcr.io/acme/fraud:latest")
    report = run_diff({DEV: [deployment()]}, {DEV: [tagged]})
    assert risk_summary(report) == [("changed", "Deployment fraud/server", "medium", "security")]
    assert report.changes[0].risks[0].reason == ("container server's image is no longer pinned by digest "
                                                 "(ghcr.io/acme/fraud:latest): the tag can move to other content")


# -- no false risk -------------------------------------------------------------------------------------

def test_pure_image_bump_is_no_risk(run_diff):
    base = [deployment(replicas=3), service(), hpa(), pdb(), network_policy(), cronjob()]
    head = [changed(deployment(replicas=3), "spec.template.spec.containers.0.image", IMAGE_B),
            service(), hpa(), pdb(), network_policy(), cronjob(image=IMAGE_B)]
    report = run_diff({PROD: base}, {PROD: head})
    assert [(change.status, change.describe()) for change in report.changes] == [
        ("changed", "CronJob fraud/retrain"), ("changed", "Deployment fraud/server")]
    # The CronJob's next runs take the new image; nothing else is at risk.
    assert risk_summary(report) == [("changed", "CronJob fraud/retrain", "info", "recreation")]
    assert report.highest is Level.INFO
    assert [(row.field, row.old, row.new) for row in report.changes[1].fields] == [
        ("server: image", f"ghcr.io/acme/fraud:1.4.2@sha256:{'a1' * 6}", f"ghcr.io/acme/fraud:1.5.0@sha256:{'b2' * 6}")]
    assert report.changes[1].other_paths == []


def test_reordered_and_moved_objects_are_no_change(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    objects = [deployment(), service(), pvc(), hpa()]
    write_app(tmp_path / "base", "prod", "fraud", *objects)
    # HEAD: the same objects, two in one multi-document file in reverse order, two in a sub-folder.
    head = tmp_path / "head" / "prod" / "fraud"
    (head / "more").mkdir(parents=True)
    (head / "all.yaml").write_text("---\n".join(to_yaml(obj) for obj in reversed(objects[:2])))
    for obj in objects[2:]:
        (head / "more" / f"x-{obj['kind']}.yml").write_text(to_yaml(obj))
    report = diff_specs("base", "head")
    assert report.changes == []
    assert report.highest is Level.NONE


def test_equal_quantities_written_differently_are_no_field_change(run_diff):
    new = changed(deployment(), "spec.template.spec.containers.0.resources.requests.cpu", "0.5")
    report = run_diff({DEV: [deployment()]}, {DEV: [new]})
    assert [(change.status, change.fields, change.other_paths, change.risks) for change in report.changes] == [
        ("changed", [], [], [])]
