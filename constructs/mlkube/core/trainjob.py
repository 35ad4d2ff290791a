"""The Kubeflow Trainer v2 TrainJob of a GpuTrainingJob (``backend="trainjob"``), as plain dicts.

The TrainJob names a ClusterTrainingRuntime (the platform's, e.g. ``torch-distributed``) and gives the
trainer's image, command, env, nodes and resources; Trainer builds a JobSet from the runtime. mlkube's
restricted pod (security contexts, service account, volumes, scheduling) reaches that JobSet through
``runtimePatches`` (kubeflow/trainer v2.2+, api/trainer/v1alpha1/trainjob_types.go): the runtime's
replicated job ``node`` and its container ``node`` (manifests/base/runtimes/torch_distributed.yaml).
"""

from __future__ import annotations

from typing import Any

__all__ = ["TRAINJOB_API_VERSION", "TRAINER_NODE", "RESERVED_TORCH_ENV", "trainjob_body"]

TRAINJOB_API_VERSION = "trainer.kubeflow.org/v1alpha1"
#: The replicated job and container of the torch runtimes that run the trainer (constants.Node).
TRAINER_NODE = "node"
#: Trainer's torch plugin sets these itself and its webhook refuses a TrainJob that sets them
#: (pkg/constants TorchRunReservedEnvNames; pkg/runtime/framework/plugins/torch/torch.go Validate).
RESERVED_TORCH_ENV = frozenset({"PET_NNODES", "PET_NPROC_PER_NODE", "PET_NODE_RANK", "PET_MASTER_ADDR", "PET_MASTER_PORT"})
#: Who owns the runtime patch (runtimePatches is a map list keyed by manager).
PATCH_MANAGER = "mlkube.dev/gpu-training-job"
_POD_FIELDS = ("affinity", "imagePullSecrets", "nodeSelector", "securityContext", "serviceAccountName",
               "terminationGracePeriodSeconds", "tolerations", "volumes")


def _trainer(main: dict[str, Any], nodes: int, procs: int) -> dict[str, Any]:
    trainer: dict[str, Any] = {"image": main["image"], "numNodes": nodes, "numProcPerNode": procs,
                               "resourcesPerNode": main["resources"]}
    for key in ("command", "args"):
        if main.get(key):
            trainer[key] = main[key]
    env = [item for item in main.get("env") or [] if item["name"] not in RESERVED_TORCH_ENV]
    if env:
        trainer["env"] = env
    return trainer


def trainjob_body(spec: Any, template: dict[str, Any], *, runtime: str, nodes: int, procs: int) -> dict[str, Any]:
    """spec of the TrainJob: the trainer from the main container, the rest of the pod as a runtime patch."""
    pod = template["spec"]
    main = pod["containers"][0]
    patched_pod = {key: pod[key] for key in _POD_FIELDS if key in pod}
    patched_pod["containers"] = [{"name": TRAINER_NODE, "securityContext": main["securityContext"],
                                  "volumeMounts": main.get("volumeMounts") or []}]
    if pod.get("initContainers"):
        patched_pod["initContainers"] = pod["initContainers"]
    body: dict[str, Any] = {
        "runtimePatches": [{"manager": PATCH_MANAGER, "trainingRuntimeSpec": {"template": {"spec": {"replicatedJobs": [
            {"name": TRAINER_NODE, "template": {"spec": {"template": {"spec": patched_pod}}}}]}}}}],
        "runtimeRef": {"apiGroup": "trainer.kubeflow.org", "kind": "ClusterTrainingRuntime", "name": runtime},
        "trainer": _trainer(main, nodes, procs),
    }
    if spec.active_deadline_seconds is not None:
        body["activeDeadlineSeconds"] = spec.active_deadline_seconds
    return body
