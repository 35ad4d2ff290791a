"""Every rule fires on a naive object, and its waiver silences it only with a reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from policy_examples import DIGEST, LABELS, NAMESPACE, hardened_objects, hardened_pod_spec, manifests

from mlkube.core.waivers import WAIVER_PREFIX
from mlkube.errors import MlkubeError
from mlkube.policy import RULES, PolicySettings, all_rules, check_policy, waive

SETTINGS = PolicySettings(allowed_registries=("ghcr.io/acme/",), require_digests=True, automated_sync=True)
Objects = list[dict[str, Any]]
POD = "spec.template.spec"
SERVER = f"{POD}.containers[0]"
SIDECAR = f"{POD}.initContainers[0]"


def pod(objs: Objects) -> dict[str, Any]:
    return objs[1]["spec"]["template"]["spec"]


def server(objs: Objects) -> dict[str, Any]:
    return pod(objs)["containers"][0]


def sidecar(objs: Objects) -> dict[str, Any]:
    return pod(objs)["initContainers"][0]


def _set(getter: Callable[[Objects], dict[str, Any]], path: str, value: Any) -> Callable[[Objects], None]:
    def mutate(objs: Objects) -> None:
        node = getter(objs)
        *parents, last = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return mutate


_DELETE = object()


def _move_pod_context_to_containers(objs: Objects) -> None:
    context = pod(objs).pop("securityContext")
    for container in [server(objs), sidecar(objs)]:
        container["securityContext"].update(context)
        del container["securityContext"]["fsGroup"]


def _add(obj: dict[str, Any]) -> Callable[[Objects], None]:
    return lambda objs: objs.append(obj)


def _job_with_ttl() -> dict[str, Any]:
    """A batch Job that deletes itself after it finishes (under automated sync it would run again)."""
    pod = {**hardened_pod_spec(), "restartPolicy": "Never"}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "score", "namespace": NAMESPACE, "labels": dict(LABELS)},
            "spec": {"ttlSecondsAfterFinished": 600, "template": {"metadata": {"labels": dict(LABELS)}, "spec": pod}}}


# rule -> (how to break the hardened set, a field the finding must point at, other rules the defect also trips)
CASES: dict[str, tuple[Callable[[Objects], None], str, set[str]]] = {
    "MLK-PSS-001": (_set(server, "securityContext.privileged", True), f"{SERVER}.securityContext.privileged", set()),
    "MLK-PSS-002": (_set(pod, "hostNetwork", True), f"{POD}.hostNetwork", set()),
    "MLK-PSS-003": (lambda o: pod(o)["volumes"].append({"name": "host", "hostPath": {"path": "/var/run"}}), f"{POD}.volumes[2].hostPath", set()),
    "MLK-PSS-004": (_set(lambda o: server(o)["ports"][0], "hostPort", 8080), f"{SERVER}.ports[0].hostPort", set()),
    "MLK-PSS-005": (_set(server, "securityContext.capabilities.drop", []), f"{SERVER}.securityContext.capabilities.drop", set()),
    "MLK-PSS-006": (_set(sidecar, "securityContext.allowPrivilegeEscalation", _DELETE), f"{SIDECAR}.securityContext.allowPrivilegeEscalation", set()),
    "MLK-PSS-007": (_set(server, "securityContext.runAsNonRoot", False), f"{SERVER}.securityContext.runAsNonRoot", set()),
    "MLK-PSS-008": (_set(pod, "securityContext.runAsUser", 0), f"{POD}.securityContext.runAsUser", {"MLK-SEC-001"}),
    "MLK-PSS-009": (_set(server, "securityContext.seccompProfile", {"type": "Unconfined"}), f"{SERVER}.securityContext.seccompProfile.type", set()),
    "MLK-PSS-010": (_set(pod, "securityContext.sysctls", [{"name": "kernel.msgmax", "value": "65536"}]), f"{POD}.securityContext.sysctls[0].name", set()),
    "MLK-PSS-011": (_set(server, "securityContext.procMount", "Unmasked"), f"{SERVER}.securityContext.procMount", set()),
    "MLK-PSS-012": (_set(server, "securityContext.appArmorProfile", {"type": "Unconfined"}), f"{SERVER}.securityContext.appArmorProfile.type", set()),
    "MLK-PSS-013": (_set(pod, "securityContext.seLinuxOptions", {"type": "spc_t"}), f"{POD}.securityContext.seLinuxOptions.type", set()),
    "MLK-PSS-014": (_set(pod, "securityContext.windowsOptions", {"hostProcess": True}), f"{POD}.securityContext.windowsOptions.hostProcess", set()),
    "MLK-PSS-015": (_set(server, "livenessProbe.httpGet.host", "10.0.0.1"), f"{SERVER}.livenessProbe.httpGet.host", set()),
    "MLK-SEC-001": (_set(pod, "securityContext.runAsUser", 1000), f"{POD}.securityContext.runAsUser", set()),
    "MLK-SEC-002": (_set(server, "securityContext.readOnlyRootFilesystem", False), f"{SERVER}.securityContext.readOnlyRootFilesystem", set()),
    "MLK-SEC-003": (_set(pod, "automountServiceAccountToken", _DELETE), f"{POD}.automountServiceAccountToken", set()),
    "MLK-SEC-004": (_set(server, "securityContext.capabilities.add", ["NET_BIND_SERVICE"]), f"{SERVER}.securityContext.capabilities.add", set()),
    "MLK-SEC-005": (_add({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api-key", "namespace": "fraud-scoring"},
                          "data": {"token": "c2VjcmV0"}}), "data", set()),
    "MLK-SEC-006": (_set(server, "env", [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "api-key", "key": "token"}}}]),
                    f"{SERVER}.env[0].valueFrom.secretKeyRef", set()),
    "MLK-SEC-007": (_add({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "fraud-scoring"}}),
                    "automountServiceAccountToken", set()),
    "MLK-SEC-008": (_move_pod_context_to_containers, f"{POD}.securityContext", set()),
    "MLK-SEC-009": (_set(server, "env", [{"name": "HF_TOKEN", "value": "hf_" + "abcdefghij" * 3 + "wxyz"}]),
                    f"{SERVER}.env[0].value", set()),
    "MLK-RES-001": (_set(server, "resources.requests", _DELETE), f"{SERVER}.resources.requests.cpu", set()),
    "MLK-RES-002": (_set(sidecar, "resources.limits", _DELETE), f"{SIDECAR}.resources.limits.memory", set()),
    "MLK-PRB-001": (_set(server, "livenessProbe", _DELETE), f"{SERVER}.livenessProbe", set()),
    "MLK-PRB-002": (_set(server, "readinessProbe", _DELETE), f"{SERVER}.readinessProbe", set()),
    # a tag pulled Always, so that only the digest rule fires
    "MLK-IMG-001": (lambda o: server(o).update(image="ghcr.io/acme/fraud-scoring:1.4.2", imagePullPolicy="Always"),
                    f"{SERVER}.image", set()),
    "MLK-IMG-002": (_set(server, "image", f"docker.io/library/python@{DIGEST}"), f"{SERVER}.image", set()),
    "MLK-IMG-003": (_set(server, "image", "ghcr.io/acme/fraud-scoring:latest"), f"{SERVER}.image", {"MLK-IMG-001"}),
    "MLK-IMG-004": (_set(server, "image", "ghcr.io/acme/fraud-scoring:1.4.2"), f"{SERVER}.imagePullPolicy", {"MLK-IMG-001"}),
    "MLK-NET-001": (_set(lambda o: o[3]["spec"], "podSelector", {"matchLabels": {"app": "other"}}), "spec.template.metadata.labels", set()),
    "MLK-NET-002": (_set(lambda o: o[2]["spec"], "type", "LoadBalancer"), "spec.type", set()),
    "MLK-NS-001": (_set(lambda o: o[1]["metadata"], "namespace", _DELETE), "metadata.namespace", {"MLK-NET-001"}),
    "MLK-GIT-001": (lambda objs: objs.append(_job_with_ttl()), "spec.ttlSecondsAfterFinished", set()),
}
WAIVABLE = sorted(rule.id for rule in all_rules() if rule.waivable)


def broken(rule_id: str) -> Objects:
    objs = hardened_objects()
    CASES[rule_id][0](objs)
    return objs


def test_every_waivable_rule_has_a_case() -> None:
    assert sorted(CASES) == WAIVABLE


def test_hardened_set_has_no_finding() -> None:
    report = check_policy(manifests(hardened_objects()), SETTINGS)
    assert report.findings == []
    assert report.objects == 6


@pytest.mark.parametrize("rule_id", WAIVABLE)
def test_rule_fires_on_naive_object(rule_id: str) -> None:
    report = check_policy(manifests(broken(rule_id)), SETTINGS)
    fields = [f.field for f in report.findings if f.rule.id == rule_id]
    assert CASES[rule_id][1] in fields
    assert {f.rule.id for f in report.findings} == {rule_id} | CASES[rule_id][2]
    assert all(not f.waived for f in report.findings)


@pytest.mark.parametrize("rule_id", WAIVABLE)
def test_waiver_with_reason_silences_the_rule(rule_id: str) -> None:
    objs = broken(rule_id)
    hit = {id(f.manifest.obj) for f in check_policy(manifests(objs), SETTINGS).findings if f.rule.id == rule_id}
    for obj in objs:
        if id(obj) in hit:
            waive(obj, rule_id, "needed by the vendor runtime, see ADR-12")
    report = check_policy(manifests(objs), SETTINGS)
    mine = [f for f in report.findings if f.rule.id == rule_id]
    assert mine and all(f.waiver == "needed by the vendor runtime, see ADR-12" for f in mine)
    assert rule_id not in {f.rule.id for f in report.errors + report.warnings}


@pytest.mark.parametrize("rule_id", WAIVABLE)
def test_fails_when_waiver_has_no_reason(rule_id: str) -> None:
    objs = broken(rule_id)
    target = next(f.manifest.obj for f in check_policy(manifests(objs), SETTINGS).findings if f.rule.id == rule_id)
    with pytest.raises(MlkubeError) as raised:
        waive(target, rule_id, "   ")
    assert "a waiver needs a reason" in str(raised.value)
    # Written by hand into the YAML, an empty reason waives nothing and is itself an error.
    target.setdefault("metadata", {}).setdefault("annotations", {})[WAIVER_PREFIX + rule_id] = ""
    report = check_policy(manifests(objs), SETTINGS)
    assert rule_id in {f.rule.id for f in report.errors + report.warnings}
    assert [f.message for f in report.errors if f.rule.id == "MLK-WVR-001"] == [
        f"annotation {WAIVER_PREFIX}{rule_id} waives a rule without a reason"]


def test_rules_have_ids_titles_and_rationales() -> None:
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id
        assert rule.severity in ("error", "warning")
        assert rule.title and rule.rationale and rule.fix
        assert rule.rationale.endswith(".")
