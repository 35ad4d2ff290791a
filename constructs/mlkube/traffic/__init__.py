"""Traffic as data: declared connections, the NetworkPolicies written from them, a NetworkPolicy
evaluator, the synth connectivity check and the connectivity matrix of ``mlkube validate --connectivity``."""

from ..core.network.model import Connection, EgressRule, Endpoint, PortRange
from ..kube.network_policy import Cluster, External, Pod, Policy, Verdict

__all__ = ["Cluster", "Connection", "EgressRule", "Endpoint", "External", "Pod", "Policy", "PortRange", "Verdict"]
