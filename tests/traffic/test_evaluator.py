"""The evaluator's rules beyond the e2e cases, as tables: ipBlock/except, endPort, policyTypes defaults,
matchExpressions operators, external peers, and the policies it names when it denies."""

from __future__ import annotations

import pytest

from mlkube.kube.network_policy import Cluster, External, Pod, Policy

SERVER = Pod("ml", {"app": "server", "tier": "gpu"}, "ml/server", (("http", 8080, "TCP"),))
CLIENT = Pod("ml", {"app": "client"}, "ml/client")
OTHER = Pod("other", {"app": "client"}, "other/client")
INTERNET = External("203.0.113.7")
STORAGE = External("52.216.10.1")


def cluster(*specs, namespace="ml", labels=None):
    return Cluster([Policy(namespace, f"p{i}", spec) for i, spec in enumerate(specs)], labels or {})


@pytest.mark.parametrize(("block", "ip", "allowed"), [
    ({"cidr": "52.216.0.0/15"}, "52.216.10.1", True),
    ({"cidr": "52.216.0.0/15"}, "52.218.0.1", False),
    ({"cidr": "52.216.0.0/15", "except": ["52.216.10.0/24"]}, "52.216.10.1", False),
    ({"cidr": "52.216.0.0/15", "except": ["52.216.10.0/24"]}, "52.216.11.1", True),
    ({"cidr": "0.0.0.0/0"}, "203.0.113.7", True),
    ({"cidr": "0.0.0.0/0"}, "2001:db8::1", False),        # an IPv4 block never holds an IPv6 address
    ({"cidr": "::/0"}, "2001:db8::1", True),
    ({"cidr": "52.216.1.1/15"}, "52.216.10.1", True),      # host bits set: the API server accepts it, as net.ParseCIDR does
])
def test_egress_ip_block_with_except(block, ip, allowed):
    policies = cluster({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": block}], "ports": [{"port": 443}]}]})
    assert policies.check(CLIENT, External(ip), 443).allowed is allowed


def test_ip_block_never_matches_a_pod():
    policies = cluster({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]})
    assert not policies.check(CLIENT, SERVER, 8080).allowed
    assert policies.check(INTERNET, SERVER, 8080).allowed


@pytest.mark.parametrize(("port", "allowed"), [(29999, False), (30000, True), (31000, True), (32768, True), (32769, False)])
def test_end_port_makes_a_range(port, allowed):
    policies = cluster({"podSelector": {}, "ingress": [{"ports": [{"port": 30000, "endPort": 32768, "protocol": "TCP"}]}]})
    assert policies.check(CLIENT, SERVER, port).allowed is allowed


@pytest.mark.parametrize(("spec", "ingress_isolated", "egress_isolated"), [
    ({"podSelector": {}}, True, False),                                     # no policyTypes, no egress: Ingress only
    ({"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}, True, True),  # an egress section adds Egress
    ({"podSelector": {}, "egress": []}, True, False),                       # an empty egress section does not (defaults.go: len != 0)
    ({"podSelector": {}, "policyTypes": ["Egress"]}, False, True),
])
def test_policy_types_default_from_the_egress_section(spec, ingress_isolated, egress_isolated):
    policies = cluster(spec)
    assert bool(policies.isolating(CLIENT, "Ingress")) is ingress_isolated
    assert bool(policies.isolating(CLIENT, "Egress")) is egress_isolated


@pytest.mark.parametrize(("expression", "selects_server"), [
    ({"key": "tier", "operator": "In", "values": ["gpu", "cpu"]}, True),
    ({"key": "tier", "operator": "NotIn", "values": ["gpu"]}, False),
    ({"key": "missing", "operator": "NotIn", "values": ["x"]}, True),      # NotIn holds when the key is absent
    ({"key": "tier", "operator": "Exists"}, True),
    ({"key": "tier", "operator": "DoesNotExist"}, False),
])
def test_match_expressions_in_pod_selectors(expression, selects_server):
    policies = cluster({"podSelector": {"matchExpressions": [expression]}, "policyTypes": ["Ingress"]})
    assert policies.check(CLIENT, SERVER, 8080).allowed is not selects_server


def test_namespace_selector_reads_namespace_labels_and_the_automatic_name_label():
    team = {"namespaceSelector": {"matchLabels": {"team": "payments"}}}
    policies = cluster({"podSelector": {}, "ingress": [{"from": [team]}]}, labels={"other": {"team": "payments"}})
    assert policies.check(OTHER, SERVER, 8080).allowed
    assert not policies.check(CLIENT, SERVER, 8080).allowed   # ml has no team label
    by_name = cluster({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "other"}}}]}]})
    assert by_name.check(OTHER, SERVER, 8080).allowed and not by_name.check(INTERNET, SERVER, 8080).allowed


def test_named_port_is_the_destination_pods_and_needs_its_protocol():
    policies = cluster({"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]})
    assert policies.check(CLIENT, SERVER, 8080).allowed
    assert not policies.check(CLIENT, SERVER, 8081).allowed
    assert not policies.check(CLIENT, SERVER, 8080, "UDP").allowed
    assert not policies.check(SERVER, CLIENT, 8080).allowed      # the client has no port named http


def test_sctp_and_udp_are_distinct_protocols():
    policies = cluster({"podSelector": {}, "ingress": [{"ports": [{"port": 9000, "protocol": "SCTP"}]}]})
    assert policies.check(CLIENT, SERVER, 9000, "SCTP").allowed and not policies.check(CLIENT, SERVER, 9000, "TCP").allowed


def test_a_connection_needs_the_senders_egress_and_the_receivers_ingress():
    ingress_ok = {"podSelector": {"matchLabels": {"app": "server"}}, "ingress": [{"from": [{"podSelector": {}}]}]}
    egress_deny = {"podSelector": {"matchLabels": {"app": "client"}}, "policyTypes": ["Egress"]}
    verdict = cluster(ingress_ok, egress_deny).check(CLIENT, SERVER, 8080)
    assert not verdict.allowed
    [block] = verdict.blocks
    assert block.direction == "Egress" and [p.name for p in block.policies] == ["p1"]
    assert "egress of the sender ml/client is denied: it is selected by NetworkPolicy ml/p1" in block.describe()


def test_policies_add_up_and_a_denial_names_every_isolating_policy():
    deny = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns_only = {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}
    policies = cluster(deny, dns_only)
    assert policies.check(CLIENT, INTERNET, 53, "UDP").allowed
    verdict = policies.check(CLIENT, SERVER, 8080)
    assert {(b.direction, tuple(p.name for p in b.policies)) for b in verdict.blocks} == {("Egress", ("p0", "p1")), ("Ingress", ("p0",))}


def test_a_pod_no_policy_selects_is_not_isolated():
    policies = cluster({"podSelector": {"matchLabels": {"app": "server"}}, "policyTypes": ["Ingress", "Egress"]})
    assert policies.check(CLIENT, STORAGE, 443).allowed and policies.check(OTHER, CLIENT, 1).allowed
    assert not policies.check(CLIENT, SERVER, 8080).allowed


def test_an_empty_from_list_admits_everyone_and_an_empty_peer_no_one():
    assert cluster({"podSelector": {}, "ingress": [{"from": []}]}).check(INTERNET, SERVER, 1).allowed
    assert not cluster({"podSelector": {}, "ingress": [{"from": [{}]}]}).check(CLIENT, SERVER, 1).allowed
