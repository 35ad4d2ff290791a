"""Traffic as data: the connections workloads declare and the NetworkPolicies written from them."""
