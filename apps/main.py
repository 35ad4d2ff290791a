"""The example platform: what `cdk8s synth` (and `mlkube synth`) compiles into dist/.

Three environments: dev (smaller, auto-synced), staging (as written) and prod (production: manual
sync, larger, on two clusters, and running exactly the digests staging locked, via
`mlkube promote staging prod`). Python apps: a CPU fraud-scoring model (KEDA, alerts, a credential
from an external store) with a nightly batch-scoring job, and a GPU LLM fine-tuned on 2 nodes x 8 GPUs
into a checkpoint volume it is then served from; both jobs alert when a run fails or overruns; in staging and prod, a
405B model served across two GPU nodes per replica (a LeaderWorkerSet). YAML apps: every apps/**/mlkube.yaml
(apps/nlp/mlkube.yaml: a sentiment model served by KServe).
"""

from pathlib import Path

from mlkube import (
    CheckpointVolume,
    Environment,
    ExposeSpec,
    ExternalSecretSpec,
    GatewayRef,
    GpuSpec,
    GpuTrainingJob,
    Image,
    InferenceService,
    JobAlertsSpec,
    KedaScaling,
    MlApp,
    Model,
    MonitoringSpec,
    Platform,
    ResourcesSpec,
    Runtime,
    ScheduledJob,
    SecretMount,
    SidecarSpec,
)
from mlkube.core.gitops_settings import GitOps, NetworkSpec, QuotaSpec, WorkloadOverride
from mlkube.core.inference_service import AutoscalingSpec, CustomMetric, Peer, ProbesSpec
from mlkube.core.kueue_platform import ClusterQueueSpec, FlavorQuota, KueueSpec, ResourceFlavorSpec, WorkloadPriorityClassSpec

# Model downloads (s3, Hugging Face) leave the cluster over HTTPS; everything else is denied.
_EGRESS = NetworkSpec(egress_https_cidrs=["0.0.0.0/0"])
# What every cluster runs, and which version: fields are emitted for these versions (KServe 0.15 names its raw mode
# RawDeployment and gets its own storage initializer as model downloader); an option that needs anything else fails synth.
_OPERATORS = {"argocd": "3.1", "kserve": "0.15", "keda": "2.17", "prometheus-operator": "0.85", "external-secrets": "0.19", "kueue": "0.13",
              "prometheus-adapter": "0.12", "gateway-api": "1.3", "lws": "0.7", "trainer": "2.2"}
# The production clusters' Kueue set-up, owned by the platform team: H100 nodes for training, a CPU pool for batch, and
# the priority the fine-tuning job names. Dev and staging queues are set up outside mlkube.
_PROD_KUEUE = KueueSpec(
    flavors=[ResourceFlavorSpec(name="h100", node_labels={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}),
             ResourceFlavorSpec(name="cpu")],
    cluster_queues=[ClusterQueueSpec(name="ml-prod", flavors=[
        FlavorQuota(flavor="h100", cpu="384", memory="4Ti", gpus=32),
        FlavorQuota(flavor="cpu", cpu="64", memory="256Gi")])],
    priority_classes=[WorkloadPriorityClassSpec(name="training", value=100, description="Fine-tuning runs; serving is never preempted")],
)
# Images built from this repo are pushed once, here, and deployed by digest everywhere.
_REGISTRY = "ghcr.io/acme"
# How each cluster's storage classes bind: Immediate claims sync before the workloads, others with them.
_STORAGE = {"shared-rwx": "Immediate"}
# Alerts and monitors are picked up by the Prometheus that selects release=prometheus.
_MONITORING = MonitoringSpec(selector_labels={"release": "prometheus"})
# Jobs alert when a run fails or is still running at its active deadline.
_JOB_ALERTS = JobAlertsSpec(selector_labels={"release": "prometheus"})

platform = Platform(
    environments=[
        Environment(name="dev", namespace="ml-{app}", registry=_REGISTRY, network=_EGRESS, operators=_OPERATORS, storage_binding_modes=_STORAGE,
                    quota=QuotaSpec(cpu="32", memory="128Gi", gpus=2), kueue_cluster_queue="ml-dev",
                    overrides={"fraud-scoring/fraud-scorer": WorkloadOverride(min_replicas=1, max_replicas=2, resource_scale=0.5),
                               "llm-chat/llm-server": WorkloadOverride(max_replicas=1, hostnames=["chat.dev.acme.example"])}),
        Environment(name="staging", namespace="ml-{app}", registry=_REGISTRY, cluster="staging", network=_EGRESS, operators=_OPERATORS,
                    storage_binding_modes=_STORAGE, kueue_cluster_queue="ml-staging",
                    overrides={"llm-chat/llm-server": WorkloadOverride(hostnames=["chat.staging.acme.example"])}),
        Environment(name="prod", namespace="ml-{app}", registry=_REGISTRY, production=True, clusters=["prod-eu-1", "prod-us-1"], network=_EGRESS,
                    operators=_OPERATORS, storage_binding_modes=_STORAGE,
                    quota=QuotaSpec(cpu="256", memory="2Ti", gpus=16), kueue_cluster_queue="ml-prod", kueue=_PROD_KUEUE,
                    overrides={"fraud-scoring/fraud-scorer": WorkloadOverride(min_replicas=6, max_replicas=24),
                               "llm-chat/llm-server": WorkloadOverride(min_replicas=2, max_replicas=8, gpu_product="NVIDIA-H100-80GB-HBM3")}),
    ],
    gitops=GitOps(repo_url="https://github.com/acme/ml-platform-config.git", ci_install="pip install -e ."),
)


@platform.app("fraud-scoring")
def fraud_scoring(app: MlApp) -> None:
    InferenceService(
        app, "fraud-scorer",
        # Built from apps/images/fraud-scorer: dist/images/fraud-scorer/Dockerfile, tagged by content.
        image=Image.build("apps/images/fraud-scorer", purpose="serving"),
        model=Model.from_uri("s3://acme-models/fraud/v3"),
        config={"SCORE_THRESHOLD": "0.82", "LOG_LEVEL": "info"},
        resources=ResourcesSpec(cpu="2", memory="4Gi"),
        autoscaling=AutoscalingSpec(min_replicas=3, max_replicas=12, target_cpu_utilization=60),
        keda=KedaScaling(metric="requests-per-second", threshold="50"),
        probes=ProbesSpec(model_load_timeout_seconds=120),
        allow_from=[Peer(namespace="payments", pod_labels={"app.kubernetes.io/name": "checkout"})],
        monitoring=_MONITORING.model_copy(update={"latency_objective_seconds": 0.1, "error_rate_objective": 0.005}),
        external_secrets=[ExternalSecretSpec(name="feature-store", store="vault", data={"password": "fraud-scoring/feature-store#password"},
                                             mount_path="/var/run/secrets/feature-store")],
        # The model downloader reads s3://acme-models with this IAM role (EKS IRSA), not with a stored key.
        service_account_annotations={"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/fraud-scorer-models"},
    )
    ScheduledJob(
        app, "nightly-scoring",
        image="ghcr.io/acme/fraud-batch:1.4.2",
        args=["score", "--date", "yesterday", "--out", "s3://acme-scores/fraud/"],
        schedule="0 2 * * *", time_zone="Europe/Paris",
        starting_deadline_seconds=3600,
        resources=ResourcesSpec(cpu="4", memory="16Gi"),
        backoff_limit=2, fail_on_exit_codes=[2], active_deadline_seconds=4 * 3600,
        queue="batch",
        alerts=_JOB_ALERTS.model_copy(update={"deadline_seconds": 3 * 3600}),  # warn an hour before the run is stopped
    )


@platform.app("llm-chat")
def llm_chat(app: MlApp) -> None:
    # Written by every rank of the fine-tuning job at once: ReadWriteMany.
    checkpoints = CheckpointVolume(app, "llm-checkpoints", size="2Ti", access_mode="ReadWriteMany", storage_class="shared-rwx",
                                   snapshot={"snapshot_class": "csi-snapshots", "versions": ["finetune-v1"]})
    trainer_image = Image.build("apps/images/llm-finetune", purpose="training", accelerator="cuda")
    finetune = GpuTrainingJob(
        app, "llm-finetune",
        image=trainer_image,
        command=["torchrun"],
        args=["--nnodes=$(NNODES)", "--nproc-per-node=$(NPROC_PER_NODE)", "--node-rank=$(NODE_RANK)",
              "--master-addr=$(MASTER_ADDR)", "--master-port=$(MASTER_PORT)", "train.py",
              "--base-model", "meta-llama/Llama-3.1-8B-Instruct", "--output-dir", "$(CHECKPOINT_DIR)/llm-finetune"],
        nodes=2,
        resources=ResourcesSpec(cpu="48", memory="640Gi", shm_size="64Gi",
                                gpu=GpuSpec(count=8, product="NVIDIA-H100-80GB-HBM3", runtime_class="nvidia")),
        secrets=[SecretMount(secret="hf-token", mount_path="/var/run/secrets/hf")],
        backoff_limit=3, fail_on_exit_codes=[2], active_deadline_seconds=48 * 3600,
        termination_grace_period_seconds=300,
        queue="gpu-training", workload_priority_class="training",
        alerts=_JOB_ALERTS,
    )
    finetune.mount(checkpoints)
    # The evaluation of the fine-tuned model runs on Kubeflow Trainer's torch-distributed runtime (a TrainJob):
    # torchrun needs no flags there, Trainer sets its PET_* variables.
    evaluation = GpuTrainingJob(
        app, "llm-eval", backend="trainjob", image=trainer_image,
        command=["torchrun", "train.py", "--evaluate", "--base-model", "$(CHECKPOINT_DIR)/llm-finetune/final"],
        nodes=1, resources=ResourcesSpec(cpu="12", memory="160Gi", shm_size="16Gi",
                                         gpu=GpuSpec(count=2, product="NVIDIA-H100-80GB-HBM3", runtime_class="nvidia")),
        active_deadline_seconds=6 * 3600,
    )
    evaluation.mount(checkpoints, read_only=True)
    server = InferenceService(
        app, "llm-server",
        image="vllm/vllm-openai:v0.11.0",
        runtime=Runtime.vllm(served_model_name="chat"),   # `vllm serve $(MODEL_PATH)` on port 8000, probed on /health
        # Served from a claim restored from snapshot finetune-v1: the weights reviewed are the weights served (prod requires it).
        model=checkpoints.model_uri("llm-finetune/final", version="finetune-v1"),
        resources=ResourcesSpec(cpu="8", memory="48Gi", shm_size="8Gi",
                                gpu=GpuSpec(count=1, product="NVIDIA-L4", runtime_class="nvidia")),
        autoscaling=AutoscalingSpec(min_replicas=1, max_replicas=4, target_cpu_utilization=None,
                                    custom_metric=CustomMetric(name="vllm_num_requests_waiting", target_average_value="5")),
        probes=ProbesSpec(model_load_timeout_seconds=1200),
        monitoring=_MONITORING.model_copy(update={"latency_objective_seconds": 5.0, "latency_metric": "vllm:e2e_request_latency_seconds_bucket"}),
        termination_grace_period_seconds=120, drain_seconds=20,
        sidecars=[SidecarSpec(name="dcgm-exporter", image="nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3-4.1.3-ubuntu22.04",
                              ports={"gpu-metrics": 9400})],
        # Reached from outside through the platform's Gateway (an HTTPRoute; each environment has its own hostname).
        expose=ExposeSpec(gateway=GatewayRef(name="public", namespace="gateway-system", section_name="https")),
        hostnames=["chat.acme.example"],
    )
    server.mount(checkpoints, read_only=True)


@platform.app("llm-405b", environments=["staging", "prod"])
def llm_405b(app: MlApp) -> None:
    # Too large for one node: each replica is a group of 2 GPU nodes (LeaderWorkerSet), Ray across them, vLLM with
    # tensor parallelism over each node's GPUs and pipeline parallelism over the 2 nodes. One group fills prod's 16-GPU quota;
    # staging's namespace quota holds 8 GPUs: 2 nodes x 4 GPUs there (the FP8 model still fits in 640 GB).
    gpus_per_node = 4 if app.environment.name == "staging" else 8
    # Staged once onto a shared volume that every node of every group mounts read-only: ReadWriteMany (synth refuses a
    # ReadWriteOnce volume here, as it attaches to one node).
    weights = CheckpointVolume(app, "llm-weights", size="1Ti", access_mode="ReadWriteMany", storage_class="shared-rwx",
                               snapshot={"snapshot_class": "csi-snapshots", "versions": ["fp8-v1"]})
    InferenceService(
        app, "llama-405b",
        image="vllm/vllm-openai:v0.11.0",
        runtime=Runtime.vllm(served_model_name="llama-405b"),
        model=weights.model_uri("meta-llama/Llama-3.1-405B-Instruct-FP8", version="fp8-v1"),
        nodes=2, replicas=1,
        resources=ResourcesSpec(cpu="64", memory="640Gi", shm_size="32Gi",
                                gpu=GpuSpec(count=gpus_per_node, product="NVIDIA-H100-80GB-HBM3", runtime_class="nvidia")),
        probes=ProbesSpec(model_load_timeout_seconds=3600),
        termination_grace_period_seconds=120, drain_seconds=20,
    )


# YAML blueprints join the same platform; their errors (file:line:column) fail synth like any other.
platform.load_blueprints(Path(__file__).parent)


if __name__ == "__main__":
    platform.synth()
