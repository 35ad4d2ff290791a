"""Argo CD leaves what controllers own, re-creates changed Jobs, and never deletes a namespace's data.

Faults of issue 16 with a test that failed before: a queued Job's suspend (owned by Kueue once it
admits the job) had no ignoreDifferences, so self-heal suspended the running job again; KEDA's
replicas were not ignored; Jobs had no way to change (immutable template); a TTL under automated sync
passed silently; Namespaces had only Prune=false, so an Application's cascade deleted them, claims included.
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from mlkube import BatchJob, Environment, GpuTrainingJob, InferenceService, KedaScaling, Platform, ScheduledJob
from mlkube.core.gitops_settings import GitOps
from mlkube.errors import MlkubeError
from mlkube.gitops.controller_fields import CONTROLLER_FIELDS
from mlkube.testing import synth_platform

REPO = "https://example.com/acme/config.git"
IMAGE = "ghcr.io/acme/train:1.0@sha256:" + "a" * 64


def _synth(build, *, production: bool = False, **environment):
    platform = Platform(environments=[Environment(name="dev", namespace="ml", production=production,
                                                  operators=["kueue", "keda", "jobset", "prometheus-operator"], kueue_cluster_queue="ml",
                                                  **environment)],
                        gitops=GitOps(repo_url=REPO))
    platform.app("train", build)
    return synth_platform(platform)


def _application(objects):
    (app,) = objects.of_kind("Application")
    return app


def test_every_row_of_the_table_cites_its_source():
    assert all(row.source and (row.json_pointers or row.jq_path_expressions) for row in CONTROLLER_FIELDS)


def test_queued_job_leaves_suspend_and_what_kueue_injects_to_kueue():
    objects = _synth(lambda app: GpuTrainingJob(app, "finetune", image=IMAGE, queue="gpu"))
    app = _application(objects)
    assert {"group": "batch", "kind": "Job", "name": "finetune", "namespace": "ml", "jsonPointers": [
        "/spec/suspend", "/spec/template/spec/nodeSelector", "/spec/template/spec/tolerations",
        "/spec/template/spec/schedulingGates"]} in app["spec"]["ignoreDifferences"]
    assert "RespectIgnoreDifferences=true" in app["spec"]["syncPolicy"]["syncOptions"]


def test_queued_jobset_leaves_suspend_and_every_replicated_pod_template_to_kueue():
    objects = _synth(lambda app: GpuTrainingJob(app, "finetune", image=IMAGE, queue="gpu", nodes=2, backend="jobset"))
    (item,) = [i for i in _application(objects)["spec"]["ignoreDifferences"] if i["kind"] == "JobSet"]
    assert item["group"] == "jobset.x-k8s.io" and item["jsonPointers"] == ["/spec/suspend"]
    assert ".spec.replicatedJobs[].template.spec.template.spec.tolerations" in item["jqPathExpressions"]


def test_job_without_a_queue_keeps_its_fields():
    objects = _synth(lambda app: BatchJob(app, "score", image=IMAGE))
    assert "ignoreDifferences" not in _application(objects)["spec"]


def test_keda_owns_the_replicas_of_its_target():
    def build(app):
        InferenceService(app, "server", image=IMAGE, keda=KedaScaling(metric="requests-per-second", threshold="5"))

    items = _application(_synth(build))["spec"]["ignoreDifferences"]
    assert {"group": "apps", "jsonPointers": ["/spec/replicas"], "kind": "Deployment", "name": "server", "namespace": "ml"} in items


@pytest.mark.parametrize("kind", ["Job", "JobSet"])
def test_a_changed_job_is_recreated_and_a_sync_touches_only_what_changed(kind):
    objects = _synth(lambda app: GpuTrainingJob(app, "finetune", image=IMAGE, nodes=2, backend="jobset" if kind == "JobSet" else "job"))
    (job,) = objects.of_kind(kind)
    assert job["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Force=true,Replace=true"
    assert "ApplyOutOfSyncOnly=true" in _application(objects)["spec"]["syncPolicy"]["syncOptions"]


def test_fails_when_a_job_deletes_itself_under_automated_sync():
    with pytest.raises(MlkubeError) as raised:
        _synth(lambda app: BatchJob(app, "score", image=IMAGE, ttl_seconds_after_finished=600))
    assert "MLK-GIT-001" in str(raised.value) and "automated sync re-creates it: it runs again" in str(raised.value)


def test_job_ttl_is_allowed_when_waived_or_synced_by_hand():
    waived = _synth(lambda app: BatchJob(app, "score", image=IMAGE, ttl_seconds_after_finished=600,
                                          waivers=[{"rule": "MLK-GIT-001", "reason": "a nightly re-run is wanted"}]))
    assert waived.get("Job", "score")["spec"]["ttlSecondsAfterFinished"] == 600
    manual = _synth(lambda app: BatchJob(app, "score", image=IMAGE, ttl_seconds_after_finished=600), production=True)
    assert manual.get("Job", "score")["spec"]["ttlSecondsAfterFinished"] == 600


def test_scheduled_job_runs_may_keep_a_ttl_they_are_not_in_git():
    objects = _synth(lambda app: ScheduledJob(app, "nightly", image=IMAGE, schedule="0 2 * * *", ttl_seconds_after_finished=600))
    assert objects.get("CronJob", "nightly")["spec"]["jobTemplate"]["spec"]["ttlSecondsAfterFinished"] == 600


def test_namespace_survives_the_deletion_of_its_application():
    objects = _synth(lambda app: BatchJob(app, "score", image=IMAGE))
    (namespace,) = objects.of_kind("Namespace")
    assert namespace["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false"
    assert _application(objects)["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]


def test_ignore_differences_pass_the_upstream_application_schema(shared_dir):
    """jsonPointers and jqPathExpressions as Argo CD's own CRD defines them."""
    objects = _synth(lambda app: (GpuTrainingJob(app, "finetune", image=IMAGE, queue="gpu", nodes=2, backend="jobset"),
                                  BatchJob(app, "score", image=IMAGE, queue="gpu")))
    schema = json.loads((shared_dir / "crd-schemas/argoproj.io/application_v1alpha1.json").read_text())
    jsonschema.validate(_application(objects), schema)
