"""Custom resources are validated as the API server sees them: schema defaults applied, non-nullable nulls
dropped, and the fields an operator's mutating webhook always fills filled (webhooks run before validation).

Failed before: a Gateway address without `type` broke the CRD's oneOf (its default "IPAddress" decides it),
and a JobSet failurePolicy rule without `name` was refused although JobSet's webhook names it.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlkube.validation import SchemaCatalog, ValidationSettings
from mlkube.validation.operator_defaults import with_operator_defaults


@pytest.fixture(scope="module")
def catalog() -> SchemaCatalog:
    return SchemaCatalog(ValidationSettings())


def _issues(catalog: SchemaCatalog, obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(issue.field, issue.message) for issue in catalog.validate(obj)]


def test_schema_default_decides_a_one_of(catalog: SchemaCatalog) -> None:
    # kubernetes-sigs/gateway-api examples/standard/gateway-addresses.yaml: type defaults to IPAddress.
    gateway = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "n"},
               "spec": {"gatewayClassName": "example", "addresses": [{"value": "2001:db8:3c4d:15:0:d234:3eee::"}],
                        "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]}}
    assert _issues(catalog, gateway) == []


def _jobset(rule: dict[str, Any]) -> dict[str, Any]:
    template = {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}
    return {"apiVersion": "jobset.x-k8s.io/v1alpha2", "kind": "JobSet", "metadata": {"name": "js", "namespace": "n"},
            "spec": {"failurePolicy": {"maxRestarts": 3, "rules": [rule]}, "replicatedJobs": [{"name": "w", "template": template}]}}


def test_jobset_webhook_names_unnamed_failure_rules(catalog: SchemaCatalog) -> None:
    # kubernetes-sigs/jobset site/static/examples/failure-policy/failjobset-action.yaml leaves the name out.
    assert _issues(catalog, _jobset({"action": "FailJobSet", "onJobFailureReasons": ["PodFailurePolicy"]})) == []
    filled = with_operator_defaults(_jobset({"action": "FailJobSet"}))
    assert filled["spec"]["failurePolicy"]["rules"][0]["name"] == "failurePolicyRule0"


def test_fails_when_jobset_rule_action_is_missing(catalog: SchemaCatalog) -> None:
    # The webhook fills the name only: a rule without action is still refused.
    assert _issues(catalog, _jobset({"name": "r"})) == [("spec.failurePolicy.rules[0]", "'action' is a required property")]


def test_fails_when_list_map_keys_repeat(catalog: SchemaCatalog) -> None:
    # apiextensions-apiserver listtype/validation.go: a list-type map keyed by containerPort and protocol;
    # protocol defaults to TCP, so these two ports collide once defaulted.
    template = {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
        {"name": "c", "image": "busybox", "ports": [{"containerPort": 80}, {"containerPort": 80, "protocol": "TCP"}]}]}}}}
    jobset = {"apiVersion": "jobset.x-k8s.io/v1alpha2", "kind": "JobSet", "metadata": {"name": "js", "namespace": "n"},
              "spec": {"replicatedJobs": [{"name": "w", "template": template}]}}
    issues = _issues(catalog, jobset)
    assert [field for field, _ in issues] == ["spec.replicatedJobs[0].template.spec.template.spec.containers[0].ports[1]"]
    assert issues[0][1].startswith('Duplicate value: {"containerPort": 80, "protocol": "TCP"}')


def test_fails_when_a_custom_resource_version_is_not_served(catalog: SchemaCatalog) -> None:
    # external-secrets' CRD still defines v1beta1 with served: false (../shared/crds/SOURCES.md): the API
    # server has no such resource. Before: no schema, so nothing was said without --strict.
    secret = {"apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret", "metadata": {"name": "s", "namespace": "n"}, "spec": {}}
    assert _issues(catalog, secret) == [("apiVersion", "ExternalSecret is not served as external-secrets.io/v1beta1; "
                                                       "its CRD serves external-secrets.io/v1")]
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert _issues(catalog, unknown) == []  # an unknown kind is a note of `mlkube validate` (an error with --strict)
