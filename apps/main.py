"""The example platform: what `cdk8s synth` (and `mlkube synth`) compiles into dist/.

Two model servers for one environment written in Python (a CPU fraud-scoring model and a GPU LLM),
and every app described in YAML under apps/**/mlkube.yaml (apps/nlp/mlkube.yaml: a sentiment model).
"""

from pathlib import Path

from mlkube import Environment, GpuSpec, InferenceService, Model, MlApp, Platform, ResourcesSpec, SidecarSpec
from mlkube.inference_service import AutoscalingSpec, CustomMetric, Peer, ProbesSpec

platform = Platform(environments=[Environment(name="dev", namespace="ml-{app}")])


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


# YAML blueprints join the same platform; their errors (file:line:column) fail synth like any other.
platform.load_blueprints(Path(__file__).parent)


if __name__ == "__main__":
    platform.synth()
