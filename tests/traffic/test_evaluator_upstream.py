"""The evaluator against the truth tables of the Kubernetes e2e NetworkPolicy tests.

Cases from kubernetes/kubernetes test/e2e/network/netpol/network_policy.go: pods ``<namespace>/<pod>``
in namespaces x, y, z, labelled ``pod: <pod>``, each serving ports 80 and 81 on TCP and UDP under the
names ``serve-<port>-<protocol>``; every pair reachable unless the case says otherwise; loopback
(a pod to itself) ignored, as upstream does (kubernetes/kubernetes#95879). The policies and the
expectations are transcribed from each ``f.It`` case (its title is the test id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from mlkube.kube.network_policy import Cluster, Pod, Policy

NS_LABEL = "kubernetes.io/metadata.name"


def pod(name: str) -> Pod:
    namespace, label = name.split("/")
    ports = tuple((f"serve-{port}-{proto.lower()}", port, proto) for port in (80, 81) for proto in ("TCP", "UDP"))
    return Pod(namespace, {"pod": label}, name, ports)


def policy(namespace: str, name: str, selector: dict[str, Any], *, ingress: list[Any] | None = None,
           egress: list[Any] | None = None, types: list[str] | None = None) -> Policy:
    spec: dict[str, Any] = {"podSelector": selector}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    # Upstream's SetSpecIngressRules/SetSpecEgressRules set policyTypes to the directions given.
    spec["policyTypes"] = types or [t for t, rules in (("Ingress", ingress), ("Egress", egress)) if rules is not None]
    return Policy(namespace, name, spec)


@dataclass
class Reachability:
    """Upstream's truth table: every pair allowed by default, then expectations."""

    pods: list[str]
    table: dict[tuple[str, str], bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.table = {(a, b): True for a in self.pods for b in self.pods}

    def _match(self, name: str, namespace: str | None, label: str | None) -> bool:
        ns, p = name.split("/")
        return (namespace is None or ns == namespace) and (label is None or p == label)

    def peer(self, src: tuple[str | None, str | None], dst: tuple[str | None, str | None], value: bool) -> Reachability:
        for a in self.pods:
            for b in self.pods:
                if self._match(a, *src) and self._match(b, *dst):
                    self.table[(a, b)] = value
        return self

    def all_ingress(self, target: str, value: bool) -> Reachability:
        return self.peer((None, None), tuple(target.split("/")), value)  # type: ignore[arg-type]

    def all_egress(self, source: str, value: bool) -> Reachability:
        return self.peer(tuple(source.split("/")), (None, None), value)  # type: ignore[arg-type]

    def expect(self, source: str, target: str, value: bool) -> Reachability:
        self.table[(source, target)] = value
        return self


def assert_table(policies: list[Policy], expected: Reachability, port: int, protocol: str = "TCP") -> None:
    cluster = Cluster(policies)
    wrong = []
    for (a, b), want in expected.table.items():
        if a == b:
            continue  # loopback is ignored upstream
        got = cluster.check(pod(a), pod(b), port, protocol).allowed
        if got != want:
            wrong.append(f"{a} -> {b} on {port}/{protocol}: expected {'allowed' if want else 'denied'}")
    assert not wrong, "\n".join(wrong)


def ns_is(name: str) -> dict[str, Any]:
    return {"matchLabels": {NS_LABEL: name}}


def test_should_support_a_default_deny_ingress_policy():
    pods = ["x/a", "x/b", "y/a", "y/b"]
    assert_table([policy("x", "deny-ingress", {}, ingress=[])], Reachability(pods).peer((None, None), ("x", None), False), 80)


def test_should_support_a_default_deny_all_policy():
    pods = ["x/a", "x/b", "y/a"]
    expected = Reachability(pods).peer((None, None), ("x", None), False).peer(("x", None), (None, None), False)
    assert_table([policy("x", "deny-all", {}, ingress=[], egress=[])], expected, 80)


def test_should_enforce_policy_to_allow_traffic_from_pods_within_server_namespace_based_on_podselector():
    pods = ["x/a", "x/b", "x/c", "y/a"]
    rule = {"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}
    expected = Reachability(pods).all_ingress("x/a", False).expect("x/b", "x/a", True)
    assert_table([policy("x", "x-a-allows-x-b", {"matchLabels": {"pod": "a"}}, ingress=[rule])], expected, 80)


def test_should_enforce_policy_to_allow_ingress_traffic_for_a_target():
    pods = ["x/a", "x/b", "y/a"]
    deny = policy("x", "deny-all", {}, ingress=[])
    allow = policy("x", "allow-all-to-a", {"matchLabels": {"pod": "a"}},
                   ingress=[{"from": [{"podSelector": {}, "namespaceSelector": {}}]}])
    expected = Reachability(pods).all_ingress("x/a", True).all_ingress("x/b", False)
    assert_table([deny, allow], expected, 80)


def test_should_enforce_policy_to_allow_ingress_traffic_from_pods_in_all_namespaces():
    pods = ["x/a", "x/b", "y/a", "z/a"]
    allow = policy("x", "allow-from-another-ns", {"matchLabels": {"pod": "a"}}, ingress=[{"from": [{"namespaceSelector": {"matchLabels": {}}}]}])
    assert_table([allow], Reachability(pods), 80)


@pytest.mark.parametrize("selector", [ns_is("y"), {"matchExpressions": [{"key": NS_LABEL, "operator": "In", "values": ["y"]}]}],
                         ids=["based-on-namespaceselector", "namespaceselector-with-matchexpressions"])
def test_should_enforce_policy_to_allow_traffic_only_from_a_different_namespace(selector):
    pods = ["x/a", "x/b", "y/a", "z/a"]
    allow = policy("x", "allow-client-a-via-ns-selector", {"matchLabels": {"pod": "a"}}, ingress=[{"from": [{"namespaceSelector": selector}]}])
    expected = Reachability(pods).peer(("x", None), ("x", "a"), False).peer(("z", None), ("x", "a"), False)
    assert_table([allow], expected, 80)


def test_should_enforce_policy_based_on_podselector_with_matchexpressions():
    pods = ["x/a", "x/b", "y/a"]
    rule = {"from": [{"podSelector": {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["b"]}]}}]}
    expected = Reachability(pods).all_ingress("x/a", False).expect("x/b", "x/a", True)
    assert_table([policy("x", "x-a-allows-x-b", {"matchLabels": {"pod": "a"}}, ingress=[rule])], expected, 80)


def test_should_enforce_policy_based_on_podselector_or_namespaceselector():
    pods = ["x/a", "x/b", "x/c", "y/a"]
    not_x = {"matchExpressions": [{"key": NS_LABEL, "operator": "NotIn", "values": ["x"]}]}
    rule = {"from": [{"namespaceSelector": not_x}, {"podSelector": {"matchLabels": {"pod": "b"}}}]}
    expected = Reachability(pods).expect("x/a", "x/a", False).expect("x/c", "x/a", False)
    assert_table([policy("x", "allow-ns-y-match-selector", {"matchLabels": {"pod": "a"}}, ingress=[rule])], expected, 80)


def test_should_enforce_policy_based_on_podselector_and_namespaceselector():
    pods = ["x/a", "x/b", "y/a", "y/b", "z/b"]
    not_x = {"matchExpressions": [{"key": NS_LABEL, "operator": "NotIn", "values": ["x"]}]}
    rule = {"from": [{"namespaceSelector": not_x, "podSelector": {"matchLabels": {"pod": "b"}}}]}
    expected = Reachability(pods).all_ingress("x/a", False).expect("y/b", "x/a", True).expect("z/b", "x/a", True)
    assert_table([policy("x", "allow-ns-y-podselector-and-nsselector", {"matchLabels": {"pod": "a"}}, ingress=[rule])], expected, 80)


def test_should_enforce_policy_based_on_multiple_podselectors_and_namespaceselectors():
    pods = ["x/a", "x/b", "y/a", "y/b", "y/c"]
    not_x = {"matchExpressions": [{"key": NS_LABEL, "operator": "NotIn", "values": ["x"]}]}
    b_or_c = {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["b", "c"]}]}
    rule = {"from": [{"namespaceSelector": not_x, "podSelector": b_or_c}]}
    expected = Reachability(pods).peer(("x", None), ("x", "a"), False).expect("y/a", "x/a", False)
    assert_table([policy("x", "allow-ns-y-z-pod-b-c", {"matchLabels": {"pod": "a"}}, ingress=[rule])], expected, 80)


def test_should_enforce_policy_to_allow_traffic_only_from_a_pod_in_a_different_namespace():
    pods = ["x/a", "x/b", "y/a", "y/b", "z/a"]
    rule = {"from": [{"namespaceSelector": ns_is("y"), "podSelector": {"matchLabels": {"pod": "a"}}}]}
    expected = Reachability(pods).all_ingress("x/a", False).expect("y/a", "x/a", True)
    assert_table([policy("x", "allow-ns-y-pod-a", {"matchLabels": {"pod": "a"}}, ingress=[rule])], expected, 80)


def test_should_enforce_multiple_stacked_policies_with_overlapping_podselectors():
    pods = ["x/a", "x/b", "y/a", "y/b", "z/a"]
    port81 = policy("x", "allow-81", {"matchLabels": {"pod": "a"}},
                    ingress=[{"from": [{"namespaceSelector": ns_is("y")}], "ports": [{"port": 81, "protocol": "TCP"}]}])
    allow = Reachability(pods).peer(("x", None), ("x", "a"), False).peer(("y", None), ("x", "a"), True).peer(("z", None), ("x", "a"), False)
    assert_table([port81], allow, 81)
    assert_table([port81], Reachability(pods).all_ingress("x/a", False), 80)
    port80 = policy("x", "allow-80", {"matchLabels": {"pod": "a"}},
                    ingress=[{"from": [{"namespaceSelector": ns_is("y")}], "ports": [{"port": 80, "protocol": "TCP"}]}])
    assert_table([port81, port80], allow, 80)


def test_should_allow_ingress_access_on_one_named_port():
    pods = ["x/a", "x/b", "y/a"]
    named = policy("x", "allow-all", {}, ingress=[{"ports": [{"port": "serve-81-tcp"}]}])
    assert_table([named], Reachability(pods), 81)
    assert_table([named], Reachability(pods).peer((None, None), ("x", None), False), 80)


def test_should_allow_ingress_access_from_namespace_on_one_named_port():
    pods = ["x/a", "x/b", "y/a", "z/a"]
    named = policy("x", "allow-80", {"matchLabels": {"pod": "a"}},
                   ingress=[{"from": [{"namespaceSelector": ns_is("y")}], "ports": [{"port": "serve-80-tcp", "protocol": "TCP"}]}])
    assert_table([named], Reachability(pods).peer(("x", None), ("x", "a"), False).peer(("z", None), ("x", "a"), False), 80)
    assert_table([named], Reachability(pods).all_ingress("x/a", False), 81)


def test_should_allow_egress_access_on_one_named_port():
    pods = ["x/a", "y/a"]
    named = policy("x", "allow-egress", {}, egress=[{"ports": [{"port": "serve-80-tcp"}]}])
    assert_table([named], Reachability(pods), 80)
    assert_table([named], Reachability(pods).peer(("x", None), (None, None), False), 81)


def test_should_deny_ingress_from_pods_on_other_namespaces():
    pods = ["x/a", "x/b", "y/a", "z/a"]
    same = policy("x", "deny-empty-policy", {}, ingress=[{"from": [{"podSelector": {"matchLabels": {}}}]}])
    assert_table([same], Reachability(pods).peer(("y", None), ("x", None), False).peer(("z", None), ("x", None), False), 80)


def test_should_deny_egress_from_pods_based_on_podselector():
    pods = ["x/a", "x/b", "y/a"]
    deny = policy("x", "deny-egress-pod-a", {"matchLabels": {"pod": "a"}}, egress=[])
    assert_table([deny], Reachability(pods).all_egress("x/a", False), 80)


def test_should_deny_egress_from_all_pods_in_a_namespace():
    pods = ["x/a", "x/b", "y/a"]
    assert_table([policy("x", "deny-egress-ns-x", {}, egress=[])], Reachability(pods).peer(("x", None), (None, None), False), 80)


def test_should_work_with_ingress_egress_specified_together():
    pods = ["x/a", "x/b", "x/c", "y/a"]
    both = policy("x", "allow-client-a-via-pod-selector", {"matchLabels": {"pod": "a"}},
                  ingress=[{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}], egress=[{"ports": [{"port": 80}]}],
                  types=["Egress", "Ingress"])
    assert_table([both], Reachability(pods).all_ingress("x/a", False).expect("x/b", "x/a", True), 80)
    expected81 = Reachability(pods).all_ingress("x/a", False).all_egress("x/a", False).expect("x/b", "x/a", True)
    assert_table([both], expected81, 81)


def test_should_support_denying_of_egress_traffic_on_the_client_side():
    pods = ["x/a", "y/a", "y/b"]
    from_xa = {"from": [{"namespaceSelector": ns_is("x"), "podSelector": {"matchLabels": {"pod": "a"}}}]}
    policies = [
        policy("x", "allow-to-ns-y-pod-a", {"matchLabels": {"pod": "a"}},
               egress=[{"to": [{"namespaceSelector": ns_is("y"), "podSelector": {"matchLabels": {"pod": "a"}}}]}]),
        policy("y", "allow-from-xa-on-ya", {"matchLabels": {"pod": "a"}}, ingress=[from_xa]),
        policy("y", "allow-from-xa-on-yb", {"matchLabels": {"pod": "b"}}, ingress=[from_xa]),
    ]
    expected = (Reachability(pods).peer(("x", "a"), (None, None), False).peer((None, None), ("y", "a"), False)
                .peer(("x", "a"), ("y", "a"), True).peer((None, None), ("y", "b"), False))
    assert_table(policies, expected, 80)


def test_should_enforce_ingress_policy_allowing_any_port_traffic_to_a_server_on_a_specific_protocol():
    pods = ["x/a", "y/a"]
    tcp_only = policy("x", "allow-ingress-by-proto", {"matchLabels": {"pod": "a"}}, ingress=[{"ports": [{"protocol": "TCP"}]}])
    assert_table([tcp_only], Reachability(pods), 80, "TCP")
    assert_table([tcp_only], Reachability(pods).peer((None, None), ("x", "a"), False), 80, "UDP")


def test_should_enforce_multiple_ingress_policies_with_ingress_allow_all_policy_taking_precedence():
    pods = ["x/a", "y/a"]
    only80 = policy("x", "allow-ingress-port-80", {}, ingress=[{"ports": [{"port": 80}]}])
    assert_table([only80], Reachability(pods).peer((None, None), ("x", None), False), 81)
    assert_table([only80, policy("x", "allow-ingress", {}, ingress=[{}])], Reachability(pods), 81)
