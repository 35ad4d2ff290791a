"""The example platform: what `cdk8s synth` (and `mlkube synth`) compiles into dist/.

Two model servers (a CPU fraud-scoring model and a GPU LLM) in three environments: dev (smaller,
auto-synced), staging (as written) and prod (production: manual sync, larger, on two clusters, and
running exactly the digests staging locked, via `mlkube promote staging prod`).
"""

from mlkube import Environment, GpuSpec, InferenceService, Model, MlApp, Platform, ResourcesSpec, SidecarSpec
from mlkube.gitops.settings import GitOps, NetworkSpec, QuotaSpec, WorkloadOverride
from mlkube.inference_service import AutoscalingSpec, CustomMetric, Peer, ProbesSpec

# Model downloads (s3, Hugging Face) leave the cluster over HTTPS; everything else is denied.
_EGRESS = NetworkSpec(egress_https_cidrs=["0.0.0.0/0"])

platform = Platform(
    environments=[
        Environment(name="dev", namespace="ml-{app}", network=_EGRESS, quota=QuotaSpec(cpu="32", memory="128Gi", gpus=2),
                    overrides={"fraud-scoring/fraud-scorer": WorkloadOverride(min_replicas=1, max_replicas=2, resource_scale=0.5),
                               "llm-chat/llm-server": WorkloadOverride(max_replicas=1)}),
        Environment(name="staging", namespace="ml-{app}", cluster="staging", network=_EGRESS),
        Environment(name="prod", namespace="ml-{app}", production=True, clusters=["prod-eu-1", "prod-us-1"], network=_EGRESS,
                    quota=QuotaSpec(cpu="256", memory="2Ti", gpus=16), kueue_cluster_queue="ml-prod",
                    overrides={"fraud-scoring/fraud-scorer": WorkloadOverride(min_replicas=6, max_replicas=24),
                               "llm-chat/llm-server": WorkloadOverride(min_replicas=2, max_replicas=8, gpu_product="NVIDIA-H100-80GB-HBM3")}),
    ],
    gitops=GitOps(repo_url="https://github.com/acme/ml-platform-config.git", ci_install="pip install -e ."),
)


@platform.app("fraud-scoring")
def fraud_scoring(app: MlApp) -> None:
    InferenceService(
        app, "fraud-scorer",
        image="ghcr.io/acme/fraud-scorer:1.4.2",
        model=Model.from_uri("s3://acme-models/fraud/v3"),
        config={"SCORE_THRESHOLD": "0.82", "LOG_LEVEL": "info"},
        resources=ResourcesSpec(cpu="2", memory="4Gi"),
        autoscaling=AutoscalingSpec(min_replicas=3, max_replicas=12, target_cpu_utilization=60),
        probes=ProbesSpec(model_load_timeout_seconds=120),
        allow_from=[Peer(namespace="payments", pod_labels={"app.kubernetes.io/name": "checkout"})],
    )


@platform.app("llm-chat")
def llm_chat(app: MlApp) -> None:
    InferenceService(
        app, "llm-server",
        image="vllm/vllm-openai:v0.11.0",
        args=["--model", "/mnt/models", "--port", "8000", "--served-model-name", "chat"],
        port=8000,
        model="hf://meta-llama/Llama-3.1-8B-Instruct",
        resources=ResourcesSpec(cpu="8", memory="48Gi", shm_size="8Gi",
                                gpu=GpuSpec(count=1, product="NVIDIA-L4", runtime_class="nvidia")),
        autoscaling=AutoscalingSpec(min_replicas=1, max_replicas=4, target_cpu_utilization=None,
                                    custom_metric=CustomMetric(name="vllm_num_requests_waiting", target_average_value="5")),
        probes=ProbesSpec(model_load_timeout_seconds=1200, readiness_path="/health", liveness_path="/health"),
        termination_grace_period_seconds=120, drain_seconds=20,
        sidecars=[SidecarSpec(name="dcgm-exporter", image="nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3-4.1.3-ubuntu22.04",
                              ports={"gpu-metrics": 9400})],
    )


if __name__ == "__main__":
    platform.synth()
