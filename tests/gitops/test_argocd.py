"""Argo CD objects: project restrictions, applications, sync policy, and the upstream schemas."""

from __future__ import annotations

import json

import jsonschema
import pytest
from gitops_support import REPO, synth

from mlkube import Environment
from mlkube.core.gitops_settings import SyncPolicy
from mlkube.validation import SchemaCatalog, ValidationSettings

ENVIRONMENTS = [Environment(name="dev", namespace="ml"),
                Environment(name="prod", namespace="ml", production=True, clusters=["eu-1", "us-1"])]


def _argocd(objects):
    return [obj for obj in objects if obj["apiVersion"] == "argoproj.io/v1alpha1"]


def test_app_project_restricts_repos_destinations_and_kinds():
    project = synth(Environment(name="dev", namespace="ml", cluster="dev-cluster")).get("AppProject", "dev")
    assert project["spec"]["sourceRepos"] == [REPO]
    assert project["spec"]["destinations"] == [{"name": "dev-cluster", "namespace": "ml"}]
    assert project["spec"]["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
    kinds = {(item["group"], item["kind"]) for item in project["spec"]["namespaceResourceWhitelist"]}
    assert ("apps", "Deployment") in kinds and ("", "ResourceQuota") in kinds and ("", "Namespace") not in kinds


def test_application_syncs_the_app_folder_automatically_outside_production():
    app = synth(Environment(name="dev", namespace="ml")).get("Application", "dev-scoring")
    assert app["metadata"]["namespace"] == "argocd"
    assert app["spec"]["source"] == {"path": "dist/dev/scoring", "repoURL": REPO, "targetRevision": "main"}
    assert app["spec"]["destination"] == {"namespace": "ml", "server": "https://kubernetes.default.svc"}
    assert app["spec"]["syncPolicy"] == {"automated": {"prune": True, "selfHeal": True}, "syncOptions": [
        "CreateNamespace=false", "ServerSideApply=true", "PruneLast=true", "ApplyOutOfSyncOnly=true", "RespectIgnoreDifferences=true"]}
    assert app["spec"]["ignoreDifferences"] == [{"group": "apps", "jsonPointers": ["/spec/replicas"], "kind": "Deployment",
                                                 "name": "server", "namespace": "ml"}]


def test_production_syncs_manually_unless_told_otherwise():
    manual = synth(Environment(name="prod", namespace="ml", production=True)).get("Application", "prod-scoring")
    assert "automated" not in manual["spec"]["syncPolicy"]
    forced = synth(Environment(name="prod", namespace="ml", production=True, sync=SyncPolicy(automated=True, prune=False)))
    assert forced.get("Application", "prod-scoring")["spec"]["syncPolicy"]["automated"] == {"prune": False, "selfHeal": True}


def test_fixed_replicas_need_no_ignore_differences():
    app = synth(Environment(name="dev", namespace="ml"), replicas=2).get("Application", "dev-scoring")
    assert "ignoreDifferences" not in app["spec"]


def test_several_clusters_use_one_application_set_with_a_cluster_generator():
    objects = synth(*ENVIRONMENTS)
    appset = objects.get("ApplicationSet", "prod")
    matrix = appset["spec"]["generators"][0]["matrix"]["generators"]
    assert matrix[0] == {"list": {"elements": [{"folder": "scoring", "namespace": "ml"}]}}
    assert matrix[1]["clusters"]["selector"]["matchExpressions"] == [{"key": "mlkube.dev/cluster", "operator": "In", "values": ["eu-1", "us-1"]}]
    assert appset["spec"]["template"]["spec"]["destination"] == {"namespace": "{{namespace}}", "server": "{{server}}"}
    assert not [obj for obj in objects.of_kind("Application") if obj["metadata"]["labels"]["mlkube.dev/environment"] == "prod"]


def test_no_repo_url_means_no_argocd_objects():
    assert not _argocd(synth(Environment(name="dev", namespace="ml"), repo_url=None))


def test_every_argocd_object_passes_the_upstream_schemas(shared_dir):
    objects = _argocd(synth(*ENVIRONMENTS))
    assert {obj["kind"] for obj in objects} == {"AppProject", "Application", "ApplicationSet"}
    for obj in objects:
        schema = json.loads((shared_dir / f"crd-schemas/argoproj.io/{obj['kind'].lower()}_v1alpha1.json").read_text())
        jsonschema.validate(obj, schema)


@pytest.mark.parametrize("kind", ["Application", "ApplicationSet", "AppProject"])
def test_fails_when_an_argocd_object_has_an_unknown_field_under_the_carried_schema(kind):
    catalog = SchemaCatalog(ValidationSettings(strict_unknown_kinds=True))
    obj = next(o for o in _argocd(synth(*ENVIRONMENTS)) if o["kind"] == kind)
    assert list(catalog.validate(obj)) == []
    obj["spec"]["sourceRepo"] = "typo"
    assert [issue.message for issue in catalog.validate(obj)] == ["unknown field 'sourceRepo'; did you mean 'sourceRepos'?"] if kind == "AppProject" \
        else [issue.field for issue in catalog.validate(obj)] == ["spec.sourceRepo"]
