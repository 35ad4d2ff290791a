"""InferenceService on operators: KServe backend, KEDA, Prometheus monitoring, External Secrets.

Each custom resource is checked against mlkube's carried schema (synth does that) and against the
upstream schema from ../shared (skipped where absent)."""

from __future__ import annotations

import pytest
from helpers import upstream_errors

from mlkube import (
    EgressRule,
    Environment,
    ExternalSecretSpec,
    InferenceService,
    KedaScaling,
    KServeOptions,
    MlkubeError,
    Model,
    MonitoringSpec,
    Platform,
)
from mlkube.testing import YamlSnapshotExtension, synth_app, synth_platform

IMAGE = "ghcr.io/acme/fraud:1.4.2"
#: KServe's storage initializer runs in the predictor pod: its egress to the storage is declared.
S3_MODEL = Model.from_uri("s3://m/v1", egress=[EgressRule(cidrs=["0.0.0.0/0"])])


@pytest.fixture
def yaml_snapshot(snapshot):
    return snapshot.use_extension(YamlSnapshotExtension)


def kserve_server(app):
    InferenceService(
        app, "fraud", backend="kserve", model=Model.from_uri("s3://models/fraud/v3", egress=[EgressRule(cidrs=["0.0.0.0/0"])]),
        kserve=KServeOptions(model_format="xgboost", protocol_version="v2"),
        resources={"cpu": 2, "memory": "4Gi"}, config={"THRESHOLD": "0.8"},
        autoscaling={"min_replicas": 2, "max_replicas": 8, "target_cpu_utilization": 60},
        monitoring=MonitoringSpec(latency_objective_seconds=0.25, error_rate_objective=0.01, selector_labels={"release": "prometheus"}),
        external_secrets=[ExternalSecretSpec(name="scoring-db", store="vault", data={"password": "app/db#password"},
                                             mount_path="/var/run/secrets/db")],
    )


def keda_server(app):
    InferenceService(
        app, "llm", image="vllm/vllm-openai:v0.11.0", port=8000,
        autoscaling={"min_replicas": 1, "max_replicas": 6},
        keda=KedaScaling(metric="queue-length", queue_metric="vllm:num_requests_waiting", threshold="5", cooldown_seconds=600),
        monitoring=MonitoringSpec(latency_objective_seconds=2.0),
    )


def test_kserve_backend_snapshot(yaml_snapshot):
    assert synth_app(kserve_server).objects == yaml_snapshot


def test_keda_snapshot(yaml_snapshot):
    assert synth_app(keda_server).objects == yaml_snapshot


def test_kserve_backend_replaces_deployment_service_and_hpa():
    objects = synth_app(kserve_server)
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == ["ConfigMap", "ExternalSecret", "InferenceService", "NetworkPolicy", "NetworkPolicy", "PodDisruptionBudget", "PodMonitor",
                     "PrometheusRule", "ServiceAccount"]
    isvc = objects.get("InferenceService", "fraud")
    # No KServe version declared: KServe 0.15 (mlkube's downloader's), which names raw mode RawDeployment.
    assert isvc["metadata"]["annotations"] == {"serving.kserve.io/deploymentMode": "RawDeployment"}
    predictor = isvc["spec"]["predictor"]
    assert predictor["model"]["modelFormat"] == {"name": "xgboost"}
    assert predictor["model"]["storageUri"] == "s3://models/fraud/v3"
    assert predictor["model"]["protocolVersion"] == "v2"
    assert "image" not in predictor["model"]  # the runtime brings it
    assert (predictor["minReplicas"], predictor["maxReplicas"], predictor["scaleMetric"], predictor["scaleTarget"]) == (2, 8, "cpu", 60)
    assert predictor["model"]["securityContext"]["runAsNonRoot"] is True
    assert predictor["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert predictor["model"]["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    assert predictor["deploymentStrategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    selector = {"serving.kserve.io/inferenceservice": "fraud"}
    assert objects.get("NetworkPolicy", "fraud")["spec"]["podSelector"] == {"matchLabels": selector}
    assert objects.get("PodDisruptionBudget", "fraud")["spec"]["selector"] == {"matchLabels": selector}
    assert objects.get("PodMonitor", "fraud")["spec"]["podMetricsEndpoints"] == [{"interval": "30s", "path": "/metrics", "portNumber": 8080}]


def test_kserve_gpu_and_pvc_model():
    objects = synth_app(lambda app: InferenceService(app, "llm", backend="kserve", model="pvc://checkpoints/llm/final",
                                                     kserve={"model_format": "huggingface"},
                                                     resources={"cpu": 8, "memory": "48Gi", "gpu": {"count": 1, "product": "NVIDIA-L4"}}))
    predictor = objects.get("InferenceService", "llm")["spec"]["predictor"]
    assert predictor["model"]["storageUri"] == "pvc://checkpoints/llm/final"
    assert predictor["model"]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert predictor["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-L4"}
    assert predictor["tolerations"] == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}]
    assert predictor["deploymentStrategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}


def test_kserve_says_what_it_does_not_express():
    def build(app):
        InferenceService(app, "s", backend="kserve", model=S3_MODEL, kserve={"canary_traffic_percent": 10},
                         probes={"model_load_timeout_seconds": 900}, sidecars=[{"name": "shipper", "image": "fluent/fluent-bit:3.2.4"}])
    platform = Platform(environments=[Environment(name="dev")])
    platform.app("a", build)
    result = synth_platform(platform)
    isvc = result.get("InferenceService", "s")
    assert "canaryTrafficPercent" not in isvc["spec"]["predictor"]
    warnings = "\n".join(platform_warnings(platform))
    assert "dev/a/s: kserve backend: canary_traffic_percent (10) needs Knative mode" in warnings
    assert "probes are set by the KServe serving runtime" in warnings
    assert "sidecars (shipper) have no place beside a KServe model container" in warnings


def platform_warnings(platform):
    return [warning for app in platform.apps for warning in app.warnings]


def test_kserve_knative_mode_writes_canary_and_legacy_names():
    objects = synth_app(lambda app: InferenceService(app, "s", backend="kserve", model=S3_MODEL,
                                                     kserve={"deployment_mode": "Knative", "canary_traffic_percent": 10, "legacy_mode_names": True}))
    isvc = objects.get("InferenceService", "s")
    assert isvc["metadata"]["annotations"] == {"serving.kserve.io/deploymentMode": "Serverless"}
    assert isvc["spec"]["predictor"]["canaryTrafficPercent"] == 10
    assert "deploymentStrategy" not in isvc["spec"]["predictor"]


def test_keda_scaled_object_replaces_the_hpa():
    objects = synth_app(keda_server)
    assert not objects.of_kind("HorizontalPodAutoscaler")
    scaled = objects.get("ScaledObject", "llm")["spec"]
    assert scaled["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm"}
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"], scaled["cooldownPeriod"]) == (1, 6, 600)
    assert scaled["triggers"] == [{"metadata": {"query": 'sum(vllm:num_requests_waiting{namespace="ml",pod=~"llm-.*"})',
                                                "serverAddress": "http://prometheus-operated.monitoring.svc:9090", "threshold": "5"},
                                   "metricType": "AverageValue", "type": "prometheus"}]


def test_keda_requests_per_second_query():
    objects = synth_app(lambda app: InferenceService(app, "s", image=IMAGE, keda={"threshold": "50"}))
    trigger = objects.get("ScaledObject", "s")["spec"]["triggers"][0]
    assert trigger["metadata"]["query"] == 'sum(rate(http_requests_total{namespace="ml",pod=~"s-.*"}[1m]))'


def test_monitoring_service_monitor_and_slo_alerts():
    objects = synth_app(keda_server)
    monitor = objects.get("ServiceMonitor", "llm")["spec"]
    assert monitor["selector"] == {"matchLabels": {"app.kubernetes.io/instance": "llm", "app.kubernetes.io/name": "llm"}}
    assert monitor["endpoints"] == [{"interval": "30s", "path": "/metrics", "port": "http"}]
    rules = objects.get("PrometheusRule", "llm")["spec"]["groups"][0]["rules"]
    assert [r["alert"] for r in rules] == ["LlmDown", "LlmHighLatency"]
    assert rules[1]["expr"] == 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="ml",pod=~"llm-.*"}[5m]))) > 2.0'


def test_error_rate_alert():
    rules = synth_app(kserve_server).get("PrometheusRule", "fraud")["spec"]["groups"][0]["rules"]
    error_rate = next(r for r in rules if r["alert"] == "FraudHighErrorRate")
    assert error_rate["expr"].endswith("> 0.01") and 'code=~"5.."' in error_rate["expr"]
    assert synth_app(kserve_server).get("PrometheusRule", "fraud")["metadata"]["labels"]["release"] == "prometheus"


def test_external_secret_is_synced_and_mounted_as_files():
    objects = synth_app(kserve_server)
    external = objects.get("ExternalSecret", "scoring-db")["spec"]
    assert external["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault"}
    assert external["data"] == [{"remoteRef": {"key": "app/db", "property": "password"}, "secretKey": "password"}]
    assert external["target"]["name"] == "scoring-db"
    predictor = objects.get("InferenceService", "fraud")["spec"]["predictor"]
    assert {"name": "secret-scoring-db", "secret": {"defaultMode": 0o440, "secretName": "scoring-db"}} in predictor["volumes"]
    assert {"mountPath": "/var/run/secrets/db", "name": "secret-scoring-db", "readOnly": True} in predictor["model"]["volumeMounts"]
    assert not objects.of_kind("Secret")


@pytest.mark.parametrize("build", [kserve_server, keda_server])
def test_custom_resources_pass_the_upstream_schemas(build, upstream):
    custom = [o for o in synth_app(build) if "." in o["apiVersion"].split("/")[0] and not o["apiVersion"].endswith("k8s.io/v1")]
    assert custom
    for obj in custom:
        assert upstream_errors(upstream, obj) == [], obj["kind"]


def test_fails_when_an_option_needs_a_missing_operator():
    environment = Environment(name="edge", operators=["prometheus-operator"])
    with pytest.raises(MlkubeError) as caught:
        synth_app(kserve_server, environments=[environment])
    message = str(caught.value)
    assert "edge/app/fraud: backend: needs KServe, which environment 'edge' does not have (operators: prometheus-operator)" in message
    assert "edge/app/fraud: external_secrets: needs External Secrets Operator" in message
    assert "add 'kserve' to the environment's operators, or use backend 'kubernetes'" in message


def test_fails_when_keda_is_missing():
    with pytest.raises(MlkubeError, match="keda: needs KEDA, which environment 'x' does not have"):
        synth_app(keda_server, environments=[Environment(name="x", operators=["prometheus-operator"])])


def test_fails_when_kserve_has_no_model_or_keda():
    with pytest.raises(MlkubeError, match="the kserve backend needs a 'model'"):
        synth_app(lambda app: InferenceService(app, "s", backend="kserve"))
    with pytest.raises(MlkubeError, match="'keda' scales a Deployment of the kubernetes backend"):
        synth_app(lambda app: InferenceService(app, "s", backend="kserve", model=S3_MODEL, keda={"threshold": "1"}))


def test_fails_when_the_kubernetes_backend_has_no_image():
    with pytest.raises(MlkubeError, match="test/app/s: image: Field required with the kubernetes backend"):
        synth_app(lambda app: InferenceService(app, "s"))


def test_fails_when_keda_query_metric_has_no_query():
    with pytest.raises(MlkubeError, match="metric 'query' needs a PromQL 'query'"):
        synth_app(lambda app: InferenceService(app, "s", image=IMAGE, keda={"metric": "query", "threshold": "1"}))
