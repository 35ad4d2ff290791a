"""The LeaderWorkerSet of a multi-node InferenceService (``nodes=2``), as plain dicts.

One replica is a group of ``nodes`` pods: a leader, which runs the Ray head and the vLLM server, and
``nodes - 1`` workers, which join the leader's Ray cluster. vLLM shards the model over the group's GPUs
with tensor parallelism within a node and pipeline parallelism across nodes. This is the setup of
LeaderWorkerSet's own vLLM example (kubernetes-sigs/lws docs/examples/vllm/GPU/lws.yaml and README.md)
and of vLLM's multi-node serving script (vllm-project/vllm examples/online_serving/multi-node-serving.sh).
"""

from __future__ import annotations

import shlex
from typing import Any

__all__ = ["LWS_API_VERSION", "LWS_NAME_LABEL", "WORKER_INDEX_LABEL", "RAY_PORT", "leader_command", "worker_command",
           "parallel_args", "leader_worker_set_spec"]

LWS_API_VERSION = "leaderworkerset.x-k8s.io/v1"
#: Labels LWS puts on every pod of a set (api/leaderworkerset/v1/leaderworkerset_types.go: SetNameLabelKey,
#: WorkerIndexLabelKey); the leader of each group is worker index "0".
LWS_NAME_LABEL = "leaderworkerset.sigs.k8s.io/name"
WORKER_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/worker-index"
#: The Ray head's GCS port (multi-node-serving.sh: ray_port=6379).
RAY_PORT = 6379
#: How long the leader waits for its workers to join Ray before it gives up and LWS restarts the group
#: (multi-node-serving.sh: ray_init_timeout=300).
RAY_JOIN_TIMEOUT_SECONDS = 300

# Counts the live Ray nodes; multi-node-serving.sh polls the same way until it equals the cluster size.
_ALIVE_NODES = "python3 -c 'import ray; ray.init(address=\"auto\", logging_level=\"ERROR\"); print(sum(n[\"Alive\"] for n in ray.nodes()))'"


def leader_command(serve: list[str]) -> list[str]:
    """Start the Ray head, wait until the whole group (LWS_GROUP_SIZE pods, set by LWS) has joined, then serve."""
    script = "; ".join([
        "set -e",
        f"ray start --head --port={RAY_PORT} --disable-usage-stats",
        "waited=0",
        f'until [ "$({_ALIVE_NODES} 2>/dev/null)" = "$LWS_GROUP_SIZE" ]; do '
        f"if [ $waited -ge {RAY_JOIN_TIMEOUT_SECONDS} ]; then echo \"ray workers did not join within {RAY_JOIN_TIMEOUT_SECONDS}s\" >&2; exit 1; fi; "
        'echo "waiting for $LWS_GROUP_SIZE ray nodes"; sleep 5; waited=$((waited + 5)); done',
        f"exec {shlex.join(serve)}",
    ])
    return ["sh", "-c", script]


def worker_command() -> list[str]:
    """Join the leader's Ray head (LWS_LEADER_ADDRESS, set by LWS, is the leader pod's DNS name) and stay in it.

    ``$(LWS_LEADER_ADDRESS)`` is expanded by the kubelet, as in LWS's vLLM example; the retry covers a
    leader whose Ray head is not up yet (startupPolicy LeaderCreated starts both at once).
    """
    script = f"until ray start --address=$(LWS_LEADER_ADDRESS):{RAY_PORT} --block --disable-usage-stats; do sleep 5; done"
    return ["sh", "-c", script]


def parallel_args(nodes: int) -> list[str]:
    """Pipeline parallel across nodes, on Ray; the vLLM preset already sets --tensor-parallel-size to the GPUs of one
    node (vLLM docs/serving/parallelism_scaling.md: "Set tensor_parallel_size to the number of GPUs per node and
    pipeline_parallel_size to the number of nodes")."""
    return ["--pipeline-parallel-size", str(nodes), "--distributed-executor-backend", "ray"]


def leader_worker_set_spec(*, nodes: int, replicas: int | None, leader: dict[str, Any], worker: dict[str, Any]) -> dict[str, Any]:
    """spec of the LeaderWorkerSet: ``replicas`` groups (absent when an HPA owns the count) of ``nodes`` pods."""
    body: dict[str, Any] = {
        "leaderWorkerTemplate": {
            "leaderTemplate": leader,
            # A lost pod loses its shard of the model: restart the whole group together (LWS's vLLM example).
            "restartPolicy": "RecreateGroupOnPodRestart",
            "size": nodes,
            "workerTemplate": worker,
        },
        # LeaderCreated (the CRD's default), not LeaderReady: the leader is ready only once vLLM serves, which
        # needs the workers in its Ray cluster, so LeaderReady would never start them.
        "startupPolicy": "LeaderCreated",
    }
    if replicas is not None:
        body["replicas"] = replicas
    return body
