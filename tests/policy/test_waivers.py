"""Waivers: the annotations they write (ours and checkov's), and the errors of a bad waiver."""

from __future__ import annotations

from typing import Any

import pytest
from policy_examples import hardened_objects, manifests
from pydantic import BaseModel, Field

from mlkube.core.spec import Spec, parse_spec
from mlkube.errors import MlkubeError
from mlkube.policy import PolicySettings, Waiver, apply_waivers, check_policy, waive


def service() -> dict[str, Any]:
    return hardened_objects()[2]


def test_waive_writes_our_annotation_and_checkov_skips() -> None:
    obj = hardened_objects()[1]
    waive(obj, "MLK-PSS-002", "node exporter needs the host network")
    assert obj["metadata"]["annotations"] == {
        "mlkube.dev/waive.MLK-PSS-002": "node exporter needs the host network",
        "checkov.io/skip1": "CKV_K8S_17=node exporter needs the host network (MLK-PSS-002)",
        "checkov.io/skip2": "CKV_K8S_18=node exporter needs the host network (MLK-PSS-002)",
        "checkov.io/skip3": "CKV_K8S_19=node exporter needs the host network (MLK-PSS-002)",
    }


def test_waive_numbers_after_existing_skips_and_is_idempotent() -> None:
    obj = hardened_objects()[1]
    obj["metadata"]["annotations"] = {"checkov.io/skip4": "CKV_K8S_43=mirrored by the platform"}
    waive(obj, "MLK-SEC-006", "the vendor SDK reads API_KEY from the environment")
    waive(obj, "MLK-SEC-006", "the vendor SDK reads API_KEY from the environment")
    waive(obj, "MLK-IMG-001", "tag pinned by the registry's immutability rule")  # CKV_K8S_43 is already skipped
    assert obj["metadata"]["annotations"] == {
        "checkov.io/skip4": "CKV_K8S_43=mirrored by the platform",
        "mlkube.dev/waive.MLK-SEC-006": "the vendor SDK reads API_KEY from the environment",
        "checkov.io/skip5": "CKV_K8S_35=the vendor SDK reads API_KEY from the environment (MLK-SEC-006)",
        "mlkube.dev/waive.MLK-IMG-001": "tag pinned by the registry's immutability rule",
    }


def test_rule_without_checkov_equivalent_writes_only_our_annotation() -> None:
    obj = service()
    waive(obj, "MLK-NET-002", "public demo behind the cloud WAF")
    assert obj["metadata"]["annotations"] == {"mlkube.dev/waive.MLK-NET-002": "public demo behind the cloud WAF"}


def test_reason_is_one_line_and_has_no_equals_sign_for_checkov() -> None:
    obj = hardened_objects()[1]
    waive(obj, "MLK-SEC-003", "  calls the API:\n  lists pods where label=x  ")
    annotations = obj["metadata"]["annotations"]
    assert annotations["mlkube.dev/waive.MLK-SEC-003"] == "calls the API: lists pods where label=x"
    # checkov splits its value on '=': a second one would crash its parser.
    assert annotations["checkov.io/skip1"] == "CKV_K8S_38=calls the API: lists pods where label:x (MLK-SEC-003)"


@pytest.mark.parametrize("reason", ["", "   ", "\n"])
def test_fails_when_waiver_has_no_reason(reason: str) -> None:
    with pytest.raises(MlkubeError) as raised:
        Waiver(rule="MLK-NET-002", reason=reason)
    assert str(raised.value) == ("error: invalid waiver (1 problem)\n  - Waiver: reason: a waiver needs a reason: "
                                 f"say why this object needs the exception (got {reason!r})")


def test_fails_when_waiver_names_an_unknown_rule() -> None:
    with pytest.raises(MlkubeError) as raised:
        Waiver(rule="MLK-NET-02", reason="x")
    assert "'MLK-NET-02' is not a policy rule; did you mean MLK-NET-002?" in str(raised.value)


def test_fails_when_waiving_a_rule_that_cannot_be_waived() -> None:
    with pytest.raises(MlkubeError) as raised:
        waive(service(), "MLK-WVR-001", "no")
    assert "MLK-WVR-001 cannot be waived" in str(raised.value)


def test_apply_waivers_reports_problems_with_field_paths() -> None:
    obj = service()
    waivers = [Waiver(rule="MLK-NET-002", reason="public demo"), Waiver.model_construct(rule="MLK-NS-001", reason="")]
    problems = apply_waivers(obj, waivers, where="dev/app/server")
    assert [(p.where, p.field, p.message) for p in problems] == [
        ("dev/app/server", "waivers[1].reason", "a waiver needs a reason: say why this object needs the exception (got '')")]
    assert obj["metadata"]["annotations"] == {"mlkube.dev/waive.MLK-NET-002": "public demo"}


def test_waivers_in_a_spec_become_problems_not_tracebacks() -> None:
    class Server(Spec):
        waivers: list[Waiver] = Field(default_factory=list)

    spec, problems = parse_spec(Server, {"waivers": [{"rule": "MLK-NET-002", "reason": " "}]}, {}, "dev/app/server")
    assert spec is None
    assert [(p.where, p.field, p.message) for p in problems] == [
        ("dev/app/server", "waivers[0].reason", "a waiver needs a reason: say why this object needs the exception (got ' ')")]
    assert isinstance(Waiver(rule="MLK-NET-002", reason="ok"), BaseModel)


def test_checkov_skip_without_reason_is_an_error() -> None:
    obj = service()
    obj["metadata"]["annotations"] = {"checkov.io/skip1": "CKV_K8S_21"}
    report = check_policy(manifests([obj]), PolicySettings())
    assert [(f.rule.id, f.message) for f in report.errors] == [
        ("MLK-WVR-001", "annotation checkov.io/skip1 skips checkov check CKV_K8S_21 without a reason (write CKV_K8S_21=<reason>)")]


def test_waiver_of_unknown_rule_is_a_warning() -> None:
    obj = service()
    obj["metadata"]["annotations"] = {"mlkube.dev/waive.MLK-NET-999": "typo"}
    report = check_policy(manifests([obj]), PolicySettings())
    assert [(f.rule.id, f.severity, f.message) for f in report.findings] == [
        ("MLK-WVR-002", "warning", "annotation mlkube.dev/waive.MLK-NET-999 waives 'MLK-NET-999', which is not a rule")]


def test_waiver_covers_only_its_own_object() -> None:
    objects = hardened_objects()
    second = hardened_objects()[2]
    second["metadata"]["name"] = "server-public"
    for obj in (objects[2], second):
        obj["spec"]["type"] = "LoadBalancer"
    waive(objects[2], "MLK-NET-002", "public demo")
    report = check_policy(manifests([*objects, second]), PolicySettings())
    assert [(f.manifest.name, f.waived) for f in report.findings] == [("server", True), ("server-public", False)]
