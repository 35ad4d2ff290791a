"""CRD CEL rules (x-kubernetes-validations) evaluated offline, on the carried JobSet and Kueue schemas and on small schemas.

Before: nothing evaluated the rules, so every object here that breaks one passed `mlkube validate`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from mlkube.cli import main
from mlkube.validation import SchemaCatalog, ValidationSettings
from mlkube.validation.api_view import api_server_view
from mlkube.validation.crd_rules import CelRules, escape_property

EXAMPLES = Path(__file__).parent.parent / "crd_examples"


@pytest.fixture(scope="module")
def catalog() -> SchemaCatalog:
    return SchemaCatalog(ValidationSettings())


def _example(name: str) -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    return obj


def _issues(catalog: SchemaCatalog, obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(issue.field, issue.message) for issue in catalog.validate(obj)]


def test_jobset_example_meets_every_rule(catalog: SchemaCatalog) -> None:
    assert _issues(catalog, _example("jobset.x-k8s.io/jobset_v1alpha2")) == []


def test_fails_when_jobset_mixes_in_order_startup_and_depends_on(catalog: SchemaCatalog) -> None:
    jobset = _example("jobset.x-k8s.io/jobset_v1alpha2")
    jobset["spec"]["startupPolicy"] = {"startupPolicyOrder": "InOrder"}
    jobset["spec"]["replicatedJobs"][1]["dependsOn"] = [{"name": jobset["spec"]["replicatedJobs"][0]["name"], "status": "Ready"}]
    issues = _issues(catalog, jobset)
    assert [field for field, _ in issues] == ["spec"]
    assert issues[0][1].startswith("StartupPolicy and DependsOn APIs are mutually exclusive (x-kubernetes-validations rule: "
                                   "!(has(self.startupPolicy) && self.startupPolicy.startupPolicyOrder == 'InOrder'")


def test_fails_when_jobset_claim_template_sets_a_namespace(catalog: SchemaCatalog) -> None:
    # Upstream writes t.metadata.namespace (a reserved word, escaped as __namespace__): both names work.
    jobset = _example("jobset.x-k8s.io/jobset_v1alpha2")
    template = {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    jobset["spec"]["volumeClaimPolicies"] = [{"templates": [template]}]
    assert _issues(catalog, jobset) == []
    template["metadata"]["namespace"] = "other"
    assert [message.split(" (x-kube")[0] for _, message in _issues(catalog, jobset)] == [
        "namespace cannot be set for VolumeClaimPolicies templates"]


def test_fails_when_kueue_flavor_has_topology_without_node_labels(catalog: SchemaCatalog) -> None:
    flavor = {"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "ResourceFlavor", "metadata": {"name": "tas"},
              "spec": {"topologyName": "default", "nodeLabels": {}}}
    assert _issues(catalog, flavor) == [
        ("spec", "at least one nodeLabel is required when topology is set (x-kubernetes-validations rule: "
                 "!has(self.topologyName) || self.nodeLabels.size() >= 1)")]
    # Without nodeLabels the rule cannot evaluate: cel-go's "no such key", reported as the API server does.
    del flavor["spec"]["nodeLabels"]
    assert _issues(catalog, flavor) == [("spec", "no such key: nodeLabels evaluating rule: at least one nodeLabel is required when topology is set")]
    flavor["spec"]["nodeLabels"] = {"cloud.example.com/pool": "a100"}
    assert _issues(catalog, flavor) == []


def test_fails_when_kueue_cluster_queue_borrows_without_cohort(catalog: SchemaCatalog) -> None:
    queue = _example("kueue.x-k8s.io/clusterqueue_v1beta1")
    assert _issues(catalog, queue) == []
    without_cohort = copy.deepcopy(queue)
    without_cohort["spec"].pop("cohort", None)
    without_cohort["spec"]["resourceGroups"][0]["flavors"][0]["resources"][0]["borrowingLimit"] = "4"
    assert [(field, message.split(" (x-kube")[0]) for field, message in _issues(catalog, without_cohort)] == [
        ("spec", "borrowingLimit must be nil when cohort is empty")]


def test_fails_when_kueue_toleration_breaks_a_list_rule(catalog: SchemaCatalog) -> None:
    flavor = {"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "ResourceFlavor", "metadata": {"name": "gpu"},
              "spec": {"tolerations": [{"key": "gpu", "operator": "Exists", "value": "yes", "effect": "NoSchedule"}]}}
    assert [(field, message.split(" (x-kube")[0]) for field, message in _issues(catalog, flavor)] == [
        ("spec.tolerations", "a value must be empty when 'operator' is 'Exists'")]


def test_transition_rules_are_skipped_and_counted(catalog: SchemaCatalog) -> None:
    local = SchemaCatalog(ValidationSettings())
    assert _issues(local, _example("jobset.x-k8s.io/jobset_v1alpha2")) == []
    skipped = local.skipped_rules()
    assert {rule.reason for rule in skipped} == {"transition rule (oldSelf): the API server checks it only on update"}
    assert sum(skipped.values()) >= 3  # failurePolicy, network, successPolicy... "Value is immutable"


def _widget_rules(**spec_schema: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": {"type": "object", **spec_schema}}}


def test_message_expression_field_path_and_reason() -> None:
    schema = _widget_rules(properties={"min": {"type": "integer"}, "max": {"type": "integer"}},
                           **{"x-kubernetes-validations": [{"rule": "self.min <= self.max", "fieldPath": ".min", "reason": "FieldValueForbidden",
                                                            "messageExpression": "'min ' + string(self.min) + ' is above max ' + string(self.max)"}]})
    issues = list(CelRules(schema).issues({"spec": {"min": 5, "max": 3}}))
    assert [(i.field, i.message) for i in issues] == [
        ("spec.min", "Forbidden: min 5 is above max 3 (x-kubernetes-validations rule: self.min <= self.max)")]


def test_missing_field_is_an_evaluation_error_as_on_the_api_server() -> None:
    schema = _widget_rules(properties={"a": {"type": "string"}}, **{"x-kubernetes-validations": [{"rule": "self.a == 'x'", "message": "a is x"}]})
    issues = list(CelRules(schema).issues({"spec": {}}))
    assert len(issues) == 1 and issues[0].field == "spec"
    assert issues[0].message == "no such key: a evaluating rule: a is x"


def test_rule_with_unavailable_function_is_skipped_with_its_reason_never_passed() -> None:
    schema = _widget_rules(properties={"url": {"type": "string"}}, **{"x-kubernetes-validations": [{"rule": "isURL(self.url)"}]})
    rules = CelRules(schema)
    assert list(rules.issues({"spec": {"url": "not a url"}})) == []
    assert [(rule.rule, rule.reason) for rule in rules.skipped] == [("isURL(self.url)", "uses isURL(), not available offline")]


def test_rule_with_optional_field_syntax_is_skipped_with_its_reason() -> None:
    # self.?field (CEL optionals, Kubernetes 1.29+) is syntax cel-python's parser does not know.
    schema = _widget_rules(properties={"a": {"type": "string"}}, **{"x-kubernetes-validations": [{"rule": "self.?a.orValue('') != 'x'"}]})
    rules = CelRules(schema)
    assert list(rules.issues({"spec": {"a": "x"}})) == []
    assert [skipped.reason for skipped in rules.skipped] == ["uses orValue(), not available offline"]
    without_call = CelRules(_widget_rules(properties={"a": {"type": "string"}}, **{"x-kubernetes-validations": [{"rule": "self.?a == 'x'"}]}))
    assert list(without_call.issues({"spec": {"a": "y"}})) == []
    assert [skipped.reason.split(" (")[0] for skipped in without_call.skipped] == ["cel-python cannot compile it"]


def test_optional_old_self_rule_is_skipped_with_its_own_reason() -> None:
    # Unlike a transition rule, the API server runs it on create (oldSelf absent): not evaluable here, so said so.
    rule = {"rule": "!oldSelf.hasValue() || self.a == oldSelf.value().a", "optionalOldSelf": True}
    schema = _widget_rules(properties={"a": {"type": "string"}}, **{"x-kubernetes-validations": [rule]})
    rules = CelRules(schema)
    assert list(rules.issues({"spec": {"a": "x"}})) == []
    assert [skipped.reason for skipped in rules.skipped] == ["optionalOldSelf rule: needs CEL optional values, which cel-python lacks"]


def test_rule_sees_defaults_and_not_pruned_nulls() -> None:
    # Defaults are applied and non-nullable nulls dropped before the rules run (apiextensions-apiserver defaulting).
    schema = _widget_rules(properties={"mode": {"type": ["string", "null"], "default": "Safe"}, "extra": {"type": ["string", "null"]}},
                           **{"x-kubernetes-validations": [{"rule": "self.mode == 'Safe' && !has(self.extra)", "message": "defaulted"}]})
    assert list(CelRules(schema).issues({"spec": {"mode": None, "extra": None}})) == []
    assert api_server_view({"spec": {"extra": None}}, schema) == {"spec": {"mode": "Safe"}}


def test_kubernetes_string_and_list_functions() -> None:
    rules = ["self.all(key, key.split('/')[0].size() < 253)",
             "'a-b'.lowerAscii().replace('-', '_') == 'a_b'", "[1, 2, 3].isSorted() && [1, 2].sum() == 3"]
    schema = _widget_rules(additionalProperties={"type": "string"}, **{"x-kubernetes-validations": [{"rule": rule} for rule in rules]})
    rules_check = CelRules(schema)
    assert list(rules_check.issues({"spec": {"example.com/a": "x"}})) == []
    assert not rules_check.skipped


@pytest.mark.parametrize(("name", "escaped"), [("namespace", "__namespace__"), ("x-prop", "x__dash__prop"), ("redact__d", "redact__underscores__d"),
                                               ("a.b/c", "a__dot__b__slash__c"), ("9lives", None)])
def test_property_names_are_escaped_as_kubernetes_does(name: str, escaped: str | None) -> None:
    # Examples of the ValidationRule documentation (apiextensions.k8s.io/v1).
    assert escape_property(name) == escaped


def test_validate_command_refuses_with_file_line_and_notes_skipped_rules(tmp_path: Path) -> None:
    flavor = tmp_path / "flavor.yaml"
    flavor.write_text("apiVersion: kueue.x-k8s.io/v1beta2\nkind: ResourceFlavor\nmetadata:\n  name: tas\nspec:\n  topologyName: default\n")
    result = CliRunner().invoke(main, ["validate", str(flavor)])
    assert result.exit_code == 1
    assert f"{flavor}:6: spec: ResourceFlavor/tas: no such key: nodeLabels evaluating rule: at least one nodeLabel" in result.stderr
    assert "note: 1 CEL transition rule evaluation(s) skipped (rules on oldSelf run only on update)" in result.stderr


def test_synth_refuses_a_custom_resource_that_breaks_a_rule() -> None:
    import cdk8s

    from mlkube import MlkubeError
    from mlkube.testing import synth_app

    def build(app: Any) -> None:
        flavor = cdk8s.ApiObject(app, "tas", api_version="kueue.x-k8s.io/v1beta2", kind="ResourceFlavor", metadata={"name": "tas"})
        flavor.add_json_patch(cdk8s.JsonPatch.add("/spec", {"topologyName": "default", "nodeLabels": {}}))

    with pytest.raises(MlkubeError, match=r"spec: ResourceFlavor/tas: at least one nodeLabel is required when topology is set"):
        synth_app(build)
