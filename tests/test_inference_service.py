"""InferenceService: snapshots, the fields that matter, and every refused input."""

from __future__ import annotations

import pytest

from mlkube import (
    AutoscalingSpec,
    CustomMetric,
    EgressRule,
    GpuSpec,
    InferenceService,
    MlkubeError,
    Model,
    Peer,
    ProbesSpec,
    ResourcesSpec,
    SecretEnv,
    SecretMount,
    SidecarSpec,
)
from mlkube.testing import synth_app

MINIMAL_IMAGE = "ghcr.io/acme/fraud:1.4.2"


def minimal(app):
    InferenceService(app, "fraud", image=MINIMAL_IMAGE)


def all_options(app):
    InferenceService(
        app, "llm",
        name="llm-server",
        image="ghcr.io/acme/llm@sha256:" + "a" * 64,
        command=["python", "-m", "server"],
        args=["--max-batch", "8"],
        port=8000,
        metrics_port=9090,
        env={"LOG_LEVEL": "debug"},
        config={"MAX_TOKENS": "4096", "TEMPLATE": "line one\nline two\n"},
        secrets=[SecretMount(secret="hf-token", mount_path="/var/run/secrets/hf")],
        secret_env=[SecretEnv(env="API_KEY", secret="api", key="key", reason="the vendor SDK reads only API_KEY")],
        model=Model.from_uri("s3://models/llm/v2", credentials_secret="s3-creds", cache_size="80Gi",
                             egress=[EgressRule(cidrs=["52.216.0.0/15"], reason="S3 eu-west-1")]),
        model_path="/models",
        autoscaling=AutoscalingSpec(min_replicas=2, max_replicas=6, target_cpu_utilization=None,
                                    custom_metric=CustomMetric(name="requests_waiting", target_average_value=4),
                                    scale_down_stabilization_seconds=600),
        resources=ResourcesSpec(cpu=8, memory="64Gi", ephemeral_storage="50Gi", shm_size="16Gi",
                                gpu=GpuSpec(count=2, product="NVIDIA-A100-SXM4-80GB", runtime_class="nvidia")),
        probes=ProbesSpec(model_load_timeout_seconds=1800, readiness_path="/ready", liveness_path="/live", period_seconds=15),
        termination_grace_period_seconds=180,
        drain_seconds=30,
        rollout="keep-capacity",
        spread="hosts",
        sidecars=[SidecarSpec(name="log-shipper", image="fluent/fluent-bit:3.2.4", ports={"fb-metrics": 2020})],
        allow_from=[Peer(namespace="gateway"), Peer(pod_labels={"role": "client"})],
        max_unavailable=2,
    )


def test_minimal_snapshot(yaml_snapshot):
    assert synth_app(minimal).objects == yaml_snapshot


def test_all_options_snapshot(yaml_snapshot):
    assert synth_app(all_options).objects == yaml_snapshot


def test_minimal_emits_the_serving_set_in_the_app_namespace():
    objects = synth_app(minimal)
    assert sorted(o["kind"] for o in objects) == ["Deployment", "HorizontalPodAutoscaler", "NetworkPolicy", "NetworkPolicy",
                                                  "PodDisruptionBudget", "Service", "ServiceAccount"]
    assert {o["metadata"]["namespace"] for o in objects} == {"ml"}
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "fraud"
        assert labels["app.kubernetes.io/managed-by"] == "mlkube"
        assert labels["app.kubernetes.io/part-of"] == "app"
    assert objects.get("ServiceAccount", "fraud")["automountServiceAccountToken"] is False


def test_minimal_pod_is_restricted_and_guaranteed():
    deployment = synth_app(minimal).get("Deployment", "fraud")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"fsGroup": 10001, "fsGroupChangePolicy": "OnRootMismatch", "runAsGroup": 10001,
                                      "runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["automountServiceAccountToken"] is False
    server = pod["containers"][0]
    assert server["securityContext"]["allowPrivilegeEscalation"] is False
    assert server["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert server["securityContext"]["readOnlyRootFilesystem"] is True
    assert server["resources"]["requests"] == server["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}
    assert {"name": "tmp", "mountPath": "/tmp"} in server["volumeMounts"]
    # With an HPA, the Deployment leaves the replica count to it; capacity is kept during rollouts.
    assert "replicas" not in deployment["spec"]
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}


def test_probes_follow_the_model_load_time():
    objects = synth_app(lambda app: InferenceService(app, "s", image=MINIMAL_IMAGE, probes={"model_load_timeout_seconds": 1200}))
    server = objects.get("Deployment", "s")["spec"]["template"]["spec"]["containers"][0]
    assert server["startupProbe"]["failureThreshold"] * server["startupProbe"]["periodSeconds"] == 1200
    assert server["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
    assert server["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "http"}
    assert server["lifecycle"] == {"preStop": {"sleep": {"seconds": 10}}}
    assert objects.get("Deployment", "s")["spec"]["progressDeadlineSeconds"] == 1500


def test_gpu_server_is_scheduled_on_gpus_and_saves_them_in_rollouts():
    objects = synth_app(all_options)
    deployment = objects.get("Deployment", "llm-server")
    pod = deployment["spec"]["template"]["spec"]
    server = pod["containers"][0]
    assert server["resources"]["limits"]["nvidia.com/gpu"] == server["resources"]["requests"]["nvidia.com/gpu"] == 2
    objects.has_object("Deployment", {"spec": {"template": {"spec": {"containers": [{"resources": {"limits": {"nvidia.com/gpu": 2}}}]}}}})
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    assert pod["tolerations"] == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}]
    assert pod["runtimeClassName"] == "nvidia"
    shm = next(v for v in pod["volumes"] if v["name"] == "dshm")
    assert shm == {"emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}, "name": "dshm"}
    assert {"mountPath": "/dev/shm", "name": "dshm"} in server["volumeMounts"]
    gpu_default = synth_app(lambda app: InferenceService(app, "g", image=MINIMAL_IMAGE, resources={"gpu": {"count": 1}}))
    assert gpu_default.get("Deployment", "g")["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}


def test_mig_profile_requests_one_slice():
    objects = synth_app(lambda app: InferenceService(app, "m", image=MINIMAL_IMAGE, resources={"gpu": {"mig_profile": "1g.10gb"}}))
    server = objects.get("Deployment", "m")["spec"]["template"]["spec"]["containers"][0]
    assert server["resources"]["limits"]["nvidia.com/mig-1g.10gb"] == 1
    assert "nvidia.com/gpu" not in server["resources"]["limits"]


def test_uri_model_is_downloaded_and_mounted_read_only():
    pod = synth_app(all_options).get("Deployment", "llm-server")["spec"]["template"]["spec"]
    downloader = next(c for c in pod["initContainers"] if c["name"] == "model-downloader")
    assert downloader["args"] == ["s3://models/llm/v2", "/models"]
    assert {"mountPath": "/models", "name": "model"} in downloader["volumeMounts"]
    server = pod["containers"][0]
    assert {"mountPath": "/models", "name": "model", "readOnly": True} in server["volumeMounts"]
    assert {"name": "MODEL_PATH", "value": "/models"} in server["env"]
    assert {"emptyDir": {"sizeLimit": "80Gi"}, "name": "model"} in pod["volumes"]


def test_pvc_model_is_mounted_read_only_at_its_path():
    objects = synth_app(lambda app: InferenceService(app, "s", image=MINIMAL_IMAGE, model="pvc://checkpoints/llm/final"))
    pod = objects.get("Deployment", "s")["spec"]["template"]["spec"]
    assert {"name": "model", "persistentVolumeClaim": {"claimName": "checkpoints", "readOnly": True}} in pod["volumes"]
    assert {"mountPath": "/mnt/models", "name": "model", "readOnly": True, "subPath": "llm/final"} in pod["containers"][0]["volumeMounts"]
    assert "initContainers" not in pod


def test_sidecar_is_a_secured_native_sidecar():
    pod = synth_app(all_options).get("Deployment", "llm-server")["spec"]["template"]["spec"]
    shipper = next(c for c in pod["initContainers"] if c["name"] == "log-shipper")
    assert shipper["restartPolicy"] == "Always"
    assert shipper["securityContext"]["runAsNonRoot"] is True
    assert shipper["resources"]["requests"] == shipper["resources"]["limits"]


def test_config_is_a_configmap_and_rolls_pods_when_it_changes():
    def with_threshold(value):
        return lambda app: InferenceService(app, "s", image=MINIMAL_IMAGE, config={"THRESHOLD": value})
    first, second = synth_app(with_threshold("0.8")), synth_app(with_threshold("0.9"))
    assert first.get("ConfigMap", "s-config")["data"] == {"THRESHOLD": "0.8"}
    server = first.get("Deployment", "s")["spec"]["template"]["spec"]["containers"][0]
    assert server["envFrom"] == [{"configMapRef": {"name": "s-config"}}]
    def hash_of(objects):
        return objects.get("Deployment", "s")["spec"]["template"]["metadata"]["annotations"]["mlkube.dev/config-hash"]
    assert hash_of(first) != hash_of(second)


def test_secrets_are_referenced_never_written():
    objects = synth_app(all_options)
    assert not objects.of_kind("Secret")
    pod = objects.get("Deployment", "llm-server")["spec"]["template"]["spec"]
    assert {"name": "secret-hf-token", "secret": {"defaultMode": 0o440, "secretName": "hf-token"}} in pod["volumes"]


def test_hpa_targets_the_deployment_with_the_requested_metric():
    hpa = synth_app(all_options).get("HorizontalPodAutoscaler", "llm-server")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm-server"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["metrics"] == [{"pods": {"metric": {"name": "requests_waiting"}, "target": {"averageValue": "4", "type": "AverageValue"}}, "type": "Pods"}]
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 600


def test_fixed_replicas_turn_autoscaling_off():
    objects = synth_app(lambda app: InferenceService(app, "s", image=MINIMAL_IMAGE, replicas=3))
    assert objects.get("Deployment", "s")["spec"]["replicas"] == 3
    assert not objects.of_kind("HorizontalPodAutoscaler")


def test_network_policy_admits_callers_to_serving_port_and_monitoring_to_metrics():
    objects = synth_app(all_options)
    policy = objects.get("NetworkPolicy", "llm-server")["spec"]
    assert policy["podSelector"] == {"matchLabels": {"app.kubernetes.io/instance": "llm-server", "app.kubernetes.io/name": "llm-server"}}
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    gateway, client, metrics, sidecars = policy["ingress"]
    assert gateway == {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway"}}, "podSelector": {}}],
                       "ports": [{"port": 8000, "protocol": "TCP"}]}
    assert client == {"from": [{"podSelector": {"matchLabels": {"role": "client"}}}], "ports": [{"port": 8000, "protocol": "TCP"}]}
    assert metrics == {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}, "podSelector": {}}],
                       "ports": [{"port": 9090, "protocol": "TCP"}]}
    assert sidecars["from"] == metrics["from"]  # Prometheus also scrapes the sidecars' ports
    # The downloader reaches its storage: HTTPS to the declared block, besides DNS.
    assert policy["egress"][-1] == {"ports": [{"port": 443, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "52.216.0.0/15"}}]}
    # The same-namespace callers (role=client) get their egress to the server.
    assert objects.get("NetworkPolicy", "llm-server-clients")["spec"] == {
        "egress": [{"ports": [{"port": 8000, "protocol": "TCP"}], "to": [{"podSelector": policy["podSelector"]}]}],
        "podSelector": {"matchLabels": {"role": "client"}}, "policyTypes": ["Egress"]}


def test_default_network_policy_admits_only_the_same_namespace():
    objects = synth_app(minimal)
    policy = objects.get("NetworkPolicy", "fraud")["spec"]
    assert policy["ingress"][0]["from"] == [{"podSelector": {}}]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    # Every pod of the namespace may send to the serving port (a connection needs the sender's egress too).
    clients = objects.get("NetworkPolicy", "fraud-clients")["spec"]
    assert clients["podSelector"] == {} and clients["policyTypes"] == ["Egress"]


def test_topology_spread_across_zones_and_hosts_by_default():
    pod = synth_app(minimal).get("Deployment", "fraud")["spec"]["template"]["spec"]
    assert [c["topologyKey"] for c in pod["topologySpreadConstraints"]] == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]


def _error(build) -> str:
    with pytest.raises(MlkubeError) as caught:
        synth_app(build)
    return str(caught.value)


def test_fails_when_min_replicas_above_max():
    message = _error(lambda app: InferenceService(app, "s", image=MINIMAL_IMAGE, autoscaling={"min_replicas": 5, "max_replicas": 3}))
    assert "test/app/s: autoscaling: 'min_replicas' (5) must be less than or equal to 'max_replicas' (3)" in message


def test_fails_when_gpu_count_and_mig_profile_are_both_set():
    message = _error(lambda app: InferenceService(app, "s", image=MINIMAL_IMAGE, resources={"gpu": {"count": 2, "mig_profile": "1g.10gb"}}))
    assert "resources.gpu: set either 'count' (2) or 'mig_profile' ('1g.10gb'), not both" in message


def test_fails_when_shm_size_is_above_the_memory_limit():
    message = _error(lambda app: InferenceService(app, "s", image=MINIMAL_IMAGE, resources={"memory": "4Gi", "shm_size": "8Gi"}))
    assert "resources: shm_size (8Gi) is above the memory limit (4Gi)" in message


def test_fails_when_name_is_not_dns_1123():
    message = _error(lambda app: InferenceService(app, "s", image=MINIMAL_IMAGE, name="Fraud_Scorer"))
    assert "test/app/s: name: String should match pattern" in message and "'Fraud_Scorer'" in message


def test_fails_when_construct_id_is_not_a_dns_label_and_no_name_is_given():
    message = _error(lambda app: InferenceService(app, "Fraud", image=MINIMAL_IMAGE))
    assert "Deployment name 'Fraud' is not a DNS-1123 label" in message


def test_fails_when_a_field_is_unknown_with_a_suggestion():
    message = _error(lambda app: InferenceService(app, "s", image=MINIMAL_IMAGE, resources={"gpus": 1}))
    assert "test/app/s: resources.gpus: unknown field 'gpus'" in message
    assert "did you mean 'gpu'?" in message


def test_fails_when_the_image_has_no_tag():
    message = _error(lambda app: InferenceService(app, "s", image="ghcr.io/acme/fraud"))
    assert "names no tag or digest" in message


def test_fails_when_gpu_count_is_fractional():
    message = _error(lambda app: InferenceService(app, "s", image=MINIMAL_IMAGE, resources={"gpu": {"count": 0.5}}))
    assert "resources.gpu.count: Input should be a valid integer" in message


def test_all_errors_are_reported_together():
    def broken(app):
        InferenceService(app, "a", image=MINIMAL_IMAGE, autoscaling={"min_replicas": 9, "max_replicas": 1})
        InferenceService(app, "b", image=MINIMAL_IMAGE, port=80)
    message = _error(broken)
    assert "(2 problems)" in message and "test/app/a" in message and "test/app/b: port" in message


def test_secret_env_carries_its_reason_as_a_policy_waiver():
    deployment = synth_app(all_options).get("Deployment", "llm-server")
    annotations = deployment["metadata"]["annotations"]
    assert annotations["mlkube.dev/waive.MLK-SEC-006"] == "secrets as env vars (API_KEY: the vendor SDK reads only API_KEY)"
    assert any(value.startswith("CKV_K8S_35=") for key, value in annotations.items() if key.startswith("checkov.io/skip"))


def test_fails_when_secret_env_has_no_reason():
    message = _error(lambda app: InferenceService(app, "s", image=MINIMAL_IMAGE, secret_env=[{"env": "A", "secret": "b", "key": "c"}]))
    assert "test/app/s: secret_env[0].reason: Field required" in message


def test_waivers_are_written_into_the_objects_with_their_reason():
    from mlkube.policy import Waiver
    objects = synth_app(lambda app: InferenceService(app, "s", image=MINIMAL_IMAGE,
                                                     waivers=[Waiver(rule="MLK-IMG-001", reason="a vendor image republished by tag only")]))
    assert objects.get("Deployment", "s")["metadata"]["annotations"]["mlkube.dev/waive.MLK-IMG-001"] == "a vendor image republished by tag only"


def test_fails_when_a_waiver_has_no_reason():
    message = _error(lambda app: InferenceService(app, "s", image=MINIMAL_IMAGE, waivers=[{"rule": "MLK-IMG-001", "reason": " "}]))
    assert "test/app/s: waivers[0].reason: a waiver needs a reason" in message
