"""GpuTrainingJob: single-node or multi-node (torchrun) training as a batch/v1 Job or a JobSet.

Multi-node with the Job backend: an Indexed Job (completions = parallelism = nodes) and a headless
Service. With ``subdomain`` set, Kubernetes names each pod's host ``<job>-<index>``, so rank 0 is
``<job>-0.<service>.<namespace>.svc``. With the JobSet backend, JobSet makes the Service itself and
the hosts are ``<jobset>-<replicated job>-<job index>-<pod index>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Unpack

from pydantic import Field, NonNegativeInt, PositiveInt, model_validator

from constructs import Construct

from .job_options import JobConstruct, JobOptions, job_spec, queue_labels
from .operators import require_operator, require_version
from .pod import set_env
from .resources import GpuSpec, ResourcesSpec
from .spec import DnsLabel
from .trainjob import TRAINJOB_API_VERSION, trainjob_body

if TYPE_CHECKING:
    from .keywords import GpuTrainingJobFields

__all__ = ["GpuTrainingJob", "GpuTrainingJobSpec", "MASTER_PORT", "COMPLETION_INDEX_ANNOTATION", "JOBSET_API_VERSION",
           "REPLICATED_JOB", "RESUME_ENV"]

MASTER_PORT = 29500
COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
JOBSET_API_VERSION = "jobset.x-k8s.io/v1alpha2"
#: The one replicated job of a training JobSet; its pods are hosts ``<jobset>-node-0-<rank>``.
REPLICATED_JOB = "node"
#: Set when a checkpoint volume is mounted read-write: resume from the newest checkpoint in CHECKPOINT_DIR, if any.
RESUME_ENV = "RESUME_FROM_CHECKPOINT"


def _one_gpu() -> ResourcesSpec:
    return ResourcesSpec(gpu=GpuSpec(count=1))


class GpuTrainingJobSpec(JobOptions):
    """A training run on one or more GPU nodes."""

    nodes: PositiveInt = Field(default=1, description="Pods (nodes) of the run; more than one makes a torchrun cluster. With min_nodes, the most nodes. Default: 1.")
    min_nodes: PositiveInt | None = Field(default=None, description="Elastic training: torchrun starts (and goes on after a node is lost) "
                                          "with at least this many of the `nodes` pods (PET_NNODES=min:max, c10d rendezvous). Default: "
                                          "not elastic, all `nodes` must join.")
    max_restarts: NonNegativeInt = Field(default=3, description="torchrun worker-group restarts (PET_MAX_RESTARTS): when a node fails and its "
                                         "pod is replaced, every rank restarts together from the last checkpoint. Default: 3.")
    nproc_per_node: PositiveInt | None = Field(default=None, description="Processes per pod (torchrun NPROC_PER_NODE). Default: the GPUs per pod (1 without GPUs).")
    master_port: int = Field(default=MASTER_PORT, ge=1024, le=65535, description=f"Rendezvous port of rank 0 (MASTER_PORT). Default: {MASTER_PORT}.")
    backend: Literal["job", "jobset", "trainjob"] = Field(default="job", description="'job': batch/v1 Job (+ headless Service when multi-node); "
                                                          "'jobset': a jobset.x-k8s.io JobSet; 'trainjob': a Kubeflow Trainer v2 TrainJob on "
                                                          "`training_runtime`. Default: job.")
    training_runtime: DnsLabel = Field(default="torch-distributed", description="With backend 'trainjob': the ClusterTrainingRuntime the "
                                       "TrainJob runs on (the platform installs it). Default: torch-distributed.")
    resources: ResourcesSpec = Field(default_factory=_one_gpu, description="CPU, memory, GPUs (count or one MIG profile) and /dev/shm per pod. Default: 1 CPU, 2Gi, 1 GPU.")
    termination_grace_period_seconds: NonNegativeInt = Field(default=120, description="Time between SIGTERM and SIGKILL to save a checkpoint. Default: 120.")

    @model_validator(mode="after")
    def _elastic_range(self) -> GpuTrainingJobSpec:
        if self.min_nodes is not None and self.min_nodes > self.nodes:
            raise ValueError(f"'min_nodes' ({self.min_nodes}) must be less than or equal to 'nodes' ({self.nodes}), the most nodes of the run")
        return self

    @property
    def processes_per_node(self) -> int:
        if self.nproc_per_node is not None:
            return self.nproc_per_node
        return self.resources.gpu.devices if self.resources.gpu else 1


class GpuTrainingJob(JobConstruct):
    """``GpuTrainingJob(app, "finetune", image=..., nodes=2, resources={"gpu": {"count": 8}})``.

    Emits a ServiceAccount and a Job (plus a headless Service when multi-node), or a JobSet with
    ``backend="jobset"``, a Volcano PodGroup with ``gang_scheduler="volcano"``, and a PrometheusRule with ``alerts``.
    """

    component = "training"

    def __init__(self, scope: Construct, id: str, spec: GpuTrainingJobSpec | Mapping[str, Any] | None = None,
                 **fields: Unpack[GpuTrainingJobFields]) -> None:
        super().__init__(scope, id)
        self.spec = self._parse(GpuTrainingJobSpec, spec, fields)
        if self.spec is not None:
            self._start(self.spec)
            self._build(self.spec)

    @property
    def service_name(self) -> str:
        """The DNS subdomain of the pods: the headless Service (Job) or JobSet's own Service."""
        return self.name

    @property
    def rank0_host(self) -> str:
        """Host name of the rank-0 pod, as its peers resolve it."""
        pod = f"{self.name}-{REPLICATED_JOB}-0-0" if self.spec and self.spec.backend == "jobset" else f"{self.name}-0"
        return f"{pod}.{self.service_name}.{self.namespace}.svc"

    def _mounted(self, volume: Any, *, read_only: bool, path: str) -> None:
        if not read_only:
            for pod_spec in self._pod_specs():
                set_env(pod_spec["containers"][0], RESUME_ENV, "latest")

    # -- building -----------------------------------------------------------------------------------

    def _build(self, spec: GpuTrainingJobSpec) -> None:
        if spec.backend == "trainjob":
            self._trainjob(spec)
            return
        distributed = spec.nodes > 1 or spec.backend == "jobset"
        pod = self._pod_builder(spec, self._torchrun_env(spec, distributed))
        if distributed:
            pod.extra_spec["subdomain"] = self.service_name
        template = pod.build()
        if spec.backend == "jobset":
            require_operator(self, "jobset", "backend", "use backend 'job'")
            if spec.queue:
                # Kueue's JobSet integration (pkg/controller/jobs/jobset) first ships in v0.4.0.
                require_version(self, "kueue", (0, 4), "queue", "queueing a JobSet")
            self._jobset(spec, template)
        else:
            self._job(spec, template, distributed)
        self._pod_group(spec, spec.nodes)
        self._network_policy(spec, peers=distributed)
        # kube-state-metrics knows Jobs, not JobSets: watch the JobSet's Jobs (<jobset>-node-<index>).
        self._alert_rule(spec, job_names=f"{self.name}-{REPLICATED_JOB}-[0-9]+" if spec.backend == "jobset" else None)

    def _torchrun_env(self, spec: GpuTrainingJobSpec, distributed: bool) -> list[dict[str, Any]]:
        """torchrun's configuration as environment, so ``command=["torchrun", "train.py"]`` needs no flags.

        torchrun reads every option it is not given on the command line from ``PET_<OPTION>``
        (torch/distributed/argparse_util.py, ``env`` action: ``PET_`` + the option's dest in upper case).
        Multi-node runs use the c10d rendezvous hosted by rank 0 (torch elastic "rendezvous" docs): a
        rank the Job controller replaces rejoins it, and torchrun restarts the whole worker group from the
        last checkpoint (``--max-restarts``) instead of leaving one rank waiting on a static rendezvous.
        MASTER_ADDR, NNODES... stay for scripts that launch without torchrun.
        """
        rank: dict[str, Any] = {"value": "0"}
        if distributed:
            # The completion index is the node rank; the annotation is set on every pod of an Indexed Job.
            rank = {"valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{COMPLETION_INDEX_ANNOTATION}']"}}}
        nnodes = f"{spec.min_nodes}:{spec.nodes}" if spec.min_nodes is not None else str(spec.nodes)
        endpoint = f"{self.rank0_host if distributed else '127.0.0.1'}:{spec.master_port}"
        env = [
            {"name": "MASTER_ADDR", "value": self.rank0_host if distributed else "127.0.0.1"},
            {"name": "MASTER_PORT", "value": str(spec.master_port)},
            {"name": "NNODES", "value": nnodes},
            {"name": "NPROC_PER_NODE", "value": str(spec.processes_per_node)},
            {"name": "NODE_RANK", **rank},
            {"name": "PET_NNODES", "value": nnodes},
            {"name": "PET_NPROC_PER_NODE", "value": str(spec.processes_per_node)},
        ]
        if distributed:
            env += [
                {"name": "PET_RDZV_BACKEND", "value": "c10d"},
                {"name": "PET_RDZV_ENDPOINT", "value": endpoint},
                # One rendezvous per run: the job's name (a re-created job of the same name is a new run).
                {"name": "PET_RDZV_ID", "value": self.name},
                {"name": "PET_MAX_RESTARTS", "value": str(spec.max_restarts)},
            ]
        else:
            env.append({"name": "PET_STANDALONE", "value": "1"})
        return env

    def _job(self, spec: GpuTrainingJobSpec, template: dict[str, Any], distributed: bool) -> None:
        nodes = spec.nodes if distributed else None
        body = job_spec(spec, template, completions=nodes, parallelism=nodes, indexed=distributed)
        job = self._add("Job", "batch/v1", {"spec": body}, labels=queue_labels(spec))
        self._pod_spec_paths.append((job, ("spec", "template", "spec")))
        if distributed:
            self._add("Service", "v1", {"spec": {
                "clusterIP": "None",
                "ports": [{"name": "rendezvous", "port": spec.master_port, "protocol": "TCP", "targetPort": spec.master_port}],
                # Peers must resolve each other while they start, before any of them is ready.
                "publishNotReadyAddresses": True,
                "selector": self._selector(),
            }})

    def _trainjob(self, spec: GpuTrainingJobSpec) -> None:
        """A Kubeflow Trainer v2 TrainJob: the runtime's JobSet runs the pods, Trainer sets torchrun's PET_* env itself."""
        if not require_operator(self, "trainer", "backend", "use backend 'job' or 'jobset'"):
            return
        # Pod and container securityContext can be set on a TrainJob only through runtimePatches (Trainer v2.2);
        # v2.1's podTemplateOverrides have no securityContext, v2.0's podSpecOverrides neither
        # (manifests/base/crds/trainer.kubeflow.org_trainjobs.yaml at each tag of kubeflow/trainer).
        if not require_version(self, "trainer", (2, 2), "backend", "a restricted TrainJob (runtimePatches)"):
            return
        for field, why in (("min_nodes", "Trainer's torch plugin has no elastic training yet (pkg/runtime/framework/plugins/torch, "
                                          "'TODO: Add support for PyTorch elastic')"),
                           ("queue", "mlkube does not queue TrainJobs through Kueue yet"),
                           ("gang_scheduler", "the runtime decides the scheduler of a TrainJob's pods")):
            if getattr(spec, field):
                self._report(field, f"is not supported with backend 'trainjob': {why}", "use backend 'jobset'")
                return
        if spec.topology_spread or (spec.affinity is not None and spec.affinity.pod_anti_affinity is not None):
            # Both select the workload's own pods by mlkube's labels, which a TrainJob's runtime patch cannot put on the pods.
            field = "topology_spread" if spec.topology_spread else "affinity.pod_anti_affinity"
            self._report(field, "is not supported with backend 'trainjob': Trainer's JobSet labels the pods, not mlkube, so the "
                                "selector would match none of them", "use backend 'jobset', or node affinity only")
            return
        pod = self._pod_builder(spec)
        template = pod.build()
        body = trainjob_body(spec, template, runtime=spec.training_runtime, nodes=spec.nodes, procs=spec.processes_per_node)
        job = self._add("TrainJob", TRAINJOB_API_VERSION, {"spec": body})
        self._pod_spec_paths.append((job, ("spec", "runtimePatches", 0, "trainingRuntimeSpec", "template", "spec", "replicatedJobs", 0,
                                           "template", "spec", "template", "spec")))
        # Trainer's JobSet names itself after the TrainJob and labels every pod with it (JobSet's JobSetNameKey).
        self._network_policy(spec, peers=spec.nodes > 1, selector={"jobset.sigs.k8s.io/jobset-name": self.name})

    def _selector(self) -> dict[str, str]:
        return {key: self.labels[key] for key in ("app.kubernetes.io/instance", "app.kubernetes.io/name")}

    def _jobset(self, spec: GpuTrainingJobSpec, template: dict[str, Any]) -> None:
        # JobSet restarts the whole group (every rank) up to maxRestarts; a single rank is not retried alone.
        inner = job_spec(spec.model_copy(update={"queue": None, "ttl_seconds_after_finished": None}), template,
                         completions=spec.nodes, parallelism=spec.nodes, indexed=True, backoff_limit=0)
        failure: dict[str, Any] = {"maxRestarts": spec.backoff_limit}
        if spec.fail_on_exit_codes:
            failure["rules"] = [{"action": "FailJobSet", "name": "FailOnExitCodes", "onJobFailureReasons": ["PodFailurePolicy"]}]
        body: dict[str, Any] = {
            "failurePolicy": failure,
            "network": {"enableDNSHostnames": True, "publishNotReadyAddresses": True, "subdomain": self.service_name},
            "replicatedJobs": [{"name": REPLICATED_JOB, "replicas": 1, "template": {"metadata": {"labels": dict(self.labels)}, "spec": inner}}],
        }
        if spec.queue:
            body["suspend"] = True
        if spec.ttl_seconds_after_finished is not None:
            body["ttlSecondsAfterFinished"] = spec.ttl_seconds_after_finished
        jobset = self._add("JobSet", JOBSET_API_VERSION, {"spec": body}, labels=queue_labels(spec))
        self._pod_spec_paths.append((jobset, ("spec", "replicatedJobs", 0, "template", "spec", "template", "spec")))
