"""The finer points of the rules: which containers count, selectors, kinds, registries, severities."""

from __future__ import annotations

from typing import Any

import pytest
from policy_examples import DIGEST, LABELS, hardened_objects, hardened_pod_spec, manifests

from mlkube.kube.selectors import selects
from mlkube.policy import PolicySettings, check_policy
from mlkube.policy.pods import pod_views
from mlkube.policy.rules import registry_allowed

SETTINGS = PolicySettings(allowed_registries=("ghcr.io/acme/",), require_digests=True)


def rule_ids(objects: list[dict[str, Any]], settings: PolicySettings = SETTINGS) -> list[str]:
    return sorted(f"{f.rule.id}:{f.severity}" for f in check_policy(manifests(objects), settings).findings)


def with_pod(kind: str, spec: dict[str, Any], api: str = "batch/v1") -> list[dict[str, Any]]:
    objects = [o for o in hardened_objects() if o["kind"] in ("NetworkPolicy", "ServiceAccount")]
    template = {"metadata": {"labels": dict(LABELS)}, "spec": spec}
    body = {"Job": {"template": template}, "CronJob": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}},
            "Pod": spec}[kind]
    meta = {"name": "train", "namespace": "fraud-scoring", "labels": dict(LABELS)}
    return objects + [{"apiVersion": api, "kind": kind, "metadata": meta, "spec": body}]


def test_jobs_need_no_probes() -> None:
    spec = hardened_pod_spec()
    for container in spec["containers"]:
        container.pop("livenessProbe")
        container.pop("readinessProbe")
    spec["restartPolicy"] = "Never"
    assert rule_ids(with_pod("Job", spec)) == []
    assert rule_ids(with_pod("CronJob", spec)) == []


def test_a_bare_pod_is_a_server_and_needs_probes() -> None:
    spec = hardened_pod_spec()
    spec["containers"][0].pop("readinessProbe")
    assert rule_ids(with_pod("Pod", spec, api="v1")) == ["MLK-PRB-002:error"]


def test_cronjob_pod_is_checked_at_its_own_path() -> None:
    spec = hardened_pod_spec()
    spec["containers"][0]["securityContext"]["privileged"] = True
    report = check_policy(manifests(with_pod("CronJob", spec)), SETTINGS)
    assert [f.field for f in report.findings] == ["spec.jobTemplate.spec.template.spec.containers[0].securityContext.privileged"]


def test_init_containers_need_resources_and_hardening_but_no_probes() -> None:
    objects = hardened_objects()
    init = {"name": "fetch-model", "image": f"ghcr.io/acme/fetch@{DIGEST}", "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]}
    objects[1]["spec"]["template"]["spec"]["initContainers"].append(init)
    report = check_policy(manifests(objects), SETTINGS)
    assert sorted({(f.rule.id, f.field.split(".")[3]) for f in report.findings}) == [
        ("MLK-PSS-005", "initContainers[1]"), ("MLK-PSS-006", "initContainers[1]"),
        ("MLK-RES-001", "initContainers[1]"), ("MLK-RES-002", "initContainers[1]"), ("MLK-SEC-002", "initContainers[1]")]
    assert report.findings[0].message.startswith("init container 'fetch-model'")


def test_sidecar_is_named_as_such() -> None:
    objects = hardened_objects()
    objects[1]["spec"]["template"]["spec"]["initContainers"][0]["securityContext"]["readOnlyRootFilesystem"] = False
    [finding] = check_policy(manifests(objects), SETTINGS).findings
    assert finding.message == "sidecar 'log-shipper' has a writable root file system"


def test_pss_allows_net_bind_service_and_localhost_seccomp() -> None:
    objects = hardened_objects()
    pod = objects[1]["spec"]["template"]["spec"]
    pod["securityContext"]["seccompProfile"] = {"type": "Localhost", "localhostProfile": "profiles/server.json"}
    pod["containers"][0]["securityContext"]["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    # The restricted standard admits both; the stricter "no added capability" warning remains.
    assert rule_ids(objects) == ["MLK-SEC-004:warning"]


def test_pss_rejects_other_added_capabilities() -> None:
    objects = hardened_objects()
    objects[1]["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]
    report = check_policy(manifests(objects), SETTINGS)
    assert [(f.rule.id, f.field, f.message) for f in report.findings if f.rule.id == "MLK-PSS-005"] == [
        ("MLK-PSS-005", "spec.template.spec.containers[0].securityContext.capabilities.add[0]", "container 'server' adds capability SYS_ADMIN")]


def test_without_pod_run_as_non_root_every_container_is_flagged() -> None:
    objects = hardened_objects()
    objects[1]["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot")
    report = check_policy(manifests(objects), SETTINGS)
    assert [f.field for f in report.findings] == [
        "spec.template.spec.containers[0].securityContext.runAsNonRoot",
        "spec.template.spec.initContainers[0].securityContext.runAsNonRoot"]
    objects[1]["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = True
    assert [f.field for f in check_policy(manifests(objects), SETTINGS).findings] == [
        "spec.template.spec.initContainers[0].securityContext.runAsNonRoot"]


def test_apparmor_annotation_and_selinux_user() -> None:
    objects = hardened_objects()
    template = objects[1]["spec"]["template"]
    template["metadata"]["annotations"] = {"container.apparmor.security.beta.kubernetes.io/server": "unconfined"}
    template["spec"]["securityContext"]["seLinuxOptions"] = {"type": "container_t", "user": "system_u"}
    report = check_policy(manifests(objects), SETTINGS)
    assert [(f.rule.id, f.field) for f in report.findings] == [
        ("MLK-PSS-012", "spec.template.metadata.annotations"),
        ("MLK-PSS-013", "spec.template.spec.securityContext.seLinuxOptions.user")]


def test_safe_sysctl_and_user_namespaces_pass() -> None:
    objects = hardened_objects()
    pod = objects[1]["spec"]["template"]["spec"]
    pod["securityContext"]["sysctls"] = [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]
    pod["securityContext"]["runAsUser"] = 1000
    pod["hostUsers"] = False  # a user namespace: UID 1000 is not UID 1000 on the node
    assert rule_ids(objects) == []


@pytest.mark.parametrize(("selector", "expected"), [
    ({}, True),
    ({"matchLabels": {}}, True),
    ({"matchLabels": {"app.kubernetes.io/name": "server"}}, True),
    ({"matchLabels": {"app.kubernetes.io/name": "other"}}, False),
    ({"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["server", "x"]}]}, True),
    ({"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["server"]}]}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]}, True),
    ({"matchExpressions": [{"key": "app.kubernetes.io/instance", "operator": "Exists"}]}, True),
    ({"matchExpressions": [{"key": "app.kubernetes.io/instance", "operator": "DoesNotExist"}]}, False),
    ({"matchLabels": {"app.kubernetes.io/name": "server"},
      "matchExpressions": [{"key": "tier", "operator": "Exists"}]}, False),
])
def test_label_selectors(selector: dict[str, Any], expected: bool) -> None:
    assert selects(selector, LABELS) is expected


def test_network_policy_must_be_in_the_pod_namespace() -> None:
    objects = hardened_objects()
    objects[3]["metadata"]["namespace"] = "other"
    assert rule_ids(objects) == ["MLK-NET-001:error"]


def test_default_deny_policy_with_empty_selector_covers_every_pod() -> None:
    objects = hardened_objects()
    objects[3]["spec"]["podSelector"] = {}
    assert rule_ids(objects) == []


@pytest.mark.parametrize(("image", "allowed"), [
    ("ghcr.io/acme/fraud:1.0", True),
    ("ghcr.io/acme", True),
    ("ghcr.io/acmecorp/fraud:1.0", False),
    ("python:3.11", False),
    ("docker.io/library/python:3.11", False),
])
def test_registry_prefixes_match_at_path_boundaries(image: str, allowed: bool) -> None:
    assert registry_allowed(image, ("ghcr.io/acme",)) is allowed


def test_short_docker_hub_names_match_their_full_prefix() -> None:
    assert registry_allowed("python:3.11", ("docker.io/library/",))
    assert registry_allowed("bitnami/redis:7", ("docker.io/bitnami/",))
    assert not registry_allowed("bitnami/redis:7", ("docker.io/library/",))


def test_no_allowed_registries_allow_any() -> None:
    objects = hardened_objects()
    objects[1]["spec"]["template"]["spec"]["containers"][0]["image"] = f"quay.io/other/x@{DIGEST}"
    assert rule_ids(objects, PolicySettings()) == []
    assert rule_ids(objects) == ["MLK-IMG-002:error"]


def test_digest_is_an_error_only_where_required() -> None:
    objects = hardened_objects()
    objects[1]["spec"]["template"]["spec"]["containers"][0].update(image="ghcr.io/acme/fraud:1.0", imagePullPolicy="Always")
    assert rule_ids(objects, PolicySettings(require_digests=True)) == ["MLK-IMG-001:error"]
    assert rule_ids(objects, PolicySettings(require_digests=False)) == ["MLK-IMG-001:warning"]


def test_cluster_scoped_objects_have_no_namespace() -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fraud-scoring"}}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "reader"}, "rules": []}
    assert rule_ids([namespace, role]) == []


def test_sealed_and_external_secrets_are_fine_plain_ones_are_not() -> None:
    empty = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x", "namespace": "a"}, "type": "Opaque"}
    filled = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "y", "namespace": "a"}, "stringData": {"k": "v"}}
    report = check_policy(manifests([empty, filled]), SETTINGS)
    assert [(f.rule.id, f.manifest.name, f.field, f.message) for f in report.findings] == [
        ("MLK-SEC-005", "y", "stringData", "Secret 'y' carries stringData (1 keys) in the repository")]


def test_pods_of_jobsets_and_inference_services_are_found() -> None:
    jobset = {"apiVersion": "jobset.x-k8s.io/v1alpha2", "kind": "JobSet", "metadata": {"name": "train"},
              "spec": {"replicatedJobs": [{"name": "workers", "template": {"spec": {"template": {
                  "metadata": {"labels": {"role": "worker"}}, "spec": hardened_pod_spec()}}}}]}}
    isvc = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": {"name": "fraud"},
            "spec": {"predictor": hardened_pod_spec() | {"labels": {"tier": "model"}}}}
    [workers] = pod_views(jobset)
    assert workers.path == "spec.replicatedJobs[0].template.spec.template.spec"
    assert workers.labels == {"role": "worker", "jobset.sigs.k8s.io/jobset-name": "train"}
    [predictor] = pod_views(isvc)
    assert (predictor.path, predictor.labels) == ("spec.predictor", {"tier": "model", "serving.kserve.io/inferenceservice": "fraud"})
    isvc["spec"]["predictor"]["containers"][0]["securityContext"]["privileged"] = True
    report = check_policy(manifests([isvc]), SETTINGS)
    assert ("MLK-PSS-001", "spec.predictor.containers[0].securityContext.privileged") in {(f.rule.id, f.field) for f in report.findings}
